"""Migration 0030_event_key4: on PostgreSQL the event key index is on the first 4 bytes
of the event hash as an integer (ledger.store.schema.EVENT_KEY_PG); the downgrade puts
it back on the 8-byte prefix; SQLite keeps the prefix throughout. Either way the
duplicate lookup finds exactly the stored hashes asked for (a hash sharing a stored
key is told apart by the whole hash, read from the leaf since 0031_from_leaves), and on
PostgreSQL its statement uses the index. Today's code reads the old revision with the
event keys `tests.integration.old_revision` gives it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from ledger.store import Store
from ledger.store.database import _alembic_config, migrate
from ledger.store.queries import find_event_hashes
from ledger.store.schema import EVENT_KEY_PG, event_key_of
from tests.integration.old_revision import FROM_LEAVES
from tests.integration.test_proof_tree import _leaf_hash, _open, _row, event_hash_of, grow

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
SIZE = 300


def _hash(i: int) -> bytes:
    """The event hash of synthetic entry ``i`` (tests.integration.test_proof_tree)."""
    return event_hash_of(i)


def _index(store: Store) -> str:
    with store.engines.reader.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_entries_event_key'"
                    " AND schemaname = current_schema()"
                )
            ).scalar_one()
        )


def _lookups(store: Store, log: int) -> None:
    """The lookup finds stored hashes (and their leaf hashes), and neither a hash never
    stored nor one sharing a stored hash's first 8 bytes."""
    asked = [_hash(0), _hash(150), _hash(SIZE - 1), _hash(SIZE), _hash(7)[:8] + bytes(24)]
    assert store.find_event_hashes(log, asked) == {
        _hash(i): (i, _leaf_hash(i)) for i in (0, 150, SIZE - 1)
    }


def _plan(store: Store, log: int) -> str:
    """PostgreSQL's plan of the lookup's statement for two hashes."""
    hashes = [_hash(3), _hash(4)]
    with store.engines.reader.connect() as conn:
        rows = conn.exec_driver_sql(
            "EXPLAIN SELECT idx, leaf FROM entries WHERE log = %s AND "
            f"{EVENT_KEY_PG} IN (%s, %s) AND event_key IN (%s, %s)",
            (log, *(event_key_of(h, False) for h in hashes), *(h[:8] for h in hashes)),
        ).all()
    return " ".join(str(r[0]) for r in rows)


def test_0030_event_key4_round_trip(db_url: str) -> None:
    store, log = _open(db_url, 0)
    try:
        grow(store, log, SIZE)
        # a row whose hash shares the first 4 bytes (PostgreSQL's key) of entry 9's
        twin = _hash(9)[:4] + bytes(28)
        with store.writer(log) as tx:
            tx.lock_head()
            tx.insert_entries([_row(SIZE + 50)._replace(event_key=twin[:8])])
        with store.engines.reader.connect() as conn:
            assert find_event_hashes(conn, log, [_hash(9)]) == {_hash(9): (9, _leaf_hash(9))}
            # its key is twin's, its leaf's event is not: a key alone is no match
            assert find_event_hashes(conn, log, [twin]) == {}
        with store.engines.writer.begin() as conn:  # the twin was only for the lookup
            conn.execute(
                text("DELETE FROM entries WHERE log = :log AND idx = :i"),
                {"log": log, "i": SIZE + 50},
            )
        _lookups(store, log)
        if not store.engines.is_sqlite:
            assert "get_byte(event_key, 0) << 24" in _index(store)
            with store.engines.writer.begin() as conn:
                conn.exec_driver_sql("ANALYZE entries")
            plan = _plan(store, log)  # an index scan or a bitmap scan of the index
            assert "on ix_entries_event_key" in plan or "using ix_entries_event_key" in plan
            assert "Seq Scan" not in plan
    finally:
        store.close()

    with store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0029_node_runs")
    old = Store(store.engines)
    if not store.engines.is_sqlite:
        assert "substr(event_hash, 1, 8)" in _index(old)
    with store.engines.writer.begin() as conn:
        FROM_LEAVES.cut_hashes(conn)
    _lookups(old, log)  # today's code reads the old revision right (with its keys)
    with store.engines.writer.begin() as conn:
        FROM_LEAVES.restore_hashes(conn)

    migrate(store.engines)
    fresh = Store(store.engines)
    try:
        if not store.engines.is_sqlite:
            assert "get_byte(event_key, 0) << 24" in _index(fresh)
        _lookups(fresh, log)
        grow(fresh, log, 10)
        assert fresh.find_event_hashes(log, [_hash(SIZE + 5)]) == {
            _hash(SIZE + 5): (SIZE + 5, _leaf_hash(SIZE + 5))
        }
    finally:
        fresh.close()
