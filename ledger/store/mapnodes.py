"""Reading and writing the stored map of heads (table ``map_nodes``, ledger.map.update)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from sqlalchemy import Connection, Table

from ledger.map.trie import Head
from ledger.map.update import Stored
from ledger.store.queries import chunks
from ledger.store.schema import MapNodeRow

MAP_NODES = cast(Table, MapNodeRow.__table__)


def read_nodes(conn: Connection, log: int, positions: Iterable[bytes]) -> dict[bytes, Stored]:
    """The stored nodes at ``positions`` (absent positions are left out).

    PostgreSQL: one query (``pos = ANY(array)``); SQLite: one per `CHUNK` positions
    (its bound parameters are limited, and the reads are in-process anyway).
    """
    wanted = sorted(set(positions))
    out: dict[bytes, Stored] = {}
    if conn.dialect.paramstyle == "qmark":
        parts = [
            (f"IN ({', '.join('?' for _ in chunk)})", (log, *chunk)) for chunk in chunks(wanted)
        ]
        mark = "?"
    else:
        parts = [("= ANY(%s)", (log, wanted))] if wanted else []
        mark = "%s"
    for test, params in parts:
        rows = conn.exec_driver_sql(
            f"SELECT pos, hash, key, idx, entry FROM map_nodes WHERE log = {mark} AND pos {test}",  # noqa: S608
            params,
        )
        for pos, value, key, idx, entry in rows:
            out[bytes(pos)] = _stored(value, key, idx, entry)
    return out


def _stored(value: Any, key: Any, idx: Any, entry: Any) -> Stored:
    if key is not None:
        return Stored(key=bytes(key), head=Head(int(idx), bytes(entry)))
    return Stored(hash=bytes(value))


#: (columns bound, what a conflict sets): internal nodes bind only their hash, leaves
#: only their key and head (fewer parameters per row: the write's main cost on SQLite)
_NODE = ("hash", "hash = excluded.hash, key = NULL, idx = NULL, entry = NULL")
_LEAF = (
    "key, idx, entry",
    "hash = NULL, key = excluded.key, idx = excluded.idx, entry = excluded.entry",
)
_ARRAYS = {"hash": "%s::bytea[]", "key, idx, entry": "%s::bytea[], %s::bigint[], %s::bytea[]"}


def write_nodes(conn: Connection, log: int, rows: Mapping[bytes, Stored], is_sqlite: bool) -> None:
    """Insert or replace the nodes at the given positions.

    In position order (neighbours in the primary key are written together), internal
    nodes and leaves each by one statement. SQLite: executemany; PostgreSQL: one
    statement over arrays (``unnest``), a single round trip where executemany sent a
    statement per row.
    """
    nodes: list[tuple[Any, ...]] = []
    leaves: list[tuple[Any, ...]] = []
    for pos in sorted(rows):
        node = rows[pos]
        head = node.head
        if node.key is not None and head is not None:
            leaves.append((log, pos, node.key, head.index, head.entry_hash))
        else:
            nodes.append((log, pos, node.hash))
    for (columns, sets), params in ((_NODE, nodes), (_LEAF, leaves)):
        if not params:
            continue
        insert = f"INSERT INTO map_nodes (log, pos, {columns})"
        tail = f" ON CONFLICT (log, pos) DO UPDATE SET {sets}"
        if is_sqlite:
            marks = ", ".join("?" for _ in params[0])
            conn.exec_driver_sql(f"{insert} VALUES ({marks}){tail}", params)
        else:
            arrays = f"%s::bytea[], {_ARRAYS[columns]}"
            conn.exec_driver_sql(
                f"{insert} SELECT %s, * FROM unnest({arrays}){tail}",  # noqa: S608
                (log, *(list(c) for c in list(zip(*params, strict=True))[1:])),
            )
