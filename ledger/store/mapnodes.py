"""Reading and writing the stored map of heads (table ``map_nodes``, ledger.map.update)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, cast

from sqlalchemy import Connection, Table

from ledger.map.trie import Head
from ledger.map.update import MapUpdate, Stored
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
_POS = 33  # the longest position (depth 256)
#: PostgreSQL: the rows' columns come as one packed bytea each, cut apart by the server
#: (psycopg adapts a list of bytes element by element, ten times the server's work);
#: positions are padded to 33 bytes, with their lengths one byte each
_CUT = {
    "pos": f"substring(%(pos)s::bytea from i * {_POS} + 1 for get_byte(%(lens)s::bytea, i))",
    "hash": "substring(%(hash)s::bytea from i * 32 + 1 for 32)",
    "key": "substring(%(key)s::bytea from i * 32 + 1 for 32)",
    "idx": "('x' || encode(substring(%(idx)s::bytea from i * 8 + 1 for 8), 'hex'))"
    "::bit(64)::bigint",
    "entry": "substring(%(entry)s::bytea from i * 32 + 1 for 32)",
}


def write_nodes(conn: Connection, log: int, rows: MapUpdate, is_sqlite: bool) -> None:
    """Insert or replace the nodes an update wrote (`MapUpdate.nodes` and ``leaves``).

    In position order (neighbours in the primary key are written together), internal
    nodes and leaves apart. SQLite: many rows per upsert (below). PostgreSQL: one
    statement (one round trip) whose rows the server cuts from packed columns; when the
    update tells which positions held a node (`MapUpdate.existing`), only those rows go
    through the upsert and the others are plainly inserted, as an upsert's speculative
    insertion costs PostgreSQL a look into the index and an extra WAL record per row
    (docs/PERFORMANCE.md, "mapstep, session 22"). A row inserted where one is stored
    fails the write (the primary key) rather than being lost.
    """
    nodes: list[tuple[Any, ...]] = sorted(rows.nodes)
    leaves: list[tuple[Any, ...]] = [
        (pos, key, head.index, head.entry_hash)
        for pos, key, head in sorted(rows.leaves, key=_first)
    ]
    existing = rows.existing
    parts: list[str] = []  # PostgreSQL: the statement's inserts
    values: dict[str, Any] = {"log": log}
    for (columns, sets), params in ((_NODE, nodes), (_LEAF, leaves)):
        insert = f"INSERT INTO map_nodes (log, pos, {columns})"
        upsert = f" ON CONFLICT (log, pos) DO UPDATE SET {sets}"
        if is_sqlite:  # (inserting the new rows apart made no difference there)
            if params:
                _write_sqlite(conn, log, f"{insert} VALUES ", upsert, params)
            continue
        names = ["pos", *columns.split(", ")]
        split = [(params, upsert)]
        if existing is not None:
            split = [
                ([row for row in params if row[0] not in existing], ""),
                ([row for row in params if row[0] in existing], upsert),
            ]
        for part, tail in split:
            if part:
                prefix = f"p{len(parts)}_"
                parts.append(f"{insert} {_select(names, prefix)}{tail}")
                values.update(_packed(names, part, prefix))
    if parts:  # all but the last as data-modifying WITH queries
        head = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(parts[:-1]))
        conn.exec_driver_sql(f"WITH {head} {parts[-1]}" if head else parts[-1], values)


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


#: SQLite: rows per INSERT statement (at most 4 parameters a row: under SQLite's 999)
_SQLITE_ROWS = 150


def _write_sqlite(
    conn: Connection, log: int, insert: str, tail: str, params: Sequence[tuple[Any, ...]]
) -> None:
    """Many rows per statement: executemany steps one statement per row, and the per-row
    statement overhead was most of the write's time (a batch writes ~5 rows per key).
    The parameters are flattened once, in C, and cut into statements by slicing; the
    log is written into the statement (an integer), not bound once per row."""
    width = len(params[0])
    mark = f"({int(log)}, " + ", ".join("?" for _ in params[0]) + ")"
    flat = list(chain.from_iterable(params))
    step = _SQLITE_ROWS * width
    full = len(flat) - len(flat) % step
    if full:
        statement = f"{insert}{', '.join([mark] * _SQLITE_ROWS)}{tail}"
        conn.exec_driver_sql(statement, [tuple(flat[i : i + step]) for i in range(0, full, step)])
    if full < len(flat):
        rest = len(params) - full // width
        conn.exec_driver_sql(f"{insert}{', '.join([mark] * rest)}{tail}", tuple(flat[full:]))


def _select(names: list[str], prefix: str) -> str:
    """PostgreSQL: the rows of the columns ``names`` cut from `_packed`'s ``prefix``-ed
    parameters."""
    cuts = ", ".join(_CUT[name] for name in names).replace("%(", f"%({prefix}")
    return f"SELECT %(log)s, {cuts} FROM generate_series(0, %({prefix}n)s - 1) AS i"  # noqa: S608


def _packed(names: list[str], params: Sequence[tuple[Any, ...]], prefix: str) -> dict[str, Any]:
    """The PostgreSQL statement's parameters (named with ``prefix``): each column's
    values joined into one bytes."""
    out: dict[str, Any] = {"n": len(params)}
    for at, name in enumerate(names):
        values = [row[at] for row in params]
        if name == "pos":
            out["lens"] = bytes(len(v) for v in values)
            out["pos"] = b"".join(v.ljust(_POS, b"\0") for v in values)
        elif name == "idx":  # signed: an index past 2**63 - 1 fails here as in a BIGINT
            out["idx"] = b"".join(int(v).to_bytes(8, "big", signed=True) for v in values)
        else:
            out[name] = b"".join(values)
    return {prefix + name: value for name, value in out.items()}
