"""An append leaves no reference cycle behind, nor does the audit's map replay
(docs/PERFORMANCE.md "cycles47").

The rules' state of a batch, its records and the map's heads, a request's copy of the
ledger (`Ledger.reading`, one per request), and a group's state after a refused event,
are freed when their last reference goes. Held in a cycle, they waited for the cyclic
collector instead, and its passes walked them meanwhile: a batch of 1,000 left ~5,000
such objects a request (the map keeper held its own bound method, the appender the
ledger copy's, a refused event's kept error its frame)."""

from __future__ import annotations

import gc
import hashlib
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import ledger
from ledger.audit.maproot import MapReplay
from ledger.entry import SignedEvent
from ledger.errors import LedgerError
from ledger.rules.state import State
from tests.factories import GTIN
from tests.integration.world import LedgerWorld
from tests.rules_factories import NOW, World

_PACKAGE = str(Path(ledger.__file__).parent)
_NO_HASH = "A" * 43  # a 32-byte hash, base64url: the head of no unit

#: the types an append makes once a batch or a request (one a new unit: records, heads),
#: and the audit's map replay once an audit
_OURS = {
    "State",
    "MapKeeper",
    "HeadTracker",
    "UnitRecord",
    "Head",
    "Ledger",
    "Appender",
    "Store",
    "MapReplay",
    "Trie",
}


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
    """Our types among what the collector alone could free, and the frames of this
    package's code held there (a kept exception's traceback holds them)."""
    gc.collect()
    frames = {
        f"frame {obj.f_code.co_name}"
        for obj in garbage
        if isinstance(obj, types.FrameType) and _PACKAGE in obj.f_code.co_filename
    }
    return ({type(obj).__name__ for obj in garbage} & _OURS) | frames


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


def test_a_refused_event_of_a_group_leaves_no_cycle(
    world: LedgerWorld, saved_garbage: list[object]
) -> None:
    (first,) = _commissions(world, "ONCE", 1)
    world.ledger.append(first, NOW)
    stranger = world.world.sign(  # a unit never commissioned: the rules refuse it
        "handoff", "acme", unit={"gtin": GTIN, "serial": "NEVER-0"}, prev=_NO_HASH, to="ship-co"
    )
    with pytest.raises(LedgerError):
        world.ledger.append(stranger)  # by group commit (an explicit time: alone)
    assert _cyclic_kinds(saved_garbage) == set()


def test_the_audits_map_replay_leaves_no_cycle(saved_garbage: list[object]) -> None:
    world = World.base("cycles.example/log")
    world.commission("SN-2")
    world.unit_do("handoff", "acme", "SN-2", to="ship-co")
    replay, state = MapReplay(), State()
    for index, signed in enumerate(world.log):
        replay.add(index, hashlib.sha256(b"leaf %d" % index).digest(), signed.event, state)
    assert replay.root()
    del replay
    assert _cyclic_kinds(saved_garbage) == set()
