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
    """The stored nodes at ``positions`` (absent positions are left out)."""
    wanted = sorted(set(positions))
    out: dict[bytes, Stored] = {}
    m = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for chunk in chunks(wanted):
        marks = ", ".join(m for _ in chunk)
        rows = conn.exec_driver_sql(
            f"SELECT pos, hash, key, idx, entry FROM map_nodes WHERE log = {m} AND pos IN ({marks})",  # noqa: S608, E501
            (log, *chunk),
        )
        for pos, value, key, idx, entry in rows:
            out[bytes(pos)] = _stored(value, key, idx, entry)
    return out


def _stored(value: Any, key: Any, idx: Any, entry: Any) -> Stored:
    if key is not None:
        return Stored(key=bytes(key), head=Head(int(idx), bytes(entry)))
    return Stored(hash=bytes(value))


def write_nodes(conn: Connection, log: int, rows: Mapping[bytes, Stored], is_sqlite: bool) -> None:
    """Insert or replace the nodes at the given positions."""
    if not rows:
        return
    m = "?" if is_sqlite else "%s"
    statement = (
        f"INSERT INTO map_nodes ({', '.join(_COLUMNS)}) VALUES ({', '.join(m for _ in _COLUMNS)})"  # noqa: S608
        " ON CONFLICT (log, pos) DO UPDATE SET hash = excluded.hash, key = excluded.key,"
        " idx = excluded.idx, entry = excluded.entry"
    )
    params = []
    for pos, node in rows.items():
        head = node.head
        params.append(
            (
                log,
                pos,
                None if node.is_leaf else node.hash,
                node.key,
                None if head is None else head.index,
                None if head is None else head.entry_hash,
            )
        )
    conn.exec_driver_sql(statement, params)
