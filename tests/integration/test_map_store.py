"""The stored map of heads on both databases (ledger.store.mapnodes).

Batches of new keys and of new heads for stored keys, written by `write_nodes` (on
PostgreSQL one ``unnest`` upsert per kind of row) and read back by `read_nodes` (on
PostgreSQL one ``ANY`` query), leave exactly the rows of the same map kept in a dict:
internal nodes, leaves, leaves turned into nodes, leaves given a new head. The root is
the in-memory Trie's and every key's proof served by the store verifies to its head.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from ledger.map import proof, update
from ledger.map.trie import Head, Trie
from ledger.store.mapnodes import read_nodes, write_nodes
from ledger.store.repository import Store


def _keys(tag: str, count: int) -> list[bytes]:
    return [hashlib.sha256(f"{tag} {i}".encode()).digest() for i in range(count)]


def test_written_batches_read_back_as_the_same_map(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        log = store.ensure_log(f"m-{uuid.uuid4().hex[:10]}", "test.example/map").id
        is_sqlite = db_url.startswith("sqlite")
        rows: dict[bytes, update.Stored] = {}
        trie = Trie()
        first = _keys("a", 400)
        batches = [
            {k: Head(i, k) for i, k in enumerate(first)},
            {k: Head(1000 + i, k) for i, k in enumerate(_keys("b", 400))},
            {k: Head(2000 + i, hashlib.sha256(k).digest()) for i, k in enumerate(first[::3])},
            {_keys("c", 1)[0]: Head(3000, bytes(32))},
        ]
        for changes in batches:
            with store.engines.writer.begin() as conn:
                result = update.update(lambda ps: read_nodes(conn, log, ps), changes)
                write_nodes(conn, log, result, is_sqlite)
            rows.update(result.rows)
            for key, head in changes.items():
                trie.set(key, head)
            assert result.root == trie.root()
        with store.engines.writer.begin() as conn:
            assert read_nodes(conn, log, [*rows, update.position(bytes(32), 200)]) == rows
        for key in first[:50] + _keys("absent", 10):
            assert proof.verify(trie.root(), key, store.map_proof(log, key)) == trie.get(key)
    finally:
        store.close()


def test_a_row_said_to_be_new_that_is_stored_fails_the_write(postgres_url: str) -> None:
    """PostgreSQL plainly inserts the rows an update says held no node (the positions
    not in `MapUpdate.existing`): one that is stored fails the write, it is not lost."""
    store = Store.open(postgres_url)
    try:
        log = store.ensure_log(f"m-{uuid.uuid4().hex[:10]}", "test.example/map").id
        result = update.update(lambda _ps: {}, {k: Head(i, k) for i, k in enumerate(_keys("d", 9))})
        with store.engines.writer.begin() as conn:
            write_nodes(conn, log, result, False)
        with store.engines.writer.begin() as conn:
            moved = update.update(
                lambda ps: read_nodes(conn, log, ps), {_keys("d", 1)[0]: Head(9, bytes(32))}
            )
        assert moved.existing
        with pytest.raises(IntegrityError), store.engines.writer.begin() as conn:
            write_nodes(conn, log, dataclasses.replace(moved, existing=frozenset()), False)
        with store.engines.writer.begin() as conn:
            assert read_nodes(conn, log, result.rows) == result.rows
    finally:
        store.close()
