"""The proof tree's reads (ledger.store.prooftree): bulk level loads, and the few hashes
below its lowest level that a proof needs, on raw driver connections of the primary.

- `RawReader` runs the reads on one DBAPI connection, without SQLAlchemy's per-row work:
  the log's committed size, a level's leaf or node hashes in bulk (loading the tree),
  and a proof's subtrees below the tree's base (`RawReader.subtrees`).
- `LowReads` keeps a few *dedicated* connections for the latter. A proof at 10^7 entries
  (levels >= 3 in memory) reads at most a block of 8 leaves and a few nodes; through the
  engine's pool that read paid a checkout, a rollback and a checkin, most of its cost.
  A dedicated connection is detached from the pool (it never takes one of the pool's
  connections) and in autocommit mode, so each statement is its own read of what was
  committed when it began. That is enough: a proof asks only for rows below a size the
  tree read as committed, and such rows never change (the log is append-only).

Every read returns only what it found; a caller missing a row takes the store's checked
path, which reports it. A connection whose read raised is closed, never reused.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Engine

from ledger.merkle import Subtree
from ledger.store import nodetiles
from ledger.store.leafpack import unpack
from ledger.store.queries import consecutive_runs

HASH = 32
#: the lowest stored node level: levels 1 and 2 are computed from the leaves
#: (ledger.store.queries, migration 0017_storage)
LOWEST_STORED_BASE = 3
#: dedicated connections `LowReads` keeps open, idle or in use: a proof beyond them reads
#: through the engine's pool (bounded by it), so concurrent proofs cannot open sessions
#: without limit
MAX_IDLE = 4
#: ranges in one statement (SQLite allows 500 terms in a compound SELECT; a node range
#: is two: single rows and tiles)
MAX_PARTS = 200


class RawReader:
    """Reads on one raw DBAPI connection (see the module doc). Open with `pooled` or
    `dedicated`; release with `close`."""

    def __init__(self, conn: Any, mark: str, *, dedicated: bool) -> None:
        self._conn = conn
        self._mark = mark
        self._dedicated = dedicated

    @classmethod
    def pooled(cls, engine: Engine) -> RawReader:
        """A reader on a connection checked out of ``engine``'s pool (for a tree load:
        `close` ends its read transaction and returns it)."""
        return cls(engine.raw_connection(), _mark(engine), dedicated=False)

    @classmethod
    def dedicated(cls, engine: Engine) -> RawReader:
        """A reader on a new connection of ``engine`` that its pool no longer counts or
        manages (detached), in autocommit mode: each statement reads what is committed."""
        fairy = engine.raw_connection()
        fairy.detach()
        conn: Any = fairy.dbapi_connection
        if engine.dialect.name != "sqlite":  # SQLite's are autocommit already (database.py)
            try:
                conn.rollback()  # the pool's pre-ping may have begun a transaction
                conn.autocommit = True
            except BaseException:
                conn.close()  # detached: no pool would ever close it
                raise
        return cls(conn, _mark(engine), dedicated=True)

    def close(self) -> None:
        """Release the connection: a pooled one back to its pool, a dedicated one closed."""
        try:
            if not self._dedicated:
                self._conn.rollback()  # PostgreSQL: end the implicit read transaction
        finally:
            self._conn.close()

    def _rows(self, sql: str, params: tuple[int, ...]) -> list[tuple[Any, ...]]:
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def committed_size(self, log: int) -> int:
        """The log's committed size (0 when there is no such log)."""
        rows = self._rows(f"SELECT size FROM logs WHERE id = {self._mark}", (log,))  # noqa: S608
        if not self._dedicated:
            self._conn.rollback()  # each read below sees at least what this one saw
        return int(rows[0][0]) if rows else 0

    def leaf_hashes(self, log: int, start: int, end: int) -> bytes | None:
        """The leaf hashes of entries ``[start, end)``, concatenated; None if one is missing."""
        m = self._mark
        rows = self._rows(
            f"SELECT idx, leaf FROM entries WHERE log = {m} AND idx >= {m} AND idx < {m} "  # noqa: S608
            "ORDER BY idx",
            (log, start, end),
        )
        if len(rows) != end - start:  # (log, idx) is the key: then every idx is there
            return None
        sha = hashlib.sha256
        return b"".join([sha(b"\x00" + unpack(bytes(v))).digest() for _, v in rows])

    def node_hashes(self, log: int, level: int, start: int, end: int) -> bytes | None:
        """The stored node hashes of ``level``, indices ``[start, end)``, concatenated."""
        if end <= start:
            return b"" if end == start else None
        found = self._rows(
            nodetiles.range_select(self._mark), nodetiles.range_params(log, level, start, end - 1)
        )
        # complete tiles' slices and single rows (0028_tiles), in order
        rows = sorted({i: v for _, i, v in nodetiles.rows(found)}.items())
        return _contiguous(rows, start, end, bytes)

    def subtrees(self, log: int, wanted: Sequence[Subtree]) -> dict[Subtree, bytes]:
        """The hashes of ``wanted`` that are stored, in one statement: for levels below
        `LOWEST_STORED_BASE` the aligned blocks of 8 leaves holding them (the hashes of
        only the leaves needed computed here: a stored leaf may have to be inflated
        first), for the others node ranges. A subtree with a row missing is left out."""
        found: dict[Subtree, bytes] = {}
        leaves: dict[int, bytes] = {}  # stored leaf values, hashed when needed
        runs = _runs(wanted)
        for at in range(0, len(runs), MAX_PARTS):  # SQLite: at most 500 terms a statement
            # nodes from single rows and complete tiles (0028_tiles)
            statement = nodetiles.runs_select(self._mark, log, runs[at : at + MAX_PARTS])
            rows = self._rows(*statement)
            for level, idx, value in nodetiles.rows(rows):
                if level:
                    found[Subtree(level, idx << level)] = value
                else:
                    leaves[idx] = value
        out = {}
        for sub in wanted:
            got = _from_leaves(found, leaves, sub)
            if got is not None:
                out[sub] = got
        return out


