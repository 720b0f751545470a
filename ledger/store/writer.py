"""The write transaction of one log: lock, read what the append needs, write it all.

`ledger.store.repository.Store.writer` opens it; everything written through one
`WriteTx` commits together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ledger import merkle
from ledger.errors import NotFoundError
from ledger.map.buckets import BucketReader
from ledger.merkle import Subtree
from ledger.rules.state import Record, UnitRecord
from ledger.store import driversql, nodetiles
from ledger.store.leafpack import pack, unpack
from ledger.store.mapnodes import read_buckets, write_buckets
from ledger.store.queries import (
    CHECKPOINTS,
    ENTRIES,
    LOGS,
    LOWEST_NODE_LEVEL,
    chain_to_store,
    find_event_hashes,
    read_subtrees,
)
from ledger.store.records import RECORD_TABLES, load_equal, load_in, load_records, to_values
from ledger.stored import LogHead


class EntryValues(NamedTuple):
    """One entry as `WriteTx.insert_entries` takes it: the ``entries`` columns after
    ``log``, in table order (the leaf unpacked)."""

    idx: int
    leaf: bytes
    chain: bytes
    #: the event hash's first 8 bytes (`ledger.store.schema.EVENT_KEY_SIZE`)
    event_key: bytes
    kind: str
    gtin: str | None
    serial: str | None
    signer: str


class _Statements(NamedTuple):
    """The fixed statements every write transaction runs once, in one driver's SQL.

    Raw driver SQL, as the prefetch and the inserts: a group of a few single events
    (ledger.service.groupcommit) runs each of these once, and SQLAlchemy's compile-cache
    lookup and result set-up cost more than the statements. Only placeholders are
    formatted in; every value is a bound parameter."""

    lock_head: str
    set_head: str
    insert_checkpoint: str


def _statements(mark: str, lock: str) -> _Statements:
    head = "id, name, origin, size, chain, root, map_size"  # `LogHead`'s fields, in order
    return _Statements(
        f"SELECT {head} FROM {LOGS.name} WHERE id = {mark}{lock}",  # noqa: S608
        f"UPDATE {LOGS.name} SET size = {mark}, chain = {mark}, root = {mark} WHERE id = {mark}",  # noqa: S608
        f"INSERT INTO {CHECKPOINTS.name} (log, size, root, note, signed_at) "  # noqa: S608
        f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
    )


#: by whether the database is SQLite (BEGIN IMMEDIATE holds its lock) or PostgreSQL
#: (the log's row locked FOR UPDATE)
_SQL = {True: _statements("?", ""), False: _statements("%s", " FOR UPDATE")}


class WriteTx:
    """The write transaction of one log, holding its lock (see `Store.writer`)."""

    #: what a failing statement of this transaction raises (`Store.writer` reports it
    #: as StorageError once the transaction is rolled back)
    DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError,)

    def __init__(self, conn: Connection, log: int, *, is_sqlite: bool) -> None:
        self.conn = conn
        self.log = log
        self._insert = sqlite_insert if is_sqlite else pg_insert
        self._is_sqlite = is_sqlite
        #: the log's size before and after this transaction, once `set_head` ran
        self.grew_from: int | None = None
        self.grew_to: int | None = None
        #: the log's origin, once `lock_head` read it (an event hash read from a leaf
        #: names it; `find_event_hashes` reads it itself before)
        self._origin: str | None = None
        #: the head `lock_head` read last (None: not yet)
        self.locked: LogHead | None = None
        #: when (`time.perf_counter`) this transaction took the log's write lock: on
        #: SQLite its BEGIN IMMEDIATE, which ran as `Store.writer` began it, just before
        #: this object is made; on PostgreSQL `lock_head`
        self.locked_at: float | None = time.perf_counter() if is_sqlite else None
        #: PostgreSQL: the keys of the units `load_records` looked up in this
        #: transaction and did not find (`upsert` copies their new rows in)
        self._absent_units: set[tuple[str, str, str]] = set()
        #: `reading_ahead`: the reads being planned (answered no rows), or the rows of
        #: those read ahead, not yet asked again
        self._planning: list[tuple[str, tuple[Any, ...]]] | None = None
        self._ahead: list[tuple[str, tuple[Any, ...], list[tuple[Any, ...]]]] | None = None

    def lock_head(self) -> LogHead:
        """Lock the log's row and return its head (SQLite: BEGIN IMMEDIATE already did).

        Raises:
            NotFoundError: no such log.
        """
        rows = self.fetch(_SQL[self._is_sqlite].lock_head, (self.log,))
        if self.locked_at is None:
            self.locked_at = time.perf_counter()
        if not rows:
            raise NotFoundError(f"no log with id {self.log}", field="log")
        log, name, origin, size, chain, root, map_size = rows[0]
        head = LogHead(log, name, origin, size, bytes(chain), bytes(root), map_size)
        self.grew_from = head.size
        self._origin = head.origin
        self.locked = head
        return head

    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Every row of ``statement`` (driver SQL, only placeholders formatted in) with
        ``params`` (none for a statement that returns none), run on this transaction's
        own DBAPI connection; within `reading_ahead`, a read it made ahead is answered
        from its rows (and while its plan runs, each statement is only noted: no rows).

        The append's fixed reads (the head, the prefetch: `records.Fetch`) go this way:
        SQLAlchemy's result set-up for driver SQL (each column's metadata, per
        statement) cost more than the statement itself (~20 of ~28 us a prefetch read on
        SQLite, ~40-90 of ~55-100 on PostgreSQL), and a group of a few single events
        runs these once each. A driver error is raised as SQLAlchemy's `DBAPIError`, as
        a statement's would be (`DATABASE_ERRORS`; `Store.writer` reports it)."""
        if self._planning is not None:  # `reading_ahead`'s plan: only noted
            self._planning.append((statement, params))
            return []
        if self._ahead:
            for i, (ahead, ahead_params, rows) in enumerate(self._ahead):
                if ahead == statement and ahead_params == params:
                    del self._ahead[i]
                    return rows
            if statement.lstrip()[:6].upper() != "SELECT":
                self._wrote()  # (a write: what was read ahead may be stale now)
        return driversql.fetch(self.conn, statement, params)

    def _wrote(self) -> None:
        """This transaction writes: rows read ahead (`reading_ahead`) no longer answer
        any read, which goes to the database and sees the write."""
        self._ahead = None

    @contextmanager
    def reading_ahead(self, plan: Callable[[], object]) -> Iterator[None]:
        """Within the block, the reads ``plan`` makes through `fetch` are answered from
        one round trip (PostgreSQL): ``plan`` is run first with every read only noted
        (answered no rows, so it must change nothing: what it returns is dropped), then
        the noted reads are sent at once (`driversql.fetch_many`: one pipeline, run in
        order in this transaction), and each is answered from its rows when the block
        asks it again (the same statement and parameters; any other read goes to the
        database). Rows not asked for in the block are dropped at its end, and at the
        block's first write (a statement through `fetch` other than a SELECT, or one of
        this transaction's writers): nothing read ahead answers a read after a write, or
        after the block. A write made on ``conn`` directly, past this object, is not
        seen: a block that reads ahead writes only through it. On SQLite (no
        round trips) ``plan`` is not run and every read goes as before.

        The append's prefetch reads this way (ledger.service.prefetch): seven reads of
        a group's state in one round trip, where each was one."""
        if self._is_sqlite:
            yield
            return
        self._planning = []
        try:
            plan()
            planned = self._planning
        finally:
            self._planning = None
        rows = driversql.fetch_many(self.conn, planned)
        self._ahead = [(s, p, r) for (s, p), r in zip(planned, rows, strict=True)]
        try:
            yield
        finally:
            self._ahead = None

    def find_event_hashes(self, hashes: Sequence[bytes]) -> dict[bytes, tuple[int, bytes]]:
        """Return {event hash: (index, leaf hash)} for hashes already in the log."""
        return find_event_hashes(self.conn, self.log, hashes, self._origin, self.fetch)

    def subtrees(self, wanted: Iterable[Subtree]) -> dict[Subtree, bytes]:
        """Read perfect-subtree hashes inside this transaction."""
        return read_subtrees(self.conn, self.log, wanted)

    def load_records(self, refs: Mapping[type[Record], Iterable[Any]]) -> list[Record]:
        """Load projection records by primary key (see `records.load_records`).

        PostgreSQL: the units asked for and not found are remembered as absent (this
        transaction holds the log's lock: no one else writes its units until it ends),
        so `upsert` inserts their rows with COPY instead of an upsert."""
        found = load_records(self.conn, self.log, refs, self._origin, self.fetch)
        # (not while `reading_ahead` plans: its reads answer nothing, not "absent")
        if not self._is_sqlite and UnitRecord in refs and self._planning is None:
            keys = {r.key for r in found if isinstance(r, UnitRecord)}
            self._absent_units.update(
                k for k in (("unit", g, s) for g, s in refs[UnitRecord]) if k not in keys
            )
        return found

    def load_where(self, record_type: type[Record], **equals: Any) -> list[Record]:
        """Load the records of one type whose columns equal the given values."""
        return load_equal(self.conn, self.log, record_type, equals, self._origin, self.fetch)

    def load_in(
        self, record_type: type[Record], column: str, values: Iterable[Any]
    ) -> list[Record]:
        """Load the records of one type whose ``column`` is one of ``values``."""
        return load_in(self.conn, self.log, record_type, column, values, self._origin, self.fetch)

    def insert_entries(
        self, rows: Sequence[EntryValues], packed: Sequence[bytes] | None = None
    ) -> None:
        """Insert entries (`EntryValues`, the columns after ``log`` in table order); the
        leaf is stored packed (ledger.store.leafpack), the chain only where
        `queries.chain_to_store` keeps it (the last row's always). ``packed``, if given,
        is each row's ``leafpack.pack(row.leaf)``, already made by the caller (the
        append packs before it takes the log's lock)."""
        log = self.log
        last = max((r[0] for r in rows), default=-1)
        stored = [pack(r[1]) for r in rows] if packed is None else packed
        values = [
            (log, r[0], leaf, chain_to_store(r[0], r[2], last), *r[3:])
            for r, leaf in zip(rows, stored, strict=True)
        ]
        if self._is_sqlite:
            self._insert_many(ENTRIES, values)
        else:
            self._copy(ENTRIES, values)

    def insert_nodes(self, nodes: Mapping[Subtree, bytes]) -> None:
        """Insert the subtree hashes that are stored (level >= `LOWEST_NODE_LEVEL`; the
        lower ones are computed from the leaves when read): in tiles once complete,
        until then one run of consecutive nodes per level and tile (ledger.store.nodetiles).

        Raises:
            StorageError: a tile completed here lacks a node stored before."""
        self._wrote()
        rows = {
            (s.level, s.start >> s.level): h
            for s, h in nodes.items()
            if s.level >= LOWEST_NODE_LEVEL
        }
        nodetiles.write(self.conn, self.log, rows, self._is_sqlite)

    def upsert(self, records: Iterable[Record]) -> None:
        """Insert or replace projection records (the last one for a key wins).

        PostgreSQL: the units `load_records` found absent are new rows, inserted with
        COPY (no conflict to look for: a commission's unit; a unit absent after all
        would be refused by the primary key and the transaction rolled back); the
        others are upserted."""
        latest: dict[tuple[Any, ...], Record] = {r.key: r for r in records}
        by_type: dict[type[Any], list[tuple[Any, ...]]] = {}
        new_units: list[tuple[Any, ...]] = []
        absent = self._absent_units
        for key, record in latest.items():
            row = to_values(self.log, record)
            if key in absent:
                new_units.append(row)
                absent.discard(key)  # inserted now: an upsert from here on
            else:
                by_type.setdefault(type(record), []).append(row)
        if new_units:
            self._copy(RECORD_TABLES[UnitRecord], new_units)
        for record_type, rows in by_type.items():
            table = RECORD_TABLES[record_type]
            keys = [c.name for c in table.primary_key.columns]
            updates = ", ".join(
                f"{c.name} = excluded.{c.name}" for c in table.columns if c.name not in keys
            )
            suffix = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
            if self._is_sqlite or len(rows) == 1:
                self._insert_many(table, rows, suffix)
            else:
                self._insert_unnest(table, rows, suffix)

    def _insert_many(self, table: Table, rows: Sequence[tuple[Any, ...]], suffix: str = "") -> None:
        """One prepared INSERT run with executemany over ``rows``, tuples of all the
        table's columns in table order.

        The write path's hot spot: SQLAlchemy's per-row parameter processing cost more
        than the database's work. The statement text comes from the table's own column
        names (never from data), and every value is a bound parameter.
        """
        self._wrote()
        if not rows:
            return
        mark = "?" if self._is_sqlite else "%s"
        statement = (
            f"INSERT INTO {self._columns(table)} "  # noqa: S608
            f"VALUES ({', '.join(mark for _ in table.columns)}){suffix}"
        )
        self.conn.exec_driver_sql(statement, rows)

    def _insert_unnest(self, table: Table, rows: Sequence[tuple[Any, ...]], suffix: str) -> None:
        """PostgreSQL: one INSERT of every row, each column sent as one typed array and
        cut into rows by ``unnest`` (one statement and round trip where executemany sent
        one per row). Same statement text rules as `_insert_many`. The arrays go in
        binary (``%b``): as text, psycopg quoted every element through a regular
        expression (projections of a batch of 1,000: 9.2 -> 5.5 us an event)."""
        self._wrote()
        types = [c.type.compile(dialect=self.conn.dialect) for c in table.columns]
        arrays = ", ".join(f"%b::{t}[]" for t in types)
        statement = f"INSERT INTO {self._columns(table)} SELECT * FROM unnest({arrays}){suffix}"  # noqa: S608
        self.conn.exec_driver_sql(
            statement, tuple(list(column) for column in zip(*rows, strict=True))
        )

    def _copy(self, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        """PostgreSQL: insert ``rows`` (as for `_insert_many`) with ``COPY ... FROM STDIN``
        on this transaction's own connection: one stream instead of a statement per row,
        in binary (as text, psycopg escaped every leaf's bytes as hex and every value
        through a text dumper: entries of a batch of 1,000 ~10 -> ~7 us an event).
        A failure is raised as SQLAlchemy's `DBAPIError`, as a statement's would be."""
        self._wrote()
        if not rows:
            return
        statement = f"COPY {self._columns(table)} FROM STDIN (FORMAT BINARY)"
        driver = self.conn.connection.driver_connection
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
                copy.set_types(_copy_types(table, self.conn.dialect))
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as e:
            raise DBAPIError(statement, None, e) from e

    def _columns(self, table: Table) -> str:
        """``table (column, ...)`` quoted, every column in table order."""
        quote = self.conn.dialect.identifier_preparer.quote
        return f"{quote(table.name)} ({', '.join(quote(c.name) for c in table.columns)})"

    def leaves(self, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
        """(index, leaf bytes, leaf hash) of the entries ``start <= index < end``."""
        rows = self.conn.execute(
            select(ENTRIES.c.idx, ENTRIES.c.leaf)
            .where(ENTRIES.c.log == self.log, ENTRIES.c.idx >= start, ENTRIES.c.idx < end)
            .order_by(ENTRIES.c.idx)
        )
        leaves = [(int(r.idx), unpack(bytes(r.leaf))) for r in rows]
        return [(idx, leaf, merkle.leaf_hash(leaf)) for idx, leaf in leaves]

    def map_bucket_reader(self) -> BucketReader:
        """Reads stored map buckets inside this transaction (ledger.map.buckets)."""
        return lambda positions: read_buckets(self.conn, self.log, positions)

    def write_map_buckets(self, rows: Sequence[tuple[bytes, bytes]]) -> None:
        """Insert or replace map bucket rows (`ledger.map.bucketmap.BucketMap.rows`)."""
        self._wrote()
        write_buckets(self.conn, self.log, rows, self._is_sqlite)

    def set_map_size(self, size: int | None) -> None:
        """Record that the stored map of heads is the map of the log's first ``size``
        entries, behind the log until the map's child process writes its rows (None:
        the whole log's map; `LogHead.map_size`)."""
        mark = "?" if self._is_sqlite else "%s"
        self.fetch(f"UPDATE {LOGS.name} SET map_size = {mark} WHERE id = {mark}", (size, self.log))  # noqa: S608

    def set_head(self, size: int, chain: bytes, root: bytes) -> None:
        """Move the log's head."""
        self.grew_to = size
        self.fetch(_SQL[self._is_sqlite].set_head, (size, chain, root, self.log))

    def checkpoint_note(self, size: int) -> str:
        """Return the signed checkpoint note at ``size``.

        Raises:
            NotFoundError: none was stored at that size.
        """
        row = self.conn.execute(
            select(CHECKPOINTS.c.note).where(
                CHECKPOINTS.c.log == self.log, CHECKPOINTS.c.size == size
            )
        ).first()
        if row is None:
            raise NotFoundError(f"no checkpoint at size {size}", field="size")
        return str(row.note)

    def redate_checkpoint(self, size: int, note: str, signed_at: str) -> None:
        """Replace the stored note of the checkpoint at ``size`` by the same checkpoint
        re-dated by the log (ledger.note.logtime; the caller keeps its text and root)."""
        self._wrote()
        self.conn.execute(
            update(CHECKPOINTS)
            .where(CHECKPOINTS.c.log == self.log, CHECKPOINTS.c.size == size)
            .values(note=note, signed_at=signed_at)
        )

    def insert_checkpoint(self, size: int, root: bytes, note: str, signed_at: str) -> None:
        """Store a signed checkpoint."""
        self.fetch(_SQL[self._is_sqlite].insert_checkpoint, (self.log, size, root, note, signed_at))


_COPY_TYPES: dict[str, list[str]] = {}


def _copy_types(table: Table, dialect: Any) -> list[str]:
    """The PostgreSQL type names of ``table``'s columns in order, as a binary COPY
    declares them (``VARCHAR(32)`` -> ``varchar``: the server still checks the length,
    its receive function gets the column's own type modifier)."""
    names = _COPY_TYPES.get(table.name)
    if names is None:
        names = [
            c.type.compile(dialect=dialect).split("(", 1)[0].strip().lower() for c in table.columns
        ]
        _COPY_TYPES[table.name] = names
    return names
