"""Migration 0031_from_leaves: ``entries.event_hash`` (32 bytes) becomes ``event_key``,
its first 8 bytes; the whole event hash is read from the leaf. ``units.head`` is
dropped: a unit's head is read from its entry at ``head_index``. The downgrade computes
every whole hash and head from the leaves and the log's origin again. Entries, units,
a unit's history, the duplicate lookup, proofs and the audit read the same on both
revisions; a duplicate is still refused after the round trip, and appends go on."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import inspect, text

from ledger import codec
from ledger.entry import Leaf
from ledger.rules.state import UnitRecord
from ledger.service.audit import audit_log
from ledger.store import Store
from ledger.store.database import _alembic_config, migrate
from tests.factories import GTIN
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
SERIAL = "LEAF-1"


def _seen(store: Store, log: int, size: int, hashes: list[bytes]) -> Any:
    """What the readers give: the entries and their proofs at ``size``, a unit's
    history and record, the duplicate lookup, every projection."""
    return (
        store.entries(log, 0, size),
        [store.inclusion_proof(log, i, size) for i in range(size)],
        store.unit_entries(log, GTIN, SERIAL),
        store.records(log, {UnitRecord: [(GTIN, SERIAL), (GTIN, "LEAF-2")]}),
        store.records_in(log, UnitRecord, "custodian", ["ship-co"]),
        store.find_event_hashes(log, hashes),
        store.load_state(log),
    )


def _columns(store: Store, table: str) -> set[str]:
    with store.engines.reader.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def _column(store: Store, log: int, column: str) -> list[bytes]:
    with store.engines.reader.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {column} FROM entries WHERE log = :log ORDER BY idx"),
            {"log": log},
        ).all()
    return [bytes(r[0]) for r in rows]


def test_0031_from_leaves_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    store, log = ledger.store, ledger.log
    unit = {"gtin": GTIN, "serial": SERIAL}
    first = world.world.sign("commission", "acme", unit=unit, prev=None)
    world.append(first)
    second = {"gtin": GTIN, "serial": "LEAF-2"}
    world.append(world.world.sign("commission", "acme", unit=second, prev=None))
    handoff = world.world.on_unit("handoff", "acme", serial=SERIAL, to="ship-co")
    world.append(handoff)
    size = ledger.head().size
    hashes = [first.hash, handoff.hash, bytes(32), first.hash[:8] + bytes(24)]
    before = _seen(store, log, size, hashes)
    assert set(before[5]) == {first.hash, handoff.hash}
    unit_record = before[3][0]
    assert isinstance(unit_record, UnitRecord) and unit_record.serial == SERIAL
    assert unit_record.head == codec.b64url_encode(handoff.hash)  # from the entry's leaf
    assert before[6].units[(GTIN, SERIAL)] == unit_record
    assert before[6] == world.world.state  # every projection, heads included
    assert "head" not in _columns(store, "units")
    assert "event_hash" not in _columns(store, "entries")
    assert [e.event_hash for e in before[2]] == [first.hash, handoff.hash]
    whole = [
        Leaf.from_bytes(e.leaf, ledger.origin).signed.hash for e in store.entries(log, 0, size)
    ]
    assert [e.event_hash for e in before[0]] == whole  # read from the leaves
    assert _column(store, log, "event_key") == [h[:8] for h in whole]
    assert audit_log(store, log, ledger.verifier_key).ok

    with store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0030_event_key4")
    assert _column(store, log, "event_hash") == whole  # each from its leaf and origin
    with store.engines.reader.connect() as conn:
        heads = dict(
            conn.execute(
                text("SELECT serial, head FROM units WHERE log = :log"), {"log": log}
            ).all()
        )
    assert heads == {s: u.head for (_, s), u in world.world.state.units.items()}

    migrate(store.engines)
    fresh = Store(store.engines)
    try:
        assert _column(fresh, log, "event_key") == [h[:8] for h in whole]
        assert _seen(fresh, log, size, hashes) == before
        assert audit_log(fresh, log, ledger.verifier_key).ok
        again = world.append(handoff)  # the same event: the entry it already is
        assert again.receipts[0].duplicate and again.receipts[0].index == size - 1
        receive = world.world.on_unit("receive", "ship-co", serial=SERIAL)
        world.append(receive)
        assert fresh.find_event_hashes(log, [receive.hash])[receive.hash][0] == size
        assert audit_log(fresh, log, ledger.verifier_key).ok
    finally:
        fresh.close()
