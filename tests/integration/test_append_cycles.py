"""An append leaves no reference cycle behind (docs/PERFORMANCE.md "cycles47").

The rules' state of a batch, its records and the map's heads, and a request's copy of
the ledger (`Ledger.reading`, one per request), are freed when their last reference
goes. Held in a cycle, they waited for the cyclic collector instead, and its passes
walked them meanwhile: a batch of 1,000 left ~5,000 such objects a request (the map
keeper held its own bound method, the appender the ledger copy's)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ledger.entry import SignedEvent
from tests.factories import GTIN
from tests.integration.world import LedgerWorld
from tests.rules_factories import NOW

#: the types an append makes once a batch or a request, and one a new unit
_OURS = {"State", "MapKeeper", "HeadTracker", "UnitRecord", "Head", "Ledger", "Appender", "Store"}


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """What the collector finds unreachable from here on, kept (``DEBUG_SAVEALL``)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _commissions(world: LedgerWorld, tag: str, count: int) -> list[SignedEvent]:
    events = []
    for i in range(count):
        event = world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": f"{tag}-{i}"}, prev=None
        )
        world.world.accept(event, NOW)
        events.append(event)
    return events


def _cyclic_kinds(garbage: list[object]) -> set[str]:
    gc.collect()
    return {type(obj).__name__ for obj in garbage} & _OURS


def test_a_batch_through_a_request_copy_leaves_no_cycle(
    world: LedgerWorld, saved_garbage: list[object]
) -> None:
    copy = world.ledger.reading()
    receipt = copy.append_batch(_commissions(world, "CYC", 12), NOW)
    assert len(receipt.receipts) == 12
    del copy, receipt
    assert _cyclic_kinds(saved_garbage) == set()


def test_custody_events_leave_no_cycle(world: LedgerWorld, saved_garbage: list[object]) -> None:
    world.ledger.append_batch(_commissions(world, "MOV", 3), NOW)
    moves = [world.world.on_unit("handoff", "acme", f"MOV-{i}", to="ship-co") for i in range(3)]
    for event in moves:
        world.world.accept(event, NOW)
    world.ledger.reading().append_batch(moves, NOW)
    assert _cyclic_kinds(saved_garbage) == set()
