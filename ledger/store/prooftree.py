"""The upper levels of each log's Merkle tree, held in memory, for proofs without reads.

A proof at a random old size needs ~2 log2(n) perfect-subtree hashes that no other
random size shares, so a cache of hashes already read rarely holds them and each proof
paid a read transaction (docs/PERFORMANCE.md, figure 4). `ProofTree` instead keeps the
perfect subtrees of the committed tree in one ``bytearray`` per level (32 bytes a hash,
no per-object overhead), read once and extended as the log grows, so that a proof is
planned and assembled from memory:

- ``base`` is 0 while that fits the budget (`DEFAULT_BUDGET`, per log and process): the
  leaf hashes and every level >= 3, 40 B/entry (as the store, levels 1 and 2 are not
  held: a proof computes its one level-1 and one level-2 hash from 2 and 4 leaf hashes).
  Every proof is then served from memory. Else ``base`` is the lowest level >= 3 whose
  levels fit (``64 / 2**base`` B/entry: 8, 4, 2 ...), and a proof reads its hashes below
  ``base`` (a block of 8 leaves and a few nodes, one statement on a dedicated connection:
  ledger.store.treereads). When the log outgrows the budget, the lowest levels are
  dropped (nothing is read again).
- Only committed data is ever held: an extension reads the log's committed size first,
  then only rows below it (rows of committed entries never change: the log is
  append-only), so every size this tree answers for was committed. A proof at a larger
  size than the tree holds goes to the store's checked path.
- The base level is read from the store (leaves, hashed here, or stored nodes); every
  level above is computed from the ones below, so the levels are one tree.
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
from collections.abc import Sequence

from sqlalchemy import Engine

from ledger.merkle import Range, Subtree
from ledger.store.treereads import HASH, LOWEST_STORED_BASE, LowReads, RawReader

#: bytes of hashes one log's tree may hold in one process, a cap (the arrays grow with the
#: log). 512 MiB: every hash a proof needs up to 13.4 million entries (40 B/entry: 381
#: MiB at 10^7), levels >= 3 up to 67 million entries, levels >= 4 up to 134 million
DEFAULT_BUDGET = 512 << 20
#: bytes per entry with ``base`` 0: leaf hashes (32) and levels >= 3 (8)
ALL_NEEDED = 40
#: a gap of at most this many base-level rows is read in the caller's thread
SYNC_ROWS = 20_000
#: base-level rows per read statement while extending
CHUNK_ROWS = 50_000

Folded = dict[tuple[int, int, int], bytes]


def choose_base(size: int, budget: int) -> int:
    """The lowest level whose tree of ``size`` entries fits ``budget`` bytes: 0, or >= 3.

    With base 0 the tree takes about `ALL_NEEDED` ``* size`` bytes; holding levels
    >= b >= 3, ``64 * size / 2**b``.
    """
    if ALL_NEEDED * size <= budget:
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
        #: dedicated connections for the reads below ``base`` (ledger.store.treereads)
        self.low_reads = LowReads()

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
                    if level == 0 or level >= LOWEST_STORED_BASE:  # held as is (inlined)
                        at = (start >> level) * HASH
                        held: bytes | None = bytes(levels[level][at : at + HASH])
                    else:
                        held = _held(levels, level, start)
                    if held is None or len(held) != HASH:  # never within size: refuse
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
        in one statement on a dedicated raw connection of the primary (kept between
        proofs: no pool checkout): the block of 8 leaves holding each wanted subtree of
        levels 0-2 (their hashes computed from the leaves), a node range for the others.
        A subtree whose rows are missing is left out (the caller then takes the checked
        path, which reports it). Raises the driver's error."""
        return self.low_reads.subtrees(engine, self.log, wanted)

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
            reader = RawReader.pooled(engine)
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
        """Stop any background extension (between two chunks) and wait for it; close
        the dedicated connections."""
        self.closed = True
        self.low_reads.close()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _extend_in_background(self, engine: Engine, committed: int) -> None:
        try:
            reader = RawReader.pooled(engine)
            try:
                self._extend(reader, committed)
            finally:
                reader.close()
        except Exception as e:  # a failed load leaves the store's path in use
            self.broken = f"proof tree load failed: {e}"
        finally:
            self._lock.release()

    def _extend(self, reader: RawReader, committed: int) -> None:
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
        """Every held level above ``base`` from the ones below, up to ``end`` leaves."""
        level = base + 1
        if base == 0:  # levels 1 and 2 are not held: level 3 from blocks of 8 leaf hashes
            leaves, here = self.levels[0], self._level(LOWEST_STORED_BASE)
            first, block = len(here) // HASH, HASH << LOWEST_STORED_BASE
            row = _split(leaves[first * block : (end >> LOWEST_STORED_BASE) * block])
            for _ in range(LOWEST_STORED_BASE):
                row = _level_up(row)
            here.extend(b"".join(row))
            level = LOWEST_STORED_BASE + 1
        while end >> level:
            below, here = self.levels[level - 1], self._level(level)
            first = len(here) // HASH
            pairs = below[2 * first * HASH : 2 * (end >> level) * HASH]
            here.extend(b"".join(_level_up(_split(pairs))))
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


def _fold(
    levels: list[bytearray], base: int, start: int, end: int, low: dict[Subtree, bytes] | None
) -> bytes | None:
    """MTH of a right-edge range: its perfect pieces folded right to left; None when a
    piece is neither held nor in ``low``."""
    hashes = []
    for level, first in _piece_pairs(start, end):
        if level >= base:
            value = _held(levels, level, first) or b""
        else:
            value = (low.get(Subtree(level, first)) if low else None) or b""
        if len(value) != HASH:
            return None
        hashes.append(value)
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hashlib.sha256(b"\x01" + h + acc).digest()
    return acc


def _held(levels: list[bytearray], level: int, start: int) -> bytes | None:
    """The hash of the perfect subtree (``level``, ``start``) from memory, the level held
    (or, levels 1 and 2 with base 0, folded from its 2 or 4 leaf hashes: the levels below
    `LOWEST_STORED_BASE`, 3); None if not there."""
    if 0 < level < LOWEST_STORED_BASE:
        width = HASH << level
        at = start * HASH
        leaves = bytes(levels[0][at : at + width])
        if len(leaves) != width:
            return None
        sha = hashlib.sha256
        if level == 1:  # the two leaf hashes are adjacent: one hash of the 64 bytes
            return sha(b"\x01" + leaves).digest()
        left, right = sha(b"\x01" + leaves[:64]).digest(), sha(b"\x01" + leaves[64:]).digest()
        return sha(b"\x01" + left + right).digest()
    at = (start >> level) * HASH
    held = bytes(levels[level][at : at + HASH])
    return held if len(held) == HASH else None


def _split(hashes: bytes | bytearray) -> list[bytes]:
    """Concatenated hashes, one by one."""
    return [bytes(hashes[at : at + HASH]) for at in range(0, len(hashes), HASH)]


def _level_up(row: list[bytes]) -> list[bytes]:
    """The parents of an even number of sibling hashes, in order."""
    sha = hashlib.sha256
    pairs = iter(row)  # zip of one iterator with itself: (0, 1), (2, 3), ...
    return [sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=True)]


def _piece_pairs(start: int, end: int) -> list[tuple[int, int]]:
    """(level, start) of the perfect pieces of an aligned range, largest first."""
    out = []
    rest = end - start
    while rest:
        level = rest.bit_length() - 1
        out.append((level, start))
        start, rest = start + (1 << level), rest - (1 << level)
    return out
