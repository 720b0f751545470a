"""Reading and writing the stored map of heads: table ``map_buckets``, four trie levels
a row (ledger.map.buckets; docs/FORMAT.md 14.2).

`read_buckets` and `write_buckets` move whole bucket rows (the append's map step,
ledger.service.headmap, and proofs); on SQLite, a writer that keeps the rows' rowids
(the map's child process, ledger.service.mapchild) rewrites the rows it knows by rowid,
in rowid order. `read_nodes` answers by position, one node a
position as ledger.map.update's readers expect (`ledger.map.partial.PartialTrie`, the
update proofs, the diverged check's tests), by decoding the buckets holding them.
`nodes_to_buckets` and `buckets_to_nodes` convert every log's map between the two
forms (the migration 0032_map_buckets, both ways).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from itertools import accumulate, chain
from typing import Any, cast

from sqlalchemy import Connection, Table, text

from ledger.errors import ValidationError
from ledger.map.buckets import bucket_of, decode, group, positions, stored
from ledger.map.trie import HASH_BYTES, KEY_BYTES, Head
from ledger.map.update import Stored
from ledger.store.queries import chunks, placeholder
from ledger.store.schema import MapBucketRow

MAP_BUCKETS = cast(Table, MapBucketRow.__table__)


def read_buckets(
    conn: Connection, log: int, positions: Sequence[bytes], rowids: dict[bytes, int] | None = None
) -> dict[bytes, bytes]:
    """The bucket rows whose tops are at ``positions`` (absent ones left out). On SQLite,
    ``rowids`` (if given) learns each row's rowid by its position, for `write_buckets`.

    PostgreSQL: one query (``pos = ANY(array)``); SQLite: one per `CHUNK` positions.
    """
    out: dict[bytes, bytes] = {}
    if not positions:
        return out
    mark = placeholder(conn)
    if mark == "?":
        parts = [
            (f"IN ({', '.join('?' for _ in chunk)})", (log, *chunk)) for chunk in chunks(positions)
        ]
    else:
        parts = [("= ANY(%s)", (log, list(positions)))]
        rowids = None  # PostgreSQL has no rowid
    columns = "pos, data" if rowids is None else "pos, data, rowid"
    for test, params in parts:
        rows = conn.exec_driver_sql(
            f"SELECT {columns} FROM map_buckets WHERE log = {mark} AND pos {test}",  # noqa: S608
            params,
        )
        if rowids is None:
            for pos, data in rows:
                out[bytes(pos)] = bytes(data)
        else:
            for pos, data, rowid in rows:
                out[bytes(pos)] = bytes(data)
                rowids[bytes(pos)] = rowid
    return out


def read_nodes(conn: Connection, log: int, positions: Iterable[bytes]) -> dict[bytes, Stored]:
    """The stored nodes at ``positions`` (absent positions, and bytes that are not a
    position, are left out), read from the buckets holding them.

    Raises:
        CorruptBucketError: a bucket row read is damaged.
    """
    wanted: dict[bytes, tuple[bytes, int]] = {}
    for pos in positions:
        found = bucket_of(pos)
        if found is not None:
            wanted[pos] = found
    rows = read_buckets(conn, log, sorted({top for top, _ in wanted.values()}))
    buckets = {top: decode(data) for top, data in rows.items()}
    out: dict[bytes, Stored] = {}
    for pos, (top, slot) in wanted.items():
        node = buckets.get(top, {}).get(slot)
        if node is not None:
            out[pos] = stored(node)
    return out


_UPSERT = (
    "INSERT INTO map_buckets (log, pos, data) {} ON CONFLICT (log, pos) "
    "DO UPDATE SET data = excluded.data"
)
_POS = 33  # the longest position (depth 256)
#: PostgreSQL: the rows come as packed columns cut apart by the server (psycopg adapts
#: a list of bytes element by element, ten times the server's work): positions padded to
#: 33 bytes with their lengths one byte each, rows joined with their start offsets
_SELECT = (
    "SELECT %(log)s, substring(%(pos)s::bytea from i * 33 + 1 for get_byte(%(lens)s, i)),"
    " substring(%(data)s::bytea from (%(starts)s::int4[])[i + 1] + 1 for "
    "(%(starts)s::int4[])[i + 2] - (%(starts)s::int4[])[i + 1])"
    " FROM generate_series(0, %(n)s - 1) AS i"
)
#: SQLite: rows per INSERT statement (3 parameters a row: under SQLite's 999)
_SQLITE_ROWS = 300
#: SQLite: a row rewritten where it is, found by its rowid (no search of the primary
#: key's index), and only if that rowid still holds the row's log and position
_BY_ROWID = "UPDATE map_buckets SET data = ? WHERE rowid = ? AND log = ? AND pos = ?"
#: SQLite's RETURNING tells an upsert's rowids (3.35, 2021; fixed up to 3.35.5)
_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 5)


def write_buckets(
    conn: Connection,
    log: int,
    rows: Sequence[tuple[bytes, bytes]],
    is_sqlite: bool,
    rowids: dict[bytes, int] | None = None,
) -> None:
    """Insert or replace the bucket rows ``(position of the top, row)`` (in position
    order: neighbours in the primary key are written together).

    SQLite: many rows a statement (the per-statement overhead was most of the write's
    time); PostgreSQL: one statement, one round trip.

    ``rowids`` (SQLite; ignored on PostgreSQL): the rowids of rows by their positions,
    as `read_buckets` and earlier calls with the same dict learned them. The rows it
    names are rewritten by rowid, in rowid order (a batch's ~2,000 rows on random pages
    of the table: in rowid order each page is visited once, in file order, and no index
    is searched); a rowid that no longer holds its row's log and position (a ``VACUUM``
    renumbers rowids) changes nothing, and then every row is upserted and the dict
    forgotten. The rows it does not name are upserted and their rowids learned.
    """
    if not rows:
        return
    if is_sqlite and rowids is not None:
        _write_by_rowid(conn, log, rows, rowids)
        return
    if not is_sqlite:
        params = {
            "log": log,
            "n": len(rows),
            "pos": b"".join(pos.ljust(_POS, b"\0") for pos, _ in rows),
            "lens": bytes(len(pos) for pos, _ in rows),
            "data": b"".join(data for _, data in rows),
            "starts": list(accumulate((len(data) for _, data in rows), initial=0)),
        }
        conn.exec_driver_sql(_UPSERT.format(_SELECT), params)
        return
    _upsert_sqlite(conn, log, rows)


def _upsert_sqlite(
    conn: Connection,
    log: int,
    rows: Sequence[tuple[bytes, bytes]],
    learn: dict[bytes, int] | None = None,
) -> None:
    """Upsert ``rows`` on SQLite, `_SQLITE_ROWS` a statement; with ``learn`` (and SQLite
    3.35.5 or later), each statement's rows' rowids by position go into it."""
    mark = f"({int(log)}, ?, ?)"  # the log written in (an integer), not bound per row
    if learn is not None and _RETURNING:
        for start in range(0, len(rows), _SQLITE_ROWS):
            part = rows[start : start + _SQLITE_ROWS]
            statement = _UPSERT.format("VALUES " + ", ".join([mark] * len(part)))
            returned = conn.exec_driver_sql(
                statement + " RETURNING pos, rowid", tuple(chain.from_iterable(part))
            )
            for pos, rowid in returned:
                learn[bytes(pos)] = rowid
        return
    flat = list(chain.from_iterable(rows))
    step = 2 * _SQLITE_ROWS
    full = len(flat) - len(flat) % step
    if full:
        statement = _UPSERT.format("VALUES " + ", ".join([mark] * _SQLITE_ROWS))
        conn.exec_driver_sql(statement, [tuple(flat[i : i + step]) for i in range(0, full, step)])
    if full < len(flat):
        rest = (len(flat) - full) // 2
        conn.exec_driver_sql(
            _UPSERT.format("VALUES " + ", ".join([mark] * rest)), tuple(flat[full:])
        )


def _write_by_rowid(
    conn: Connection, log: int, rows: Sequence[tuple[bytes, bytes]], rowids: dict[bytes, int]
) -> None:
    """`write_buckets` on SQLite with ``rowids`` (see there)."""
    known = sorted(
        (rowid, pos, data) for pos, data in rows if (rowid := rowids.get(pos)) is not None
    )
    rest = [row for row in rows if row[0] not in rowids]
    if known:
        done = conn.exec_driver_sql(
            _BY_ROWID, [(data, rowid, log, pos) for rowid, pos, data in known]
        ).rowcount
        if done != len(known):  # a rowid moved: the rows are upserted, which is idempotent
            rowids.clear()
            rest = list(rows)
    if rest:
        _upsert_sqlite(conn, log, rest, rowids)


def nodes_to_buckets(conn: Connection) -> None:
    """Fill the empty ``map_buckets`` from ``map_nodes`` (one row a position), every log
    (grouped in Python, a log at a time). A damaged row (neither a whole hash nor a
    whole leaf) is left out: the next append then finds the map diverged from its
    signed root and refuses, as docs/FORMAT.md 14.2 says."""
    logs = [int(log) for (log,) in conn.exec_driver_sql("SELECT DISTINCT log FROM map_nodes")]
    for log in logs:
        nodes: dict[bytes, Stored] = {}
        for pos, value, key, idx, entry in _log_rows(
            conn, log, "pos, hash, key, idx, entry", "map_nodes"
        ):
            node = _node_row(value, key, idx, entry)
            if node is not None:
                nodes[bytes(pos)] = node
        rows = list(group(nodes).items())
        for start in range(0, len(rows), 1000):
            write_buckets(conn, log, rows[start : start + 1000], conn.dialect.name == "sqlite")


def buckets_to_nodes(conn: Connection) -> None:
    """Fill the empty ``map_nodes`` from ``map_buckets``, every log: `nodes_to_buckets`
    backwards.

    Raises:
        CorruptBucketError: a bucket row is damaged (nothing is converted).
    """
    logs = [int(log) for (log,) in conn.exec_driver_sql("SELECT DISTINCT log FROM map_buckets")]
    insert = text(
        "INSERT INTO map_nodes (log, pos, hash, key, idx, entry)"
        " VALUES (:log, :pos, :hash, :key, :idx, :entry)"
    )
    for log in logs:
        rows = _log_rows(conn, log, "pos, data", "map_buckets")
        nodes = positions({bytes(pos): bytes(data) for pos, data in rows})
        params = [
            {
                "log": log,
                "pos": pos,
                "hash": node.hash,
                "key": node.key,
                "idx": None if node.head is None else node.head.index,
                "entry": None if node.head is None else node.head.entry_hash,
            }
            for pos, node in sorted(nodes.items())
        ]
        for start in range(0, len(params), 5000):
            conn.execute(insert, params[start : start + 5000])


def _log_rows(conn: Connection, log: int, columns: str, table: str) -> list[Any]:
    statement = f"SELECT {columns} FROM {table} WHERE log = {placeholder(conn)} ORDER BY pos"  # noqa: S608 (constants)
    return list(conn.exec_driver_sql(statement, (log,)))


def _node_row(value: Any, key: Any, idx: Any, entry: Any) -> Stored | None:
    """A ``map_nodes`` row as `Stored`, None if it is damaged."""
    try:
        if key is not None:
            if len(key) != KEY_BYTES:
                return None
            return Stored(key=bytes(key), head=Head(int(idx), bytes(entry)))
        if value is not None and len(value) == HASH_BYTES:
            return Stored(hash=bytes(value))
    except (TypeError, ValueError, ValidationError):
        pass
    return None
