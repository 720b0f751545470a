"""Migration 0005_perf: an existing database (entries with key_id and received columns)
upgrades in place, keeps every entry readable and auditable, and downgrades back with
both columns restored from the leaf bytes."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from ledger.entry import Leaf
from ledger.service.audit import audit_log
from ledger.store import Store
from ledger.store.database import _alembic_config, migrate
from tests.factories import GTIN
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


def _columns(store: Store) -> set[str]:
    with store.engines.reader.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("entries")}


def test_0005_perf_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    world.append(
        world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": "MIG-1"}, prev=None)
    )
    size = ledger.head().size
    before = ledger.entries(0, size)
    assert {"key_id", "received"}.isdisjoint(_columns(ledger.store))
    with ledger.store.engines.writer.begin() as conn:  # back to the 0003 shape
        command.downgrade(_alembic_config(conn), "0004_signals")
    assert {"key_id", "received"} <= _columns(ledger.store)
    with ledger.store.engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT idx, leaf, key_id, received FROM entries WHERE log = :log ORDER BY idx"),
            {"log": ledger.log},
        ).all()
    assert len(rows) == size
    for row in rows:  # the restored columns say what the leaf says
        leaf = Leaf.from_bytes(bytes(row.leaf))
        assert (row.key_id, row.received) == (leaf.signed.key, leaf.received)
    migrate(ledger.store.engines)  # an existing 0003 database upgrades in place
    assert {"key_id", "received"}.isdisjoint(_columns(ledger.store))
    after = ledger.entries(0, size)
    assert after == before
    for stored in after:
        leaf = Leaf.from_bytes(stored.leaf)
        assert (stored.key_id, stored.received) == (leaf.signed.key, leaf.received)
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok
