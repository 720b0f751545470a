"""Migration 0014_slim_entries: an existing database (entries with a leaf_hash column)
upgrades in place, keeps every entry, proof and receipt readable and auditable, and
downgrades back with the column restored from the leaf bytes."""

from __future__ import annotations

import hashlib

from alembic import command
from sqlalchemy import inspect, text

from ledger import merkle
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


def test_0014_slim_entries_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    first = world.world.sign(
        "commission", "acme", unit={"gtin": GTIN, "serial": "SLIM-1"}, prev=None
    )
    world.append(first)
    size = ledger.head().size
    before = ledger.entries(0, size)
    proofs = [ledger.inclusion_proof(i, size) for i in range(size)]
    assert "leaf_hash" not in _columns(ledger.store)
    with ledger.store.engines.writer.begin() as conn:  # back to the 0011 shape
        command.downgrade(_alembic_config(conn), "0011_log_versions")
    assert "leaf_hash" in _columns(ledger.store)
    with ledger.store.engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT idx, leaf, leaf_hash FROM entries WHERE log = :log ORDER BY idx"),
            {"log": ledger.log},
        ).all()
    assert len(rows) == size
    for row in rows:  # the restored column is each leaf's RFC 9162 leaf hash
        assert bytes(row.leaf_hash) == hashlib.sha256(b"\x00" + bytes(row.leaf)).digest()
    migrate(ledger.store.engines)  # an existing 0011 database upgrades in place
    assert "leaf_hash" not in _columns(ledger.store)
    fresh = Store(ledger.store.engines)  # no cached hashes: everything read again
    assert fresh.entries(ledger.log, 0, size) == before
    leaves = [e.leaf_hash for e in before]
    for i in range(size):
        assert fresh.inclusion_proof(ledger.log, i, size) == proofs[i]
        assert proofs[i] == merkle.inclusion_proof(leaves, i, size)
    assert fresh.find_event_hashes(ledger.log, [first.hash]) == {first.hash: (size - 1, leaves[-1])}
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok
