"""The stored map of heads on both databases (ledger.store.mapnodes, table
``map_buckets``).

Batches of new keys and of new heads for stored keys, updated as buckets
(ledger.map.bucketmap), written by `write_buckets` (on PostgreSQL one statement cut from
packed columns) and read back by position by `read_nodes` (on PostgreSQL one ``ANY``
query), leave exactly the nodes of the same map kept one a position by
`ledger.map.update`: internal nodes, leaves, leaves turned into nodes, leaves given a new
head. The root is the in-memory Trie's, and every key's proof served by the store is the
position rows' proof, byte for byte, and verifies to its head. More than 300 rows a
batch (SQLite's statements of 300) and fewer are written.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.map import proof, update
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import decode
from ledger.map.trie import Head, Trie
from ledger.store.mapnodes import read_buckets, read_nodes, write_buckets
from ledger.store.repository import Store
from tests import map_reference


def _keys(tag: str, count: int) -> list[bytes]:
    return [hashlib.sha256(f"{tag} {i}".encode()).digest() for i in range(count)]


def test_written_batches_read_back_as_the_same_map(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        log = store.ensure_log(f"m-{uuid.uuid4().hex[:10]}", "test.example/map").id
        is_sqlite = db_url.startswith("sqlite")
        rows: dict[bytes, update.Stored] = {}
        trie = Trie()
        first = _keys("a", 2000)
        batches = [
            {k: Head(i, k) for i, k in enumerate(first)},
            {k: Head(1000 + i, k) for i, k in enumerate(_keys("b", 400))},
            {k: Head(2000 + i, hashlib.sha256(k).digest()) for i, k in enumerate(first[::3])},
            {_keys("c", 1)[0]: Head(3000, bytes(32))},
        ]
        for changes in batches:
            with store.engines.writer.begin() as conn:
                buckets = BucketMap(lambda ps: read_buckets(conn, log, ps))
                root_row = read_buckets(conn, log, [update.ROOT])
                if root_row:  # a fresh map each batch: every bucket read from the table
                    buckets = BucketMap(buckets.read, decode(root_row[update.ROOT]))
                root = buckets.update(changes)
                write_buckets(conn, log, buckets.rows(), is_sqlite)
            expected = update.update(lambda ps: {p: rows[p] for p in ps if p in rows}, changes)
            rows.update(expected.rows)
            for key, head in changes.items():
                trie.set(key, head)
            assert root == expected.root == trie.root()
        with store.engines.writer.begin() as conn:
            assert read_nodes(conn, log, [*rows, update.position(bytes(32), 200), b""]) == rows
        read = dict(rows)
        for key in first[:50] + _keys("absent", 10):
            served = store.map_proof(log, key)
            assert served == map_reference.prove(
                lambda ps: {p: read[p] for p in ps if p in read}, key
            )
            assert proof.verify(trie.root(), key, served) == trie.get(key)
    finally:
        store.close()


def _stored(conn: Any, log: int) -> dict[bytes, tuple[int, bytes]]:
    """Every bucket row of ``log``: position -> (rowid, row) (SQLite)."""
    found = conn.exec_driver_sql(
        "SELECT pos, rowid, data FROM map_buckets WHERE log = ?", (log,)
    ).fetchall()
    return {bytes(pos): (rowid, bytes(data)) for pos, rowid, data in found}


def _write_batches(
    store: Store, log: int, batches: list[dict[bytes, Head]], rowids: dict[bytes, int],
    spoil: Callable[[int, dict[bytes, int]], None] = lambda _i, _r: None,
    reread: bool = False,
) -> tuple[BucketMap, set[bytes]]:  # fmt: skip
    """Each batch read and written with ``rowids``, as the map's child does (its map kept
    between batches; ``reread``: a fresh one each batch, every bucket it needs read from
    the table); ``spoil(i, rowids)`` runs before batch ``i``'s write. Returns the map
    and the positions of the last batch's rows."""
    written: set[bytes] = set()
    buckets = BucketMap()
    is_sqlite = store.engines.is_sqlite
    for i, changes in enumerate(batches):
        with store.engines.writer.begin() as conn:

            def read(ps: list[bytes], conn: Any = conn) -> dict[bytes, bytes]:
                return read_buckets(conn, log, ps, rowids=rowids)

            if reread:
                root_row = read([update.ROOT]).get(update.ROOT)
                buckets = BucketMap(read, None if root_row is None else decode(root_row))
            buckets.read = read
            buckets.update(changes)
            spoil(i, rowids)
            rows = buckets.rows()
            write_buckets(conn, log, rows, is_sqlite, rowids)
            written = {pos for pos, _ in rows}
    return buckets, written


