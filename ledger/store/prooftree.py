"""The upper levels of each log's Merkle tree, held in memory, for proofs without reads.

A proof at a random old size needs ~2 log2(n) perfect-subtree hashes that no other
random size shares, so a cache of hashes already read rarely holds them and each proof
paid a read transaction (docs/PERFORMANCE.md, figure 4). `ProofTree` instead keeps every
perfect subtree at levels >= ``base`` of the committed tree in one ``bytearray`` per level
(32 bytes a hash, no per-object overhead: ``64 / 2**base`` bytes per entry in all), read
once and extended as the log grows, so that a proof is planned and assembled from memory:

- ``base`` is 0 (every level, leaves included: 64 B/entry) while that fits the budget
  (`DEFAULT_BUDGET`, per log and process), else the lowest level >= 3 that fits (8, 4, 2
  ... B/entry). A proof then reads only its hashes below ``base`` (at most a few leaves
  and nodes, one statement). When the log outgrows the budget, the lowest levels are
  dropped (nothing is read again).
- Only committed data is ever held: an extension reads the log's committed size first,
  then only rows below it (rows of committed entries never change: the log is
  append-only), so every size this tree answers for was committed. A proof at a larger
  size than the tree holds goes to the store's checked path.
- The base level is read from the store (leaves, hashed here, or stored nodes); every
  level above is computed from the one below, so the levels are one tree.
- Extensions run under one lock, on raw driver connections of the primary (a bulk read
  without SQLAlchemy's per-row work): a small gap in the caller's thread, a large one
  (the first load of a big log) in a background thread while proofs keep the store's
  path. Readers never lock: they read below ``size``, which moves only after the arrays
  it covers are written.

Not here: which store path to fall back to (ledger.store.repository), proof planning
(ledger.merkle).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Engine

from ledger.merkle import Range, Subtree
from ledger.store.leafpack import unpack

HASH = 32
#: bytes of hashes one log's tree may hold in one process (128 MiB: every level up to
#: 2 Mi entries, levels >= 3 up to 16 Mi entries)
DEFAULT_BUDGET = 128 << 20
#: a gap of at most this many base-level rows is read in the caller's thread
SYNC_ROWS = 20_000
#: base-level rows per read statement while extending
CHUNK_ROWS = 50_000
#: the lowest base above 0: levels 1 and 2 are not stored (ledger.store.queries)
LOWEST_STORED_BASE = 3

Folded = dict[tuple[int, int, int], bytes]


def choose_base(size: int, budget: int) -> int:
    """The lowest level whose tree of ``size`` entries fits ``budget`` bytes: 0, or >= 3.

    A tree holding levels >= b takes about ``64 * size / 2**b`` bytes.
    """
    if 64 * size <= budget:
        return 0
    base = LOWEST_STORED_BASE
    while (64 * size) >> base > budget and size >> base:
        base += 1
    return base


class ProofTree:
    """One log's committed tree, levels >= ``base``, in memory (see the module doc)."""

    def __init__(self, log: int, budget: int = DEFAULT_BUDGET) -> None:
        self.log = log
        self.budget = budget
        #: levels[L]: the hashes of the perfect subtrees of level L, 32 bytes each, in order
        self.levels: list[bytearray] = []
        #: the lowest level held; None until the first extension chose it
        self.base: int | None = None
        #: every perfect subtree of levels >= base within the first ``size`` leaves is held
        self.size = 0
        #: why extending stopped for good (a missing or malformed row), else None
        self.broken: str | None = None
        self.closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- serving ----------------------------------------------------------------------

    def proof(
        self, ranges: Sequence[Range], folded: Folded, low: dict[Subtree, bytes] | None = None
    ) -> list[bytes] | None:
        """The MTH of each range (a proof), from memory; None when a hash below ``base``
        is needed and not in ``low`` (then ask `below_base` for them and call again).

        The caller has checked that the ranges lie within ``size``. Ranges that are not
        one perfect subtree (right edges) are folded once and kept in ``folded``.
        """
        # one snapshot: `_fit_budget` sets a higher base before it swaps in a list with
        # the lowest levels emptied, so this list holds every level >= this base
        levels, base = self.levels, self.base or 0
        out = []
        for start, end in ranges:
            width = end - start
            if not width & (width - 1):  # one perfect subtree (the ranges are aligned)
                level = width.bit_length() - 1
                if level >= base:
                    at = (start >> level) * HASH
                    held = bytes(levels[level][at : at + HASH])
                    if len(held) != HASH:  # never within size; refuse rather than guess
                        return None
                    out.append(held)
                    continue
                read = low.get(Subtree(level, start)) if low else None
                if read is None:
                    return None
                out.append(read)
                continue
            key = (self.log, start, end)
            edge = folded.get(key)
            if edge is None:
                edge = _fold(levels, base, start, end, low)
                if edge is None:
                    return None
                folded[key] = edge
            out.append(edge)
        return out

    def below_base(self, ranges: Sequence[Range], folded: Folded) -> list[Subtree]:
        """The perfect subtrees below ``base`` that `proof` of ``ranges`` needs."""
        base = self.base or 0
        out: set[Subtree] = set()
        for start, end in ranges:
            width = end - start
            if not width & (width - 1):  # one perfect subtree
                level = width.bit_length() - 1
                if level < base:
                    out.add(Subtree(level, start))
            elif (self.log, start, end) not in folded:
                out.update(
                    Subtree(lv, first) for lv, first in _piece_pairs(start, end) if lv < base
                )
        return sorted(out)

    def read_below_base(self, engine: Engine, wanted: Sequence[Subtree]) -> dict[Subtree, bytes]:
        """The hashes of ``wanted`` (subtrees below ``base`` within ``size``: committed),
        in one statement on a raw connection of the primary: a leaf range for levels
        0-2 (their hashes computed from the leaves), a node range for the others. A
        subtree whose rows are missing is left out (the caller then takes the checked
        path, which reports it)."""
        reader = _RawReader(engine)
        try:
            return reader.subtrees(self.log, wanted)
        finally:
            reader.close()

    # --- extending --------------------------------------------------------------------

    def catch_up(self, engine: Engine, *, wait: bool = False) -> None:
        """Extend to the log's committed size: at once if the gap is small (or ``wait``),
        else in a background thread. Returns at once if an extension is under way (and
        ``wait`` is false) or the tree is broken or closed.
        """
        if self.broken or self.closed:
            return
        if not self._lock.acquire(blocking=wait):
            return
        handed = False
        try:
            reader = _RawReader(engine)
            try:
                committed = reader.committed_size(self.log)
                if self.base is None:
                    self.base = choose_base(committed, self.budget)
                gap = (committed >> self.base) - (self.size >> self.base)
                if wait or gap <= SYNC_ROWS:
                    self._extend(reader, committed)
                    return
            finally:
                reader.close()
            thread = threading.Thread(
                target=self._extend_in_background,
                args=(engine, committed),
                name=f"proof-tree-{self.log}",
                daemon=True,
            )
            self._thread = thread
            thread.start()
            handed = True  # the thread releases the lock
        finally:
            if not handed:
                self._lock.release()

    def close(self, timeout: float = 10.0) -> None:
        """Stop any background extension (between two chunks) and wait for it."""
        self.closed = True
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _extend_in_background(self, engine: Engine, committed: int) -> None:
        try:
            reader = _RawReader(engine)
            try:
                self._extend(reader, committed)
            finally:
                reader.close()
        except Exception as e:  # a failed load leaves the store's path in use
            self.broken = f"proof tree load failed: {e}"
        finally:
            self._lock.release()

    def _extend(self, reader: _RawReader, committed: int) -> None:
        """Read and compute every level up to ``committed`` leaves, chunk by chunk;
        ``size`` moves after each chunk's arrays are complete. Holds the lock."""
        base = self.base or 0
        while self.size < committed and not self.closed and not self.broken:
            have = len(self._level(base)) // HASH
            end = min(committed, (have + CHUNK_ROWS) << base)
            want = end >> base
            if want > have:
                if base == 0:
                    got = reader.leaf_hashes(self.log, have, want)
                else:
                    got = reader.node_hashes(self.log, base, have, want)
                if got is None:
                    self.broken = f"log {self.log}: rows missing below size {committed}"
                    return
                self._level(base).extend(got)
            self._compute_above(base, end)
            self.size = end
            base = self._fit_budget(base)

    def _level(self, level: int) -> bytearray:
        while len(self.levels) <= level:
            self.levels.append(bytearray())
        return self.levels[level]

    def _compute_above(self, base: int, end: int) -> None:
        """Every level above ``base`` from the one below, up to ``end`` leaves."""
        level = base + 1
        while end >> level:
            below, here = self.levels[level - 1], self._level(level)
            sha = hashlib.sha256
            for j in range(len(here) // HASH, end >> level):
                at = 2 * j * HASH
                here.extend(sha(b"\x01" + below[at : at + 2 * HASH]).digest())
            level += 1

    def _fit_budget(self, base: int) -> int:
        """Drop the lowest levels while the tree exceeds the budget; return the base."""
        wanted = choose_base(self.size, self.budget)
        if wanted <= base:
            return base
        kept = list(self.levels)
        for level in range(base, min(wanted, len(kept))):
            kept[level] = bytearray()
        # base first, then the list: a reader that sees the new list sees the new base,
        # and one holding the old list still finds every level in it
        self.base = wanted
        self.levels = kept
        return wanted


class ProofTrees:
    """The `ProofTree` of each log of one database, shared by the stores derived from one
    `ledger.store.repository.Store` (one per process)."""

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self.budget = budget
        self._trees: dict[int, ProofTree] = {}
        self._lock = threading.Lock()

    def get(self, log: int) -> ProofTree:
        """The tree of ``log`` (empty until its first extension)."""
        tree = self._trees.get(log)
        if tree is None:
            with self._lock:
                tree = self._trees.setdefault(log, ProofTree(log, self.budget))
        return tree

    def close(self) -> None:
        """Stop every tree's background extension."""
        for tree in list(self._trees.values()):
            tree.close()


class _RawReader:
    """Bulk reads on one raw driver connection of the primary (no SQLAlchemy row work)."""

    def __init__(self, engine: Engine) -> None:
        self._conn: Any = engine.raw_connection()
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def close(self) -> None:
        try:
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
        return _contiguous(rows, start, end, lambda v: _leaf_hash(unpack(bytes(v))))

    def node_hashes(self, log: int, level: int, start: int, end: int) -> bytes | None:
        """The stored node hashes of ``level``, indices ``[start, end)``, concatenated."""
        m = self._mark
        rows = self._rows(
            f"SELECT idx, hash FROM nodes WHERE log = {m} AND level = {m} "  # noqa: S608
            f"AND idx >= {m} AND idx < {m} ORDER BY idx",
            (log, level, start, end),
        )
        return _contiguous(rows, start, end, bytes)

    def subtrees(self, log: int, wanted: Sequence[Subtree]) -> dict[Subtree, bytes]:
        """See `ProofTree.read_below_base`."""
        m = self._mark
        leaf = f"SELECT 0, idx, leaf FROM entries WHERE log = {m} AND idx BETWEEN {m} AND {m}"  # noqa: S608
        node = (
            f"SELECT level, idx, hash FROM nodes WHERE log = {m} AND level = {m} "  # noqa: S608
            f"AND idx BETWEEN {m} AND {m}"
        )
        parts: list[str] = []
        params: list[int] = []
        for level, first, last in _runs(wanted):
            parts.append(node if level else leaf)
            params.extend((log, level, first, last) if level else (log, first, last))
        found: dict[Subtree, bytes] = {}
        if parts:
            for level, idx, value in self._rows(" UNION ALL ".join(parts), tuple(params)):
                found[Subtree(level, idx << level)] = (
                    bytes(value) if level else _leaf_hash(unpack(bytes(value)))
                )
        out = {}
        for sub in wanted:
            value = _from_leaves(found, sub)
            if value is not None:
                out[sub] = value
        return out


def _fold(
    levels: list[bytearray], base: int, start: int, end: int, low: dict[Subtree, bytes] | None
) -> bytes | None:
    """MTH of a right-edge range: its perfect pieces folded right to left; None when a
    piece is neither held nor in ``low``."""
    hashes = []
    for level, first in _piece_pairs(start, end):
        if level >= base:
            at = (first >> level) * HASH
            value = bytes(levels[level][at : at + HASH])
        else:
            value = (low.get(Subtree(level, first)) if low else None) or b""
        if len(value) != HASH:
            return None
        hashes.append(value)
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hashlib.sha256(b"\x01" + h + acc).digest()
    return acc


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
    """(level, first, last) runs of rows to read: leaves for levels below
    `LOWEST_STORED_BASE`, nodes (by index) for the others."""
    by_level: dict[int, set[int]] = {}
    for s in wanted:
        if s.level < LOWEST_STORED_BASE:
            by_level.setdefault(0, set()).update(range(s.start, s.end))
        else:
            by_level.setdefault(s.level, set()).add(s.start >> s.level)
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


def _from_leaves(found: dict[Subtree, bytes], sub: Subtree) -> bytes | None:
    """``sub``'s hash: read, or (levels 1-2) folded from its leaves; None if missing."""
    if sub.level == 0 or sub.level >= LOWEST_STORED_BASE:
        return found.get(sub)
    half = 1 << (sub.level - 1)
    left = _from_leaves(found, Subtree(sub.level - 1, sub.start))
    right = _from_leaves(found, Subtree(sub.level - 1, sub.start + half))
    if left is None or right is None:
        return None
    return hashlib.sha256(b"\x01" + left + right).digest()


def _leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _piece_pairs(start: int, end: int) -> list[tuple[int, int]]:
    """(level, start) of the perfect pieces of an aligned range, largest first."""
    out = []
    rest = end - start
    while rest:
        level = rest.bit_length() - 1
        out.append((level, start))
        start, rest = start + (1 << level), rest - (1 << level)
    return out
