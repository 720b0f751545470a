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
_COLUMNS = ("log", "pos", "hash", "key", "idx", "entry")


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


_UPSERT = (
    " ON CONFLICT (log, pos) DO UPDATE SET hash = excluded.hash, key = excluded.key,"
    " idx = excluded.idx, entry = excluded.entry"
)


def write_nodes(conn: Connection, log: int, rows: Mapping[bytes, Stored], is_sqlite: bool) -> None:
    """Insert or replace the nodes at the given positions.

    In position order (neighbours in the primary key are written together). SQLite: one
    executemany; PostgreSQL: one statement over arrays (``unnest``), a single round trip
    where executemany sent a statement per row.
    """
    if not rows:
        return
    order = sorted(rows)
    columns: list[list[Any]] = [[], [], [], [], []]
    for pos in order:
        node = rows[pos]
        head = node.head
        columns[0].append(pos)
        columns[1].append(None if node.key is not None else node.hash)
        columns[2].append(node.key)
        columns[3].append(None if head is None else head.index)
        columns[4].append(None if head is None else head.entry_hash)
    names = ", ".join(_COLUMNS)
    if is_sqlite:
        statement = f"INSERT INTO map_nodes ({names}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
        params = [(log, *row) for row in zip(*columns, strict=True)]
        conn.exec_driver_sql(statement + _UPSERT, params)
        return
    statement = (
        f"INSERT INTO map_nodes ({names}) SELECT %s, * FROM unnest("  # noqa: S608
        "%s::bytea[], %s::bytea[], %s::bytea[], %s::bigint[], %s::bytea[])"
    )
    conn.exec_driver_sql(statement + _UPSERT, (log, *columns))
