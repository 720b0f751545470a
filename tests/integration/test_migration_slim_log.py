"""Migration 0025_slim_log: the duplicate lookup probes an 8-byte prefix of the event
hash (ix_entries_event_key) and the unit index drops its trailing idx. Entries, a unit's
history, the duplicate lookup, proofs and the audit are the same on both revisions; a
hash sharing a stored hash's prefix is never taken for it."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.service.audit import audit_log
from ledger.store import Store
from ledger.store.queries import find_event_hashes
from tests.factories import GTIN
from tests.integration import old_revision
from tests.integration.test_proof_tree import _leaf, event_hash_of
from tests.integration.world import LedgerWorld
from tests.profiles import examples

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


def _indexes(store: Store) -> dict[str, str]:
    """{index name: its definition as the database states it} of ``entries``."""
    with store.engines.reader.connect() as conn:
        if store.engines.is_sqlite:
            query = (
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'"
            )
        else:
            query = (
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = 'entries'"
            )
        rows = conn.exec_driver_sql(query).all()
    return {str(name): str(sql) for name, sql in rows if sql is not None}


def _commission(world: LedgerWorld, serial: str) -> bytes:
    event = world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None)
    world.append(event)
    return event.hash


def _seen(store: Store, log: int, size: int, hashes: list[bytes]) -> Any:
    """What the readers give on this revision: the first ``size`` entries and their
    proofs at ``size``, a unit's history, the duplicate lookup."""
    return (
        store.entries(log, 0, size),
        [store.inclusion_proof(log, i, size) for i in range(size)],
        store.unit_entries(log, GTIN, "SLIM-1"),
        store.find_event_hashes(log, hashes),
    )


def test_0025_slim_log_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    store, log = ledger.store, ledger.log
    hashes = [_commission(world, "SLIM-1"), _commission(world, "SLIM-2")]
    handoff = world.world.on_unit("handoff", "acme", serial="SLIM-1", to="ship-co")
    world.append(handoff)
    hashes.append(world.world.on_unit("receive", "ship-co", serial="SLIM-1").hash)
    asked = [*hashes, bytes(32)]
    size = ledger.head().size
    before = _seen(store, log, size, asked)
    assert set(before[3]) == {hashes[0], hashes[1]}  # the receive was never appended
    assert [e.event_hash for e in before[2]] == [hashes[0], handoff.hash]  # in idx order
    indexes = _indexes(store)
    assert "ix_entries_event_hash" not in indexes
    # SQLite's key (the stored 8 bytes since 0031_from_leaves); PostgreSQL's is a
    # 4-byte integer since 0030_event_key4
    assert ("(log, (event_key))" if store.engines.is_sqlite else "get_byte(event_key, 0)") in (
        indexes["ix_entries_event_key"]
    )
    assert "UNIQUE" not in indexes["ix_entries_event_key"].upper()
    assert "serial, idx" not in indexes["ix_entries_unit"]

    old_revision.downgrade(store.engines, "0023_scanstats")
    indexes = _indexes(store)
    assert "ix_entries_event_key" not in indexes
    assert "UNIQUE" in indexes["ix_entries_event_hash"].upper()
    assert "serial, idx" in indexes["ix_entries_unit"]
    fresh = Store(store.engines)
    assert audit_log(fresh, log, ledger.verifier_key).ok
    assert _seen(fresh, log, size, asked) == before
    later = _commission(world, "SLIM-3")  # the code appends on the old revision too

    old_revision.upgrade(store.engines)
    assert "ix_entries_event_key" in _indexes(store)
    fresh = Store(store.engines)
    assert _seen(fresh, log, size, asked) == before
    assert fresh.find_event_hashes(log, [later])[later][0] == fresh.head(log).size - 1
    assert audit_log(fresh, log, ledger.verifier_key).ok


