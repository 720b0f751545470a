"""Shared query helpers and row types of the store (used by the reader and the writer).

No transactions are opened here: every function runs on a connection it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, literal_column

from ledger.codec import b64url_encode
from ledger.entry import leaf_event_hash
from ledger.frozen import filled
from ledger.merkle import Subtree, leaf_hash, node_hash
from ledger.store import driversql, nodetiles
from ledger.store.leafpack import unpack
from ledger.store.schema import (
    EVENT_KEY,
    EVENT_KEY_PG,
    EVENT_KEY_SIZE,
    CheckpointRow,
    EntryRow,
    LogRow,
    NodeRow,
    ScanCountRow,
    ScanRow,
    event_key_of,
)
from ledger.stored import LogHead, StoredEntry

#: runs one statement in driver SQL with its parameters and returns every row: a write
#: transaction's own (`WriteTx.fetch`, on its DBAPI cursor), or `_fetch`'s default
Fetch = Callable[[str, tuple[Any, ...]], Sequence[Sequence[Any]]]


LOGS = cast(Table, LogRow.__table__)
ENTRIES = cast(Table, EntryRow.__table__)
NODES = cast(Table, NodeRow.__table__)
CHECKPOINTS = cast(Table, CheckpointRow.__table__)
SCANS = cast(Table, ScanRow.__table__)
SCAN_COUNTS = cast(Table, ScanCountRow.__table__)
CHUNK = 200  # rows per IN (...) list or runs per UNION ALL: below every driver's limits


#: ``entries.chain`` holds the running chain hash of every entry whose index is one
#: below a multiple of this and of the last entry of each append (the size of its
#: checkpoint, and the head's); the other rows hold it empty (0027_storage_v2) and
#: read as ``chain=None``: `ledger.store.repository.Store.chain_at` folds it forward
#: from the nearest stored one. The audit computes every chain and compares the
#: stored ones.
CHAIN_EVERY = 256


def chain_to_store(index: int, chain: bytes, last: int) -> bytes:
    """The ``entries.chain`` value of entry ``index`` of an append ending at ``last``."""
    return chain if index == last or index % CHAIN_EVERY == CHAIN_EVERY - 1 else b""


def origin_of(conn: Connection, log: int) -> str:
    """The origin of log ``log`` (a format-2 event hash names it), or "" for no such log
    (then no entry of it is read either)."""
    row = conn.exec_driver_sql(
        f"SELECT origin FROM logs WHERE id = {placeholder(conn)}",  # noqa: S608
        (log,),
    ).first()
    return "" if row is None else str(row[0])


#: the stored leaf of a unit's entry at ``head_index``, as a column of a ``units`` row:
#: a unit's head is not stored, it is that entry's event hash (0031_from_leaves,
#: `unit_head`); a primary-key read per unit, in the statement that reads the unit
HEAD_LEAF = (
    "(SELECT entries.leaf FROM entries"
    " WHERE entries.log = units.log AND entries.idx = units.head_index)"
)
#: `HEAD_LEAF` as a column named ``head`` of a SQLAlchemy select over ``units`` (the
#: console's and the catalogue's unit lists; `with_heads` turns it into the head)
HEAD_COLUMN: ColumnElement[bytes] = literal_column(HEAD_LEAF).label("head")


def unit_head(stored: Any, origin: str) -> str:
    """A unit's head (the base64url event hash of its latest event) from `HEAD_LEAF`,
    the stored leaf of its entry at ``head_index`` in the log of ``origin``; "" when
    there is no such leaf (a row written by hand: the audit's projection check reports
    the unit)."""
    found = None if stored is None else leaf_event_hash(unpack(bytes(stored)), origin)
    return "" if found is None else b64url_encode(found)


def with_heads(conn: Connection, log: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` of units of log ``log`` read with `HEAD_LEAF` as ``head``, each ``head``
    made the unit's head (`unit_head`)."""
    if rows:
        origin = origin_of(conn, log)
        for row in rows:
            row["head"] = unit_head(row["head"], origin)
    return rows


_ENTRY_COLUMNS = "idx, leaf, chain, event_key, kind, gtin, serial, signer"


def read_entries(
    conn: Connection, log: int, start: int, end: int, origin: str
) -> list[StoredEntry]:
    """Entries with ``start <= idx < end``, in order: one primary-key range read in raw
    driver SQL (the audit reads every entry; SQLAlchemy's row handling cost 4x the
    read). ``origin``: the log's (`origin_of`), which each event hash names."""
    return select_entries(conn, "idx >= {m} AND idx < {m} ORDER BY idx", (log, start, end), origin)


