"""Migration 0017_storage: leaves are stored packed (ledger.store.leafpack). New rows are
written packed; the downgrade stores every leaf raw again, a log holding both forms
reads and audits as one, and the upgrade packs the raw rows in place. Entries, proofs,
receipts and the audit do not change across either step."""

from __future__ import annotations

from sqlalchemy import text

from ledger import merkle
from ledger.service.audit import audit_log
from ledger.store import Store
from ledger.store.leafpack import PACKED_V1, PACKED_V2
from tests.factories import GTIN
from tests.integration import old_revision
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
#: the tag bytes of a packed value (0017 packs with the current code: the second form)
PACKED = (PACKED_V1, PACKED_V2)


def _stored(store: Store, log: int) -> list[bytes]:
    with store.engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT leaf FROM entries WHERE log = :log ORDER BY idx"), {"log": log}
        ).all()
    return [bytes(r.leaf) for r in rows]


def _fill_factors(store: Store) -> dict[str, list[str] | None]:
    """PostgreSQL: the storage options of the two right-growing primary keys."""
    with store.engines.reader.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, reloptions FROM pg_class WHERE oid IN "
                "(to_regclass('entries_pkey'), to_regclass('nodes_pkey'))"
            )
        ).all()
    return {r.relname: r.reloptions for r in rows}


def _low_nodes(store: Store, log: int) -> dict[tuple[int, int], bytes]:
    """Stored Merkle nodes of levels 1 and 2, by (level, idx)."""
    with store.engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT level, idx, hash FROM nodes WHERE log = :log AND level < 3"),
            {"log": log},
        ).all()
    return {(r.level, r.idx): bytes(r.hash) for r in rows}


def _commission(world: LedgerWorld, serial: str) -> bytes:
    event = world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None)
    world.append(event)
    return event.hash


def test_0017_storage_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    first = _commission(world, "PACK-1")
    size = ledger.head().size
    before = ledger.entries(0, size)
    proofs = [ledger.inclusion_proof(i, size) for i in range(size)]
    stored = _stored(ledger.store, ledger.log)
    assert all(s[0] == PACKED_V2 for s in stored)  # written packed
    assert _low_nodes(ledger.store, ledger.log) == {}  # nor levels 1 and 2 written
    assert sum(map(len, stored)) < 0.75 * sum(len(e.leaf) for e in before)
    postgres = ledger.store.engines.writer.dialect.name == "postgresql"
    packed = {"entries_pkey": ["fillfactor=100"], "nodes_pkey": ["fillfactor=100"]}
    if postgres:
        assert _fill_factors(ledger.store) == packed

    old_revision.downgrade(ledger.store.engines, "0022_product_data")
    assert _stored(ledger.store, ledger.log) == [e.leaf for e in before]  # raw again
    leaves = [e.leaf_hash for e in before]
    assert size >= 8
    assert (
        _low_nodes(ledger.store, ledger.log)
        == {  # levels 1 and 2 computed back
            (level, i): merkle.root(leaves[i << level : (i + 1) << level])
            for level in (1, 2)
            for i in range(size >> level)
        }
    )
    if postgres:
        assert _fill_factors(ledger.store) == {"entries_pkey": None, "nodes_pkey": None}
    second = _commission(world, "PACK-2")  # the code writes packed on any revision
    mixed = _stored(ledger.store, ledger.log)
    assert mixed[-1][0] == PACKED_V2 and all(s[:1] == b"{" for s in mixed[:-1])
    assert Store(ledger.store.engines).entries(ledger.log, 0, size) == before
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok

    old_revision.upgrade(ledger.store.engines)  # packs the raw rows in place
    assert all(s[0] == PACKED_V2 for s in _stored(ledger.store, ledger.log))
    assert _low_nodes(ledger.store, ledger.log) == {}  # computed from the leaves instead
    if postgres:
        assert _fill_factors(ledger.store) == packed
    fresh = Store(ledger.store.engines)  # no cached hashes: everything read again
    assert fresh.entries(ledger.log, 0, size) == before
    for i in range(size):
        assert fresh.inclusion_proof(ledger.log, i, size) == proofs[i]
        assert proofs[i] == merkle.inclusion_proof(leaves, i, size)
    found = fresh.find_event_hashes(ledger.log, [first, second])
    assert found[first] == (size - 1, leaves[-1])
    assert found[second][0] == size
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok


def test_a_damaged_packed_leaf_fails_the_audit_at_its_index(world: LedgerWorld) -> None:
    ledger = world.ledger
    _commission(world, "PACK-3")
    index = ledger.head().size - 1
    stored = _stored(ledger.store, ledger.log)[index]
    assert stored[0] in PACKED
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE entries SET leaf = :v WHERE log = :log AND idx = :i"),
            {"v": stored[: len(stored) // 2], "log": ledger.log, "i": index},
        )
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert not report.ok
    assert report.first_bad_index == index
