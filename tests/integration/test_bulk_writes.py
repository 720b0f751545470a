"""ledger.store.writer's bulk writes (PostgreSQL: COPY for entries, ``unnest`` arrays for
projection upserts; SQLite: executemany): a batch stores exactly the leaves and records
the rules made, and a failing bulk write is a StorageError that leaves nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger.entry import Leaf
from ledger.errors import StorageError
from ledger.rules.state import UnitRecord
from ledger.store.leafpack import pack
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


def test_leaves_made_before_the_lock_land_at_their_events_indices(world: LedgerWorld) -> None:
    """The append makes each event's leaf and its packed form before the lock
    (`append._leaves`, by position in the batch): with events already in the log and
    repeats in the batch between the new ones, each index holds its own event's leaf,
    stored as `pack` of it, and the receipts carry those leaves' hashes."""
    old = world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": "MADE-0"}, prev=None)
    world.append(old)
    new = [
        world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": f"MADE-{i}"}, prev=None
        )
        for i in (1, 2, 3)
    ]
    batch = [old, new[0], new[1], new[0], old, new[2]]
    receipt = world.ledger.append_batch(batch, NOW)
    assert [r.duplicate for r in receipt.receipts] == [True, False, False, True, True, False]
    landed = [r for r in receipt.receipts if not r.duplicate]
    assert [r.index for r in landed] == [landed[0].index + i for i in range(3)]
    with world.ledger.store.engines.reader.connect() as conn:
        stored = dict(
            conn.execute(
                text("SELECT idx, leaf FROM entries WHERE log = :log AND idx >= :first"),
                {"log": world.ledger.log, "first": landed[0].index},
            ).all()
        )
    for event, got in zip(new, landed, strict=True):
        leaf = Leaf.build(event, NOW)
        assert world.ledger.entry(got.index).leaf == leaf.data
        assert bytes(stored[got.index]) == pack(leaf.data)
        assert (got.leaf_hash, got.event_hash) == (leaf.hash, event.hash)


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


def test_upserted_records_come_back_as_they_were(world: LedgerWorld) -> None:
    """Every record type through the bulk upsert (PostgreSQL: binary arrays cut by
    ``unnest``) and read back: NULL-only columns, large indices, non-ASCII text, joined
    tuples, booleans and an empty string stay what they were."""
    from ledger.rules.state import (
        ActorRecord,
        AuthorizationRecord,
        KeyRecord,
        ProductRecord,
    )

    big = 2**62 + 7
    records = [
        ActorRecord("bulk-a", "brand", "Bulk \u00e9 \u4e2d", ("950600", "950601"), big),
        ActorRecord("bulk-b", "retailer", "", (), 3, revoked_index=big, revoked_since="t"),
        KeyRecord("bulk-k1", "bulk-a", "p" * 43, big, scope=("mint", "flag")),
        KeyRecord("bulk-k2", "bulk-a", "q" * 43, 4, removed_index=5, effective="e"),
        AuthorizationRecord("bulk-z", "bulk-a", "bulk-b", "retailer", (GTIN,), (), "a", "b", 6),
        ProductRecord("09506000999990", "bulk-a", "\u540d", big, name_zh="\u540d", image=""),
    ] + [
        UnitRecord(
            GTIN,
            f"BULKU-{i}",
            "bulk-a",
            "h" * 43,
            big - i,
            i + 1,
            big,
            None,
            sold=bool(i % 2),
            claimed=i == 2,
            flags=i,
            holders=("bulk-a", "bulk-b")[: i % 3],
            lot="L\u00e9" if i else None,
            sales=2**31 - 1 if i == 3 else 0,
        )
        for i in range(5)
    ]
    with world.ledger.store.writer(world.ledger.log) as tx:
        tx.lock_head()
        tx.upsert(records)
        loaded = tx.load_records(
            {
                ActorRecord: ["bulk-a", "bulk-b"],
                KeyRecord: ["bulk-k1", "bulk-k2"],
                AuthorizationRecord: ["bulk-z"],
                ProductRecord: ["09506000999990"],
                UnitRecord: [(GTIN, f"BULKU-{i}") for i in range(5)],
            }
        )
        tx.conn.rollback()
    units = {r.key: r for r in loaded if isinstance(r, UnitRecord)}
    for record in records:
        if isinstance(record, UnitRecord):  # its head is read from its entry: not stored
            got = units[record.key]
            assert {**vars(got), "head": record.head} == vars(record)
        else:
            assert record in loaded
