"""Migration 0027_storage_v2: leaves are stored in the second packed form (their key id,
previous hash and signature raw; ledger.store.leafpack) and ``ix_units_container``
indexes only the units in a container. The downgrade repacks every leaf in the first
form and restores the full index; entries, proofs, a container's units and the audit
are the same on both revisions, and a damaged row is left as it was both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger import entry
from ledger.entry import ZERO_HASH
from ledger.rules.state import UnitRecord
from ledger.service.audit import audit_log
from ledger.store import Store, queries, repository
from ledger.store.leafpack import PACKED_V1, PACKED_V2
from tests.factories import GTIN
from tests.integration import old_revision
from tests.integration.world import LedgerWorld
from tests.rules_factories import NOW

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
SSCC = "095060000000000015"


def _stored(store: Store, log: int) -> list[bytes]:
    with store.engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT leaf FROM entries WHERE log = :log ORDER BY idx"), {"log": log}
        ).all()
    return [bytes(r.leaf) for r in rows]


def _container_index(store: Store) -> str:
    """The definition of ``ix_units_container`` as the database states it."""
    with store.engines.reader.connect() as conn:
        if store.engines.is_sqlite:
            query = "SELECT sql FROM sqlite_master WHERE name = 'ix_units_container'"
        else:
            query = (
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname = 'ix_units_container'"
            )
        return str(conn.exec_driver_sql(query).scalar_one())


def _commission(world: LedgerWorld, serial: str) -> None:
    event = world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None)
    world.append(event)


def _in_container(store: Store, log: int) -> list[str]:
    units = Store(store.engines).records_in(log, UnitRecord, "container", [SSCC])
    return sorted(u.serial for u in units if isinstance(u, UnitRecord))


def test_0027_storage_v2_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    store, log = ledger.store, ledger.log
    _commission(world, "V2-1")
    _commission(world, "V2-2")
    world.append(world.world.on_unit("handoff", "acme", serial="V2-1", to="ship-co"))
    world.append(world.world.on_unit("pack", "acme", serial="V2-2", container=SSCC))
    size = ledger.head().size
    before = ledger.entries(0, size)
    proofs = [ledger.inclusion_proof(i, size) for i in range(size)]
    new = _stored(store, log)
    assert all(s[0] == PACKED_V2 for s in new)
    assert "IS NOT NULL" in _container_index(store).upper()
    assert _in_container(store, log) == ["V2-2"]

    # a damaged row (cut short) is left as it is by both steps
    damaged = new[-1][: len(new[-1]) // 2]
    with store.engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE entries SET leaf = :v WHERE log = :log AND idx = :i"),
            {"v": damaged, "log": log, "i": size - 1},
        )

    old_revision.downgrade(store.engines, "0026_map_nodes_no_fk")
    old = _stored(store, log)
    assert all(s[0] == PACKED_V1 for s in old[:-1]) and old[-1] == damaged
    assert sum(map(len, old[:-1])) > sum(map(len, new[:-1])) + 25 * (size - 1)
    assert "NOT NULL" not in _container_index(store).upper()
    assert Store(store.engines).entries(log, 0, size - 1) == before[:-1]
    assert _in_container(store, log) == ["V2-2"]

    old_revision.upgrade(store.engines)
    assert _stored(store, log) == [*new[:-1], damaged]  # the same bytes as written new
    assert "IS NOT NULL" in _container_index(store).upper()
    assert _in_container(store, log) == ["V2-2"]
    with store.engines.writer.begin() as conn:  # repaired: the audit passes again
        conn.execute(
            text("UPDATE entries SET leaf = :v WHERE log = :log AND idx = :i"),
            {"v": new[-1], "log": log, "i": size - 1},
        )
    fresh = Store(store.engines)
    assert fresh.entries(log, 0, size) == before
    assert [fresh.inclusion_proof(log, i, size) for i in range(size)] == proofs
    assert audit_log(fresh, log, ledger.verifier_key).ok


def _chains(store: Store, log: int) -> list[bytes]:
    with store.engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT chain FROM entries WHERE log = :log ORDER BY idx"), {"log": log}
        ).all()
    return [bytes(r.chain) for r in rows]


def test_chains_are_kept_sparsely_and_read_back(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every 4th chain (CHAIN_EVERY, made small here) and each append's last one are
    stored; every other row's is empty and reads as None; `chain_at` gives every chain;
    the audit still finds a wrong stored chain. The downgrade stores them all again."""
    monkeypatch.setattr(queries, "CHAIN_EVERY", 4)
    monkeypatch.setattr(repository, "CHAIN_EVERY", 4)
    ledger = world.ledger
    store, log = ledger.store, ledger.log
    first = ledger.head().size
    events = [
        world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"CH-{i}"}, prev=None)
        for i in range(11)
    ]
    ledger.append_batch(events, NOW)
    size = ledger.head().size
    assert size == first + 11
    expected, chain = [], ZERO_HASH
    for stored in ledger.entries(0, size):
        chain = entry.chain_hash(chain, stored.leaf_hash)
        expected.append(chain)
    kept = {i for i in range(first, size) if i % 4 == 3 or i == size - 1}
    chains = _chains(store, log)
    assert {i for i in range(first, size) if chains[i]} == kept
    assert all(chains[i] == expected[i] for i in kept)
    read = ledger.entries(first, size)
    assert [e.chain for e in read] == [
        expected[i] if i in kept else None for i in range(first, size)
    ]
    assert [store.chain_at(log, i) for i in range(size)] == expected
    assert audit_log(store, log, ledger.verifier_key).ok

    old_revision.downgrade(store.engines, "0026_map_nodes_no_fk")
    assert _chains(store, log) == expected  # every chain stored again
    assert audit_log(Store(store.engines), log, ledger.verifier_key).ok

    old_revision.upgrade(
        store.engines
    )  # thinned: kept are every 4th, each checkpoint's and the head's
    with store.engines.reader.connect() as conn:
        sizes = {
            r.size
            for r in conn.execute(
                text("SELECT size FROM checkpoints WHERE log = :log"), {"log": log}
            )
        }
    chains = _chains(store, log)
    assert [i for i in range(size) if chains[i]] == [
        i for i in range(size) if i % 4 == 3 or i + 1 in sizes
    ]
    assert all(not c or c == expected[i] for i, c in enumerate(chains))
    fresh = Store(store.engines)
    assert [fresh.chain_at(log, i) for i in range(size)] == expected

    wrong = next(i for i in range(first, size) if not chains[i])  # a stored wrong chain
    with store.engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE entries SET chain = :c WHERE log = :log AND idx = :i"),
            {"c": bytes(32), "log": log, "i": wrong},
        )
    report = audit_log(fresh, log, ledger.verifier_key)
    assert [f.code for f in report.findings] == ["chain"] and report.first_bad_index == wrong