def test_a_hash_sharing_a_stored_prefix_is_told_apart(world: LedgerWorld) -> None:
    """The index finds rows by 8 bytes, all the row keeps (0031_from_leaves): the lookup
    confirms each with the hash of its leaf's event, so a key is never an identity."""
    ledger = world.ledger
    stored = _commission(world, "SLIM-4")
    index = ledger.head().size - 1
    twin = stored[:8] + bytes(b ^ 0xFF for b in stored[8:])  # same prefix, not stored
    with ledger.store.engines.writer.connect() as conn:
        found = find_event_hashes(conn, ledger.log, [twin])
        assert found == {}
        found = find_event_hashes(conn, ledger.log, [twin, stored])
        assert set(found) == {stored} and found[stored][0] == index
        # a row written by hand (rolled back) under the same key holding another event:
        # neither twin nor stored is taken for it
        row = conn.execute(
            text("SELECT * FROM entries WHERE log = :log AND idx = :idx"),
            {"log": ledger.log, "idx": index - 1},
        ).one()
        conn.execute(
            text(
                "INSERT INTO entries (log, idx, leaf, chain, event_key, kind, gtin, serial, "
                "signer) VALUES (:log, :idx, :leaf, :chain, :key, :kind, :gtin, :serial, "
                ":signer)"
            ),
            {**row._asdict(), "idx": index + 1000, "key": stored[:8]},
        )
        found = find_event_hashes(conn, ledger.log, [stored, twin])
        assert {h: i for h, (i, _) in found.items()} == {stored: index}
        assert find_event_hashes(conn, ledger.log, [stored[:8] + bytes(24)]) == {}
        conn.rollback()
    assert ledger.store.find_event_hashes(ledger.log, [twin]) == {}
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok


def test_the_lookup_finds_exactly_the_stored_hashes_asked_for(world: LedgerWorld) -> None:
    """Property: whatever rows are stored (events repeated, keys right or wrong) and
    whatever hashes asked (stored, or sharing a stored key), the lookup answers exactly
    the asked hashes that the leaf of a row found by an asked key holds, each with the
    first such row: a key finds rows, only a leaf's event hash answers."""
    ledger = world.ledger
    base = ledger.head().size + 1000  # rows written past the head, rolled back each time
    pool = range(4)  # synthetic events (format 1): a leaf's envelope, its event hash
    hashes = [event_hash_of(i) for i in pool]
    keys = st.sampled_from([*(h[:8] for h in hashes), bytes(8)])
    rows = st.lists(st.tuples(st.sampled_from(pool), keys), max_size=12)
    twins = st.builds(
        bytes.__add__, st.sampled_from([h[:8] for h in hashes]), st.binary(min_size=24, max_size=24)
    )
    asked_hashes = st.lists(st.one_of(st.sampled_from(hashes), twins), max_size=12)

    @settings(
        max_examples=examples(60),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(rows, asked_hashes)
    def run(stored: list[tuple[int, bytes]], asked: list[bytes]) -> None:
        with ledger.store.engines.writer.connect() as conn:
            for offset, (event, key) in enumerate(stored):
                conn.execute(
                    text(
                        "INSERT INTO entries (log, idx, leaf, chain, event_key, kind, gtin, "
                        "serial, signer) VALUES (:log, :idx, :leaf, :chain, :key, 'flag', "
                        "NULL, NULL, 'acme')"
                    ),
                    {
                        "log": ledger.log,
                        "idx": base + offset,
                        "leaf": _leaf(event),
                        "chain": bytes(32),
                        "key": key,
                    },
                )
            found = find_event_hashes(conn, ledger.log, asked)
            conn.rollback()
        expected: dict[bytes, int] = {}
        probed = {a[:8] for a in asked}
        for offset, (event, key) in enumerate(stored):
            h = hashes[event]
            if h in asked and key in probed:
                expected.setdefault(h, base + offset)
        assert {h: i for h, (i, _) in found.items()} == expected

    run()