class LowReads:
    """The dedicated connections one tree reads its hashes below the base on (see the
    module doc): taken idle or opened while fewer than `MAX_IDLE` are open (else the read
    goes through the pool), kept after a clean read, closed after a failed one and by
    `close`."""

    def __init__(self) -> None:
        self._idle: list[RawReader] = []
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        #: one per open dedicated connection, idle or in use
        self._slots = threading.BoundedSemaphore(MAX_IDLE)
        self.closed = False

    def subtrees(self, engine: Engine, log: int, wanted: Sequence[Subtree]) -> dict[Subtree, bytes]:
        """`RawReader.subtrees` on a dedicated connection of ``engine`` (the first engine
        asked; another one, or after `close`, gets a pooled connection for this read).

        Raises the driver's error (the connection is then closed).
        """
        if not wanted:
            return {}
        if self._engine is None:
            self._engine = engine
        reader = None if engine is not self._engine or self.closed else self._take(engine)
        if reader is None:  # another engine, closed, or every dedicated one busy: pooled
            once = RawReader.pooled(engine)
            try:
                return once.subtrees(log, wanted)
            finally:
                once.close()
        try:
            out = reader.subtrees(log, wanted)
        except BaseException:
            self._close(reader)  # a broken connection must not serve the next proof
            raise
        with self._lock:  # against `close` between the check and the append
            if not self.closed:
                self._idle.append(reader)
                return out
        self._close(reader)
        return out

    def _take(self, engine: Engine) -> RawReader | None:
        """An idle dedicated reader, else a new one while fewer than `MAX_IDLE` are open,
        else None."""
        try:
            return self._idle.pop()  # atomic: each idle reader goes to one thread
        except IndexError:
            pass
        if not self._slots.acquire(blocking=False):
            return None
        try:
            return RawReader.dedicated(engine)
        except BaseException:
            self._slots.release()
            raise

    def _close(self, reader: RawReader) -> None:
        try:
            reader.close()
        finally:
            self._slots.release()

    def idle(self) -> int:
        """How many dedicated connections are kept open now."""
        return len(self._idle)

    def close(self) -> None:
        """Close every idle connection; one in use is closed when its read ends."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for reader in idle:
            self._close(reader)


def _mark(engine: Engine) -> str:
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256 of 0x00 and the leaf bytes."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def _contiguous(
    rows: Iterable[tuple[Any, ...]], start: int, end: int, value: Callable[[Any], bytes]
) -> bytes | None:
    """The values of rows numbered ``start, start + 1, ... end - 1``, joined; None if a
    number is missing or a value is not a 32-byte hash."""
    out = bytearray()
    expected = start
    for idx, raw in rows:
        if idx != expected:
            return None
        piece = value(raw)
        if len(piece) != HASH:
            return None
        out += piece
        expected += 1
    return bytes(out) if expected == end else None


def _runs(wanted: Iterable[Subtree]) -> list[tuple[int, int, int]]:
    """(level, first, last) runs of rows to read: for levels below `LOWEST_STORED_BASE`
    whole aligned blocks of 8 leaves (level 0; one range where a proof's low siblings
    would be two around its own leaf), for the others nodes by index."""
    block = 1 << LOWEST_STORED_BASE
    by_level: dict[int, set[int]] = {}
    for s in wanted:
        if s.level < LOWEST_STORED_BASE:
            first = s.start & -block
            by_level.setdefault(0, set()).update(range(first, first + block))
        else:
            by_level.setdefault(s.level, set()).add(s.start >> s.level)
    return consecutive_runs(by_level)


def _from_leaves(
    found: dict[Subtree, bytes], leaves: dict[int, bytes], sub: Subtree
) -> bytes | None:
    """``sub``'s hash: read (a node), hashed from its stored leaf (level 0, kept in
    ``found``), or (levels 1-2) folded from its leaves' hashes; None if missing."""
    if sub.level >= LOWEST_STORED_BASE:
        return found.get(sub)
    if sub.level == 0:
        value = found.get(sub)
        if value is None and sub.start in leaves:
            value = found[sub] = leaf_hash(unpack(leaves[sub.start]))
        return value
    half = 1 << (sub.level - 1)
    left = _from_leaves(found, leaves, Subtree(sub.level - 1, sub.start))
    right = _from_leaves(found, leaves, Subtree(sub.level - 1, sub.start + half))
    if left is None or right is None:
        return None
    return hashlib.sha256(b"\x01" + left + right).digest()