def read_replay_entries(conn: Connection, log: int, start: int, end: int) -> list[StoredEntry]:
    """`read_entries` for the audit's replay, which parses every leaf itself: each entry's
    leaf hash is computed from its leaf, but its event hash, ``key_id`` and ``received``
    are left empty (the replay derives them from the parsed leaf; computing them here
    was ~5 % of its time)."""
    m = placeholder(conn)
    # the driver's rows as they come (driversql): SQLAlchemy's row handling was ~5 % of
    # an audit's replay (docs/PERFORMANCE.md "audit42")
    rows = driversql.fetch(
        conn,
        f"SELECT {_ENTRY_COLUMNS} FROM entries"  # noqa: S608
        f" WHERE log = {m} AND idx >= {m} AND idx < {m} ORDER BY idx",
        (log, start, end),
    )
    out = []
    for idx, stored, chain, event_key, kind, gtin, serial, signer in rows:
        leaf = unpack(bytes(stored))
        # without the frozen dataclass's __init__ (ledger.frozen: 1.2 us against 0.3 an
        # entry of an audit; tests/integration/test_audit_processes.py compares the reads)
        out.append(
            filled(
                StoredEntry,
                index=idx,
                leaf=leaf,
                leaf_hash=leaf_hash(leaf),
                chain=bytes(chain) or None,
                event_hash=b"",
                kind=kind,
                gtin=gtin,
                serial=serial,
                signer=signer,
                key_id="",
                received="",
                event_key=bytes(event_key),
            )
        )
    return out


def select_entries(
    conn: Connection, where: str, params: Sequence[Any], origin: str, hint: str = ""
) -> list[StoredEntry]:
    """The entries of log ``params[0]`` matching ``where`` (column names, SQL and ``{m}``
    for each placeholder: never a value), as `StoredEntry` values whose event hashes
    are read from their leaves (`entry_from_values`)."""
    m = placeholder(conn)
    rows = conn.exec_driver_sql(
        f"SELECT {_ENTRY_COLUMNS} FROM entries{hint} WHERE log = {m} AND "  # noqa: S608
        + where.format(m=m),
        tuple(params),
    )
    return [entry_from_values(origin, *row) for row in rows]


def entry_from_values(
    origin: str,
    idx: int,
    stored: Any,
    chain: Any,
    event_key: Any,
    kind: str,
    gtin: Any,
    serial: Any,
    signer: str,
) -> StoredEntry:
    """A `StoredEntry` from a row of `_ENTRY_COLUMNS` of the log whose origin is
    ``origin``: its event hash is the leaf's event's (`leaf_event_hash`; empty for bytes
    without a leaf's envelope, which the audit reports), never the stored key."""
    leaf = unpack(bytes(stored))
    return StoredEntry(
        index=idx,
        leaf=leaf,
        leaf_hash=leaf_hash(leaf),
        chain=bytes(chain) or None,
        event_hash=leaf_event_hash(leaf, origin) or b"",
        kind=kind,
        gtin=gtin,
        serial=serial,
        signer=signer,
        **_envelope_tail(leaf),
        event_key=bytes(event_key),
    )


def _envelope_tail(leaf: bytes) -> dict[str, str]:
    """``key_id`` and ``received`` from canonical leaf bytes, without parsing the event.

    A canonical leaf ends ``,"key":"K","received":"R","sig":"S"}`` (JCS orders the keys;
    base64url and timestamps need no escaping), and the last ``,"key":"`` starts that
    tail: the event before it may hold the same text only inside a nested object. A
    leaf that does not end that way (never stored by the ledger) gives empty strings;
    the audit parses every leaf in full and reports it.
    """
    at = leaf.rfind(b',"key":"')
    tail = _TAIL.match(leaf, at) if at >= 0 else None
    if tail is None:
        return {"key_id": "", "received": ""}
    return {"key_id": tail.group(1).decode("ascii"), "received": tail.group(2).decode("ascii")}


# the two values are base64url and a timestamp: no quote, no escape (a regex, not a JSON
# parser: the audit reads every entry through here)
_TAIL = re.compile(rb',"key":"([A-Za-z0-9_-]*)","received":"([0-9T:.Z-]*)","sig":"')


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


#: Nodes of levels 1 .. LOWEST_NODE_LEVEL - 1 are not stored (0017_storage): each is
#: computed from its 2 or 4 leaves, which a proof reads as one short range beside the
#: leaf it already reads. They were 3/4 of the ``nodes`` rows (PostgreSQL: ~84 bytes of
#: row and ~33 of index for each 32-byte hash).
LOWEST_NODE_LEVEL = 3


