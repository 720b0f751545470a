"""ledger.store.writer's bulk writes (PostgreSQL: COPY for entries, ``unnest`` arrays for
projection upserts; SQLite: executemany): a batch stores exactly the leaves and records
the rules made, and a failing bulk write is a StorageError that leaves nothing behind."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import text

from ledger.entry import Leaf
from ledger.errors import StorageError
from ledger.rules.state import UnitRecord
from ledger.store.leafpack import pack
from ledger.store.writer import EntryValues, WriteTx
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


def _unit(serial: str, i: int) -> UnitRecord:
    """A unit record with unusual values (NULLs, large indices, non-ASCII, tuples)."""
    big = 2**62 + 7
    return UnitRecord(
        GTIN,
        serial,
        "bulk-a",
        "h" * 43,
        big - i,
        i + 1,
        big,
        None if i % 2 else "ship-co",
        pending="bulk-b" if i == 1 else None,
        sold=bool(i % 2),
        claimed=i == 2,
        recalled=i == 3,
        flags=i,
        holders=("bulk-a", "bulk-b")[: i % 3],
        lot="L\u00e9" if i else None,
        expiry="261231" if i else None,
        sales=2**31 - 1 if i == 3 else 0,
        containers=("000950600000000017", "000950600000000024")[: i % 3],
        container="000950600000000017" if i % 3 else None,
    )


def test_units_found_absent_are_copied_in_and_come_back_as_they_were(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The units `load_records` looked up and did not find are new rows: PostgreSQL
    copies them in (`WriteTx._copy`, no upsert), SQLite upserts them as any; either way
    they read back as written, the units found (or never looked up) are upserted, and a
    unit written twice keeps its last record."""
    copied: list[str] = []
    original = WriteTx._copy

    def spying(self: WriteTx, table: Any, rows: Any) -> None:
        copied.append(f"{table.name}:{len(rows)}")
        original(self, table, rows)

    monkeypatch.setattr(WriteTx, "_copy", spying)
    sqlite = world.ledger.store.engines.is_sqlite
    fresh = [_unit(f"ABS-{i}", i) for i in range(5)]
    with world.ledger.store.writer(world.ledger.log) as tx:
        tx.lock_head()
        assert tx.load_records({UnitRecord: [(GTIN, r.serial) for r in fresh]}) == []
        tx.upsert(fresh)
        # again in the same transaction: inserted now, so upserted (the last one wins)
        again = [dataclasses.replace(fresh[0], flags=99), _unit("NEVER-LOOKED-UP", 4)]
        tx.upsert(again)
        loaded = tx.load_records({UnitRecord: [(GTIN, r.serial) for r in fresh + again]})
        tx.conn.rollback()
    assert copied == ([] if sqlite else ["units:5"])
    expected = {r.key: r for r in fresh + again}
    assert {r.key: {**vars(r), "head": expected[r.key].head} for r in loaded} == {
        k: vars(r) for k, r in expected.items()
    }


def test_a_batch_of_new_and_known_units_stores_what_the_rules_made(world: LedgerWorld) -> None:
    """One batch: commissions (new units, copied in on PostgreSQL), handoffs of units
    stored before (upserted) and a unit commissioned and handed off in the batch."""
    old = [f"MIX-{i}" for i in range(3)]
    for serial in old:
        world.append(
            world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None)
        )
    batch = []
    for i in range(3, 6):
        unit = {"gtin": GTIN, "serial": f"MIX-{i}"}
        batch.append(world.world.sign("commission", "acme", unit=unit, prev=None))
        world.world.accept(batch[-1], NOW)
    for serial in (*old, "MIX-3"):
        batch.append(world.world.on_unit("handoff", "acme", serial, to="ship-co"))
        world.world.accept(batch[-1], NOW)
    world.ledger.append_batch(batch, NOW)
    serials = [f"MIX-{i}" for i in range(6)]
    with world.ledger.store.writer(world.ledger.log) as tx:
        stored = tx.load_records({UnitRecord: [(GTIN, s) for s in serials]})
    assert {r.key: r for r in stored} == {r.key: r for r in map(world.world.unit, serials)}
    assert world.ledger.audit().ok


def test_a_unit_wrongly_taken_for_absent_is_refused_and_writes_nothing(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were a stored unit taken for absent (it cannot be: the write transaction holds
    the log's lock), its copied row would clash with the stored one: the primary key
    refuses it, a StorageError, and the transaction writes nothing (PostgreSQL; SQLite
    upserts every unit)."""
    world.append(
        world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": "TAKEN"}, prev=None)
    )
    before = dump(world.ledger)
    original = WriteTx.load_records

    def forgetting(self: WriteTx, refs: Any) -> list[Any]:
        found = original(self, refs)
        if not self._is_sqlite:
            self._absent_units.add(("unit", GTIN, "TAKEN"))
        return [r for r in found if not (isinstance(r, UnitRecord) and r.serial == "TAKEN")]

    monkeypatch.setattr(WriteTx, "load_records", forgetting)
    commission = world.world.sign(  # another event (its lot) on the same unit
        "commission", "acme", unit={"gtin": GTIN, "serial": "TAKEN"}, prev=None, lot="L2"
    )
    if world.ledger.store.engines.is_sqlite:
        world.ledger.append_batch([commission], NOW)  # upserted over the stored row
        return
    with pytest.raises(StorageError, match="nothing was written"):
        world.ledger.append_batch([commission], NOW)
    assert dump(world.ledger) == before