def test_rows_rewritten_by_rowid_are_the_map_and_the_rowids_learned_are_theirs(
    db_url: str,
) -> None:
    store = Store.open(db_url)
    try:
        log = store.ensure_log(f"r-{uuid.uuid4().hex[:10]}", "test.example/rowid").id
        first = _keys("r", 900)
        batches = [
            {k: Head(i, k) for i, k in enumerate(first[:400])},
            {k: Head(400 + i, k) for i, k in enumerate(first[400:])},  # 300+ rows: upserts
            {k: Head(900 + i, bytes(32)) for i, k in enumerate(first[::2])},  # by rowid
        ]
        rowids: dict[bytes, int] = {}
        buckets, _ = _write_batches(store, log, batches, rowids, reread=True)
        trie = Trie()
        for changes in batches:
            for key, head in changes.items():
                trie.set(key, head)
        assert buckets.root() == trie.root()
        with store.engines.writer.begin() as conn:
            root_row = read_buckets(conn, log, [update.ROOT])[update.ROOT]
            fresh = BucketMap(lambda ps: read_buckets(conn, log, ps), decode(root_row))
            assert fresh.root() == trie.root()
            for key in first[::7] + _keys("absent", 5):
                assert fresh.lookup(key) == trie.get(key)
            if not store.engines.is_sqlite:
                assert rowids == {}  # PostgreSQL: no rowid, the one upsert statement
                return
            stored = _stored(conn, log)
        assert rowids and all(stored[pos][0] == rowid for pos, rowid in rowids.items())
        assert set(rowids) == set(stored)  # every row was written through the dict
    finally:
        store.close()


def test_a_rowid_that_moved_writes_no_other_row(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        log = store.ensure_log("rowid-moved", "test.example/rowid").id
        keys = _keys("m", 600)
        batches = [
            {k: Head(i, k) for i, k in enumerate(keys[:300])},
            {k: Head(300 + i, k) for i, k in enumerate(keys[300:])},
            {k: Head(600 + i, bytes(32)) for i, k in enumerate(keys[::3])},
        ]

        def spoil(i: int, rowids: dict[bytes, int]) -> None:
            if i != 2:
                return
            a, b, c = sorted(rowids)[:3]
            rowids[a], rowids[b] = rowids[b], rowids[a]  # each names the other's row
            rowids[c] = 10**9  # no such row

        rowids: dict[bytes, int] = {}
        buckets, last = _write_batches(store, log, batches, rowids, spoil)
        with store.engines.writer.begin() as conn:
            stored = _stored(conn, log)
        assert {pos: data for pos, (_, data) in stored.items()} == dict(
            _all_rows(buckets)
        )  # every row its own bucket's, none lost, none written twice
        assert all(stored[pos][0] == rowids[pos] for pos in last)  # (relearned)
    finally:
        store.close()


def _all_rows(buckets: BucketMap) -> list[tuple[bytes, bytes]]:
    """Every bucket ``buckets`` holds, as rows (its whole map: kept, never forgotten)."""
    buckets.dirty = set(buckets.buckets)
    return buckets.rows()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 120), min_size=1, max_size=4),
    spoils=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6)), max_size=6),
)
def test_rowids_spoiled_at_random_leave_exactly_the_map(
    tmp_path_factory: pytest.TempPathFactory,
    sizes: list[int],
    spoils: list[tuple[int, int]],
) -> None:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('rowids') / 'ledger.db'}")
    try:
        log = store.ensure_log("rowid-random", "test.example/rowid").id
        keys = _keys("h", sum(sizes))
        batches, start = [], 0
        for n, size in enumerate(sizes):  # new keys, and new heads for a third of the old
            fresh = {k: Head(start + i, k) for i, k in enumerate(keys[start : start + size])}
            again = {k: Head(10**6 + n, bytes(32)) for k in keys[:start:3]}
            batches.append(fresh | again)
            start += size

        def spoil(i: int, rowids: dict[bytes, int]) -> None:
            for at, value in spoils:
                if at == i and rowids:
                    rowids[sorted(rowids)[value % len(rowids)]] = value % 50 + 1

        rowids: dict[bytes, int] = {}
        buckets, last = _write_batches(store, log, batches, rowids, spoil)
        with store.engines.writer.begin() as conn:
            stored = _stored(conn, log)
        assert {pos: data for pos, (_, data) in stored.items()} == dict(_all_rows(buckets))
        # a row written last has its own rowid in the dict (a spoiled one not written
        # since is caught when it is next used)
        assert all(stored[pos][0] == rowids[pos] for pos in last)
    finally:
        store.close()


def test_a_rowid_of_another_logs_row_leaves_that_row_alone(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        logs = [store.ensure_log(f"two-{n}", "test.example/rowid").id for n in (0, 1)]
        keys = _keys("same", 400)  # the same keys: both logs' rows at the same positions
        first = [{k: Head(i, k) for i, k in enumerate(keys)}]
        own: dict[bytes, int] = {}
        other: dict[bytes, int] = {}
        _write_batches(store, logs[0], first, own)
        _write_batches(store, logs[1], first, other)
        with store.engines.writer.begin() as conn:
            before = _stored(conn, logs[1])

        def spoil(i: int, rowids: dict[bytes, int]) -> None:
            if i == 1:  # every row of log 0 named by the rowid of log 1's row there
                rowids.update(other)

        again = [*first, {k: Head(500 + i, bytes(32)) for i, k in enumerate(keys[::2])}]
        buckets, _ = _write_batches(store, logs[0], again, {}, spoil)
        with store.engines.writer.begin() as conn:
            assert _stored(conn, logs[1]) == before  # not one byte of the other log
            mine = _stored(conn, logs[0])
        assert {pos: data for pos, (_, data) in mine.items()} == dict(_all_rows(buckets))
    finally:
        store.close()
