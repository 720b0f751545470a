"""A batch update of the map of heads working on its buckets (ledger.map.buckets).

`BucketMap` holds the buckets read or written so far (the top ones stay between
batches: ledger.service.headmap.MapCache), reads the others through a callable (one
query per bucket level, at the first bucket of the level found missing), and applies a
batch of new heads by rebuilding each changed node once, recursing bucket by bucket on
slot numbers (no position bytes, no per-row objects). Each node is held as its entry's
bytes (ledger.map.buckets), so a changed bucket's row is its entries joined
(`BucketMap.rows`), and a stored leaf is hashed only where its parent is rehashed. The
result is the map
`ledger.map.update` computes one node a position, hash for hash
(tests/unit/test_map_buckets.py).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Protocol

from ledger.errors import ValidationError
from ledger.map.buckets import (
    INTERNAL,
    INTERNAL_SIZE,
    LEAF,
    Bucket,
    BucketReader,
    CorruptBucketError,
    Node,
    decode,
    leaf_head,
    missing,
    tail,
    too_deep,
    value,
)
from ledger.map.trie import EMPTY, KEY_BITS, KEY_BYTES, LEAF_PREFIX, NODE_PREFIX, Head
from ledger.map.update import ROOT, _at

_sha256 = hashlib.sha256  # bound once: the update's hot loop

#: buckets whose top is at most this deep stay in memory between batches (the nodes at
#: depths up to 16, about 4,400 rows at most)
CACHED_TOP = 12
#: `lookup` reads the buckets of this many levels below a missing one in the same query
_PATH_READ = 32


class CompiledWalk(Protocol):
    """What `BucketMap.update` calls of its compiled walk (ledger.native.bucketmap)."""

    #: the SHA-256 of the C source it was built from (setup.py)
    SOURCE_SHA256: str

    def update(
        self,
        bucket_map: BucketMap,
        tails: list[bytes],
        cached_top: int,
        missing: Callable[[int], CorruptBucketError],
        too_deep: Callable[[int], CorruptBucketError],
    ) -> bytes:
        """The root after the walk over ``tails`` (sorted, one a key)."""
        ...

    def rows(self, buckets: dict[int, Bucket], dirty: set[int]) -> list[tuple[bytes, bytes]]:
        """`BucketMap.rows` of ``dirty`` (the set left as it is)."""
        ...


compiled_walk: CompiledWalk | None
try:  # the walk of `update` in C (setup.py); where it was not built, the Python below
    from ledger.native import bucketmap as _native_walk

    compiled_walk = _native_walk
except ImportError:
    compiled_walk = None


def _empty_read(_positions: list[bytes]) -> dict[bytes, bytes]:
    return {}


class BucketMap:
    """A map of heads as buckets in memory, reading missing ones through ``read``.

    Buckets are keyed by ``path << 9 | T`` (the top node's path and depth ``T``); a
    bucket maps slots to nodes (ledger.map.buckets). ``root_bucket`` is the stored root
    bucket (None or empty: an empty map); with the default ``read`` nothing else is
    stored (a map built from nothing).
    """

    def __init__(self, read: BucketReader = _empty_read, root_bucket: Bucket | None = None) -> None:
        self.buckets: dict[int, Bucket] = {0: root_bucket or {}}
        self.dirty: set[int] = set()
        self.read = read
        self._deep: set[int] = set()  # buckets below CACHED_TOP, held for one batch
        self._keys: list[bytes] = []
        self._tails: list[bytes] = []  # each changed key's leaf bytes after the slot
        self._ints: list[int] = []
        #: `update`'s walk in C (None: the Python methods), the same bytes either way
        self.compiled: CompiledWalk | None = compiled_walk

    def root(self) -> bytes:
        """The root hash (`ledger.map.trie.EMPTY` for an empty map)."""
        return value(self.buckets[0].get(1))

    def root_node(self) -> Node | None:
        """The root node's entry as stored (None: an empty map)."""
        return self.buckets[0].get(1)

    def update(self, changes: Mapping[bytes, Head]) -> bytes:
        """Apply ``changes`` (key -> new head); return the new root hash. The buckets it
        changes are marked for `rows`.

        Raises:
            ValidationError: a key is not 32 bytes.
            CorruptBucketError: a stored bucket it reads is damaged or missing.
        """
        items = sorted(changes.items())
        if any(len(key) != KEY_BYTES for key, _ in items):
            raise ValidationError(f"a map key is {KEY_BYTES} bytes", field="key")
        self._keys = [key for key, _ in items]
        self._tails = [tail(key, head) for key, head in items]
        self._ints = [int.from_bytes(key, "big") for key in self._keys]
        if not items:
            return self.root()
        if self.compiled is not None:
            return self.compiled.update(self, self._tails, CACHED_TOP, missing, too_deep)
        self.dirty.add(0)
        return self._node(self.buckets[0], 0, 0, 1, 0, 0, 0, len(items))

    def _fetch_level(self, top: int) -> None:
        """Read, in one query, the buckets with top ``top`` that the changed keys' paths
        enter and that are not in memory (a path enters the bucket below when its parent
        bucket's bottom node on the path is an internal node). `_node` calls it at the
        first bucket it finds missing there, so levels kept in memory cost nothing; a
        node made internal by this batch has its bucket already (`_place`)."""
        buckets, shift, wanted = self.buckets, KEY_BITS - top, set()
        for path in {number >> shift for number in self._ints}:
            key = (path << 9) | top
            if key in buckets:
                continue
            parent = buckets.get(((path >> 4) << 9) | (top - 4))
            if parent is not None:
                node = parent.get(16 | (path & 15))
                if node is not None and len(node) == INTERNAL_SIZE:
                    wanted.add(key)
        if wanted:
            self._load(wanted, top)

    def _load(self, wanted: set[int], top: int) -> None:
        got = self.read([_at(key >> 9, top) for key in wanted])
        for key in wanted:
            data = got.get(_at(key >> 9, top))
            if data is None:
                raise missing(top)
            self.buckets[key] = decode(data)
        if top > CACHED_TOP:
            self._deep |= wanted

    def lookup(self, key: bytes) -> Head | None:
        """The head of ``key`` in the map (None: absent); reads the buckets on its path
        not in memory (those below `CACHED_TOP` are kept until `forget_deep`).

        Raises:
            CorruptBucketError: a stored bucket on the path is damaged or missing.
        """
        number, buckets = int.from_bytes(key, "big"), self.buckets
        node, depth = buckets[0].get(1), 0
        while node is not None and len(node) == INTERNAL_SIZE:
            top = (depth >> 2) << 2
            bucket_key = ((number >> (KEY_BITS - top)) << 9) | top
            bucket = buckets.get(bucket_key)
            if bucket is None:
                self._read_path(number, top)
                bucket = buckets.get(bucket_key)
                if bucket is None:
                    raise missing(depth)
            rel = depth + 1 - top
            node = bucket.get((1 << rel) | ((number >> (KEY_BITS - depth - 1)) & ((1 << rel) - 1)))
            depth += 1
        return leaf_head(node) if node is not None and node[1:33] == key else None

    def _read_path(self, number: int, first: int) -> None:
        """Read the buckets on the path of ``number`` from depth ``first`` down, up to
        `_PATH_READ` levels, in one query (those not stored are simply not there)."""
        buckets = self.buckets
        wanted = {}
        for top in range(first, min(first + _PATH_READ, KEY_BITS), 4):
            key = ((number >> (KEY_BITS - top)) << 9) | top
            if key not in buckets:
                wanted[_at(key >> 9, top)] = key
        got = self.read(list(wanted))
        for pos, data in got.items():
            key = wanted[pos]
            buckets[key] = decode(data)
            if key & 0x1FF > CACHED_TOP:
                self._deep.add(key)

    def forget_deep(self, keep: int = 0) -> None:
        """Drop the buckets below `CACHED_TOP` (read or built since they were last
        dropped), unless there are at most ``keep`` of them: a process whose only work is
        the map (ledger.service.mapchild) keeps a map of up to ``keep`` such buckets whole
        (~1 KB each), so that its batches read none; past that it drops them all."""
        if len(self._deep) <= keep:
            return
        for key in self._deep:
            self.buckets.pop(key, None)
        self._deep = set()

    def _node(
        self, bucket: Bucket, key: int, top: int, slot: int, rel: int, path: int,
        lo: int, hi: int,
    ) -> bytes:  # fmt: skip
        """The node at ``slot`` of ``bucket`` with the changed keys ``[lo, hi)`` below it:
        rebuilt, its entry stored in its slot; returns its hash."""
        node = bucket.get(slot)
        if node is None or len(node) != INTERNAL_SIZE:  # empty or a leaf: built anew here
            self.dirty.add(key)
            if hi - lo == 1:  # the common cases: one key, no slices
                one = self._tails[lo]
                if node is None or node[1:33] == self._keys[lo]:
                    bucket[slot] = LEAF[slot] + one
                    return _sha256(LEAF_PREFIX + one).digest()
                new = self._pair(top + rel, one, self._ints[lo], node)
            else:
                new, leaf = self._fresh(top + rel, lo, hi, node)
                if leaf is not None:
                    bucket[slot] = LEAF[slot] + leaf
                    return new
            bucket[slot] = INTERNAL[slot] + new
            return new
        # a stored internal node: its children are in this bucket, or at the top of the
        # bucket below (slots 2 and 3 there) when this node is this bucket's bottom
        depth = top + rel
        if depth >= KEY_BITS:  # damaged rows: no key has a bit there to follow
            raise too_deep(depth)
        if rel == 4:
            key, top, rel, below = (path << 9) | depth, depth, 0, 2
            self.dirty.add(key)
            found = self.buckets.get(key)
            if found is None:  # the first of this level not in memory: read them all
                self._fetch_level(depth)
                found = self.buckets.get(key)
                if found is None:
                    raise missing(depth)
            children = found
        else:
            children, below = bucket, 2 * slot
        mid = bisect_left(self._ints, ((path << 1) | 1) << (KEY_BITS - depth - 1), lo, hi)
        if mid > lo:
            low = self._node(children, key, top, below, rel + 1, path << 1, lo, mid)
        else:  # the untouched child's hash, inline (`value`)
            child = children.get(below)
            low = (
                EMPTY if child is None
                else child[1:] if len(child) == INTERNAL_SIZE
                else _sha256(LEAF_PREFIX + child[1:]).digest()
            )  # fmt: skip
        if hi > mid:
            high = self._node(children, key, top, below + 1, rel + 1, (path << 1) | 1, mid, hi)
        else:
            child = children.get(below + 1)
            high = (
                EMPTY if child is None
                else child[1:] if len(child) == INTERNAL_SIZE
                else _sha256(LEAF_PREFIX + child[1:]).digest()
            )  # fmt: skip
        new = _sha256(NODE_PREFIX + low + high).digest()
        bucket[slot] = INTERNAL[slot] + new
        return new

    def _fresh(
        self, depth: int, lo: int, hi: int, stored: Node | None
    ) -> tuple[bytes, bytes | None]:
        """The subtree at ``depth`` built from the changed keys ``[lo, hi)`` (two or
        more) and the stored leaf that was there (unless a change replaces its head):
        its hash, and its leaf's bytes after the slot if it is a leaf."""
        tails, ints = self._tails[lo:hi], self._ints[lo:hi]
        if stored is not None and stored[1:33] not in self._keys[lo:hi]:
            number = int.from_bytes(stored[1:33], "big")
            at = bisect_left(ints, number)
            tails.insert(at, stored[1:])
            ints.insert(at, number)
        return self._build(depth, tails, ints)

    def _pair(self, depth: int, leaf: bytes, number: int, other: Node) -> bytes:
        """The hash of the subtree at ``depth`` of two leaves: ``leaf`` (a leaf's bytes
        after the slot, its key's integer ``number``) and ``other``, a stored leaf's
        entry, moved to its new slot as it is."""
        other_leaf = other[1:]
        other_number = int.from_bytes(other_leaf[:KEY_BYTES], "big")
        if other_number < number:
            number, other_number, leaf, other_leaf = other_number, number, other_leaf, leaf
        split = KEY_BITS - (number ^ other_number).bit_length()
        at_split = number >> (KEY_BITS - split)
        self._place_leaves(split + 1, at_split << 1, leaf, other_leaf)
        pair = _sha256(
            NODE_PREFIX
            + _sha256(LEAF_PREFIX + leaf).digest()
            + _sha256(LEAF_PREFIX + other_leaf).digest()
        ).digest()
        return self._chain(depth, split, number, pair)

    def _build(self, depth: int, tails: list[bytes], ints: list[int]) -> tuple[bytes, bytes | None]:
        """The node at ``depth`` over the leaves ``tails`` (sorted; their keys' integers
        ``ints``), every node below it placed: its hash, and its leaf's bytes after the
        slot if it is a leaf."""
        if len(ints) == 1:
            return _sha256(LEAF_PREFIX + tails[0]).digest(), tails[0]
        split = KEY_BITS - (ints[0] ^ ints[-1]).bit_length()
        at_split = ints[0] >> (KEY_BITS - split)
        if len(ints) == 2:  # the common case (a new key beside a stored leaf): two leaves
            self._place_leaves(split + 1, at_split << 1, tails[0], tails[1])
            pair = _sha256(
                NODE_PREFIX
                + _sha256(LEAF_PREFIX + tails[0]).digest()
                + _sha256(LEAF_PREFIX + tails[1]).digest()
            ).digest()
        else:
            mid = bisect_left(ints, ((at_split << 1) | 1) << (KEY_BITS - split - 1))
            low, low_leaf = self._build(split + 1, tails[:mid], ints[:mid])
            high, high_leaf = self._build(split + 1, tails[mid:], ints[mid:])
            self._place(split + 1, at_split << 1, low, low_leaf)
            self._place(split + 1, (at_split << 1) | 1, high, high_leaf)
            pair = _sha256(NODE_PREFIX + low + high).digest()
        return self._chain(depth, split, ints[0], pair), None

    def _chain(self, depth: int, split: int, number: int, new: bytes) -> bytes:
        """The hash of the node at ``depth`` above the internal node of hash ``new`` at
        ``split`` on the path of ``number``: the chain of one-child nodes between them
        placed, its top's hash returned."""
        for level in range(split - 1, depth - 1, -1):
            below = number >> (KEY_BITS - level - 1)
            self._place(level + 1, below, new, None)
            pair = EMPTY + new if below & 1 else new + EMPTY
            new = _sha256(NODE_PREFIX + pair).digest()
        return new

    def _bucket(self, depth: int, path: int) -> tuple[Bucket, int]:
        """The bucket (made if new, marked changed) holding the node at ``depth`` (>= 1)
        on ``path``, and its slot there."""
        top = ((depth - 1) >> 2) << 2
        rel = depth - top
        key = ((path >> rel) << 9) | top
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {}
        if top > CACHED_TOP:
            self._deep.add(key)
        self.dirty.add(key)
        return bucket, (1 << rel) | (path & ((1 << rel) - 1))

    def _place(self, depth: int, path: int, subtree_hash: bytes, leaf: bytes | None) -> None:
        """Put the node at ``depth`` on ``path`` in its bucket: the leaf ``leaf`` (its
        bytes after the slot) if given, else the internal node ``subtree_hash``."""
        bucket, slot = self._bucket(depth, path)
        bucket[slot] = INTERNAL[slot] + subtree_hash if leaf is None else LEAF[slot] + leaf

    def _place_leaves(self, depth: int, path: int, low: bytes, high: bytes) -> None:
        """Put the leaves ``low`` and ``high`` (their bytes after the slot) at ``depth``,
        on ``path`` and beside it (``path + 1``)."""
        bucket, slot = self._bucket(depth, path)
        bucket[slot] = LEAF[slot] + low
        bucket[slot + 1] = LEAF[slot + 1] + high

    def root_row(self) -> bytes:
        """The root bucket's row, as `rows` gives it."""
        return b"".join(self.buckets[0].values())

    def rows(self) -> list[tuple[bytes, bytes]]:
        """The changed buckets as (position of the top, row), in position order; forgets
        which were changed."""
        if self.compiled is not None:
            out = self.compiled.rows(self.buckets, self.dirty)
            self.dirty = set()
            return out
        buckets = self.buckets
        out = [(_at(key >> 9, key & 0x1FF), b"".join(buckets[key].values())) for key in self.dirty]
        self.dirty = set()
        out.sort()
        return out


__all__ = ["CACHED_TOP", "ROOT", "BucketMap", "CompiledWalk", "compiled_walk"]
