"""ledger.store.writer's bulk writes (PostgreSQL: COPY for entries, ``unnest`` arrays for
projection upserts; SQLite: executemany): a batch stores exactly the leaves and records
the rules made, and a failing bulk write is a StorageError that leaves nothing behind."""

from __future__ import annotations

import pytest

from ledger.entry import Leaf
from ledger.errors import StorageError
from ledger.rules.state import UnitRecord
from ledger.store.writer import EntryValues
from tests.factories import GTIN
from tests.integration.world import LedgerWorld, dump
from tests.rules_factories import NOW


def test_a_batch_stores_the_rules_records_and_the_exact_leaves(world: LedgerWorld) -> None:
    serials = [f"BULK-{i}" for i in range(7)]
    signed = []
    for serial in serials:  # signed and judged by the in-memory world, in order
        event = world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None
        )
        world.world.accept(event, NOW)
        signed.append(event)
    receipt = world.ledger.append_batch(signed, NOW)
    for event, got in zip(signed, receipt.receipts, strict=True):
        assert world.ledger.entry(got.index).leaf == Leaf.build(event, NOW).data
    with world.ledger.store.writer(world.ledger.log) as tx:
        stored = tx.load_records({UnitRecord: [(GTIN, s) for s in serials]})
    assert sorted(stored, key=lambda r: r.key) == sorted(
        (world.world.unit(s) for s in serials), key=lambda r: r.key
    )
    # a second batch moves every unit: the upsert replaces the rows it inserted
    moves = [world.world.on_unit("handoff", "acme", s, to="ship-co") for s in serials]
    for event in moves:
        world.world.accept(event, NOW)
    world.ledger.append_batch(moves, NOW)
    with world.ledger.store.writer(world.ledger.log) as tx:
        stored = tx.load_records({UnitRecord: [(GTIN, s) for s in serials]})
    assert {r.key: r for r in stored} == {r.key: r for r in map(world.world.unit, serials)}


def test_a_failing_bulk_insert_is_a_storage_error_and_writes_nothing(
    world: LedgerWorld,
) -> None:
    before = dump(world.ledger)
    taken = world.ledger.entry(1)
    clash = EntryValues(1, taken.leaf, taken.chain, taken.event_key, "x", None, None, "t")
    with pytest.raises(StorageError, match="nothing was written"):
        with world.ledger.store.writer(world.ledger.log) as tx:
            tx.lock_head()
            tx.insert_entries([EntryValues(10_000, *clash[1:]), clash])  # index 1 is taken
    assert dump(world.ledger) == before