def read_subtrees(conn: Connection, log: int, wanted: Iterable[Subtree]) -> dict[Subtree, bytes]:
    """Fetch perfect-subtree hashes: level 0 from the entries' leaves, levels 1 and 2
    computed from them, higher levels from nodes. Returns exactly the wanted subtrees
    that could be read (a missing row leaves its subtree out)."""
    wanted = list(wanted)
    low = {s for s in wanted if 0 < s.level < LOWEST_NODE_LEVEL}
    if not low:
        return _read_stored(conn, log, wanted)
    leaves = {Subtree(0, i) for s in low for i in range(s.start, s.end)}
    read = _read_stored(conn, log, {s for s in wanted if s not in low} | leaves)
    out = {s: read[s] for s in wanted if s in read}
    for s in low:
        value = _fold(read, s)
        if value is not None:
            out[s] = value
    return out


def _fold(hashes: dict[Subtree, bytes], subtree: Subtree) -> bytes | None:
    """The hash of ``subtree`` from its leaves' hashes; None when one is missing."""
    if subtree.level == 0:
        return hashes.get(subtree)
    half = 1 << (subtree.level - 1)
    left = _fold(hashes, Subtree(subtree.level - 1, subtree.start))
    right = _fold(hashes, Subtree(subtree.level - 1, subtree.start + half))
    return None if left is None or right is None else node_hash(left, right)


def _read_stored(conn: Connection, log: int, wanted: Iterable[Subtree]) -> dict[Subtree, bytes]:
    """Fetch stored perfect-subtree hashes: level 0 from entries, the rest from nodes.

    Per level, the wanted indices are grouped into runs of consecutive ones; each run is
    one primary-key range read (``level = L AND idx BETWEEN a AND b``), and the runs go
    out as one ``UNION ALL`` statement per `CHUNK` runs. A proof needs about log2(n)
    single-row runs; an audit chunk needs one run per level. (An ``OR`` of ``IN`` lists
    made SQLite scan the whole table.) Raw driver SQL: this is the proofs' hot path,
    and building a SQLAlchemy expression per call cost more than the reads.
    """
    runs = _runs(wanted)
    out: dict[Subtree, bytes] = {}
    # Only the driver's placeholder is formatted in; every value is a bound parameter.
    m = placeholder(conn)
    for chunk in chunks(runs):
        # nodes from single rows and complete tiles (0028_tiles)
        rows = conn.exec_driver_sql(*nodetiles.runs_select(m, log, chunk))
        for level, idx, value in nodetiles.rows(rows):
            if level:
                out[Subtree(level, idx << level)] = value
            else:  # the leaf, hashed here (0014_slim_entries)
                out[Subtree(0, idx)] = leaf_hash(unpack(value))
    return out


def _runs(wanted: Iterable[Subtree]) -> list[tuple[int, int, int]]:
    """(level, first, last) runs of consecutive node indices (idx = start >> level)."""
    by_level: dict[int, set[int]] = {}
    for s in wanted:
        by_level.setdefault(s.level, set()).add(s.start >> s.level)
    return consecutive_runs(by_level)


def consecutive_runs(by_level: dict[int, set[int]]) -> list[tuple[int, int, int]]:
    """(level, first, last) for each run of consecutive indices of each level."""
    runs = []
    for level, found in by_level.items():
        ordered = sorted(found)
        first = previous = ordered[0]
        for idx in ordered[1:]:
            if idx != previous + 1:
                runs.append((level, first, previous))
                first = idx
            previous = idx
        runs.append((level, first, previous))
    return runs


def head_from_row(row: Any) -> LogHead:
    return LogHead(
        row.id, row.name, row.origin, row.size, bytes(row.chain), bytes(row.root), row.map_size
    )


def find_event_hashes(
    conn: Connection,
    log: int,
    hashes: Sequence[bytes],
    origin: str | None = None,
    fetch: Fetch | None = None,
) -> dict[bytes, tuple[int, bytes]]:
    """{event hash: (index, leaf hash)} of the given hashes already in log ``log``
    (``origin``: the log's, read here when not given and a row is found; ``fetch``:
    what runs the reads, default ``conn.exec_driver_sql``).

    Raw driver SQL, one ``IN`` list per `CHUNK` hashes: every event of a batch is looked
    up here under the log lock, and compiling SQLAlchemy's expanding ``IN`` cost more
    than the index probes. Only placeholders are formatted in; values are bound.

    A row keeps only an 8-byte key of its event hash (`EVENT_KEY_SIZE`,
    0031_from_leaves), which the index holds (`EVENT_KEY`; on PostgreSQL its first 4
    bytes as an integer, `EVENT_KEY_PG`, 0030_event_key4, the statement comparing the
    row's 8 bytes too). A key is never an identity (an event sharing one takes 2^64
    work to make): each row found is confirmed by the hash of its leaf's event
    (`leaf_event_hash`), so only an entry holding one of ``hashes`` is returned, and
    the leaves read are those of the duplicates (another event under a key is met once
    in ~2^64/n probes). An event the log holds twice (the audit reports it) gives its
    first entry.
    """
    out: dict[bytes, tuple[int, bytes]] = {}
    m = placeholder(conn)
    hint = indexed_by(conn, "ix_entries_event_key", fetch)
    is_sqlite = conn.dialect.name == "sqlite"
    for chunk in chunks(list(dict.fromkeys(hashes))):
        wanted = set(chunk)
        keys = [event_key_of(h, is_sqlite) for h in chunk]
        where, probe = one_of(conn, EVENT_KEY, keys, "bytea")
        if not is_sqlite:  # the index holds 4 bytes of the key, the row all 8
            where, probe = one_of(conn, EVENT_KEY_PG, keys, "integer")
            full, eight = one_of(conn, EVENT_KEY, [h[:EVENT_KEY_SIZE] for h in chunk], "bytea")
            where, probe = f"{where} AND {full}", probe + eight
        statement = f"SELECT idx, leaf FROM entries{hint} WHERE log = {m} AND {where}"  # noqa: S608
        rows = _fetch(conn, fetch)(statement, (log, *probe))
        if rows and origin is None:
            origin = origin_of(conn, log)
        for idx, stored in rows:
            leaf = unpack(bytes(stored))
            found = leaf_event_hash(leaf, origin or "")
            # an event held twice (the audit reports it) answers with its first entry
            if found is None or found not in wanted:
                continue
            if found not in out or idx < out[found][0]:
                out[found] = (int(idx), leaf_hash(leaf))
    return out


