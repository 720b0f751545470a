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