def indexed_by(conn: Connection, index: str, fetch: Fetch | None = None) -> str:
    """`` INDEXED BY index`` on SQLite when the database has that index, else nothing.

    SQLite keeps no statistics here, and without them its planner prefers the primary
    key (``log = ?``: every entry of the log) to a non-unique index, even ordered by
    ``idx``: a duplicate lookup that must take milliseconds under the log lock, or a
    unit's entries, would read the whole log. The index is looked up in the schema (one
    small read) so that a database on an older revision is still read, as before.
    PostgreSQL's planner picks the index itself."""
    if conn.dialect.name != "sqlite":
        return ""
    statement = "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?"
    found = _fetch(conn, fetch)(statement, (index,))
    return f" INDEXED BY {index}" if found else ""


def _fetch(conn: Connection, fetch: Fetch | None) -> Fetch:
    """``fetch``, or ``conn.exec_driver_sql`` with every row."""
    if fetch is not None:
        return fetch
    return lambda statement, params: conn.exec_driver_sql(statement, params).all()


def unit_entries(
    conn: Connection, log: int, gtin: str, serial: str, origin: str
) -> list[StoredEntry]:
    """A unit's entries in index order, read through the unit index (on SQLite named with
    ``INDEXED BY``: see `indexed_by`; the primary key's order would otherwise win and
    every entry of the log be read). ``origin``: the log's (`origin_of`)."""
    hint = indexed_by(conn, "ix_entries_unit")
    where = "gtin = {m} AND serial = {m} ORDER BY idx"
    return select_entries(conn, where, (log, gtin, serial), origin, hint)


def latest_leaf_of_kind(
    conn: Connection, log: int, gtin: str, serial: str, kind: str
) -> bytes | None:
    """The leaf bytes of the unit's latest entry of ``kind``, through the unit index (as
    `unit_entries`), or None."""
    m = placeholder(conn)
    hint = indexed_by(conn, "ix_entries_unit")
    row = conn.exec_driver_sql(
        f"SELECT leaf FROM entries{hint} WHERE log = {m} AND gtin = {m} "  # noqa: S608
        f"AND serial = {m} AND kind = {m} ORDER BY idx DESC LIMIT 1",
        (log, gtin, serial, kind),
    ).first()
    return None if row is None else unpack(bytes(row[0]))


def placeholder(conn: Connection) -> str:
    """The driver's parameter marker (sqlite3: ``?``, psycopg: ``%s``)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def one_of(
    conn: Connection, expression: str, values: Sequence[Any], sql_type: str
) -> tuple[str, tuple[Any, ...]]:
    """A condition that ``expression`` (a column name or an expression of columns, never
    data) is one of ``values``, and its parameters: ``IN (?, ...)`` on SQLite; on
    PostgreSQL ``= ANY(%b::sql_type[])`` with the values as one array parameter, sent in
    binary (as text, psycopg quotes each element with a regular expression).

    psycopg keeps its parse of a statement only for statements of at most 50 parameters:
    an ``IN`` list of 200 was parsed again on every call, in Python (~5 ms each, most of
    the idempotency read of a batch), where an array is one parameter. PostgreSQL probes
    an index for ``= ANY(array)`` as for an ``IN`` list."""
    if conn.dialect.paramstyle == "qmark":
        return f"{expression} IN ({', '.join('?' for _ in values)})", tuple(values)
    return f"{expression} = ANY(%b::{sql_type}[])", (list(values),)
