"""A map of heads held as buckets of four trie levels (the probe of bench.mapbuckets).

Not the product's code: the bucket-native batch update that `bench.mapbuckets` measures
against the current map step (its module doc has the layout), and a proof read from
bucket rows. A bucket is the canonical trie (ledger.map.trie) below a node at a depth
``T`` divisible by 4, cut four levels down; its row is keyed by the position of that top
node (ledger.map.update.position) and holds every node at depths ``T + 1 .. T + 4``
below it as one entry: a slot byte (``(1 << r) | bits`` for the node ``r`` levels down,
0x80 added for a leaf), then an internal node's 32-byte hash, or a leaf's key, index (8
bytes, big-endian) and entry hash. The root's bucket also holds the root, in slot 1.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Mapping

from ledger.map import proof as map_proof
from ledger.map import update as map_update
from ledger.map.trie import EMPTY, KEY_BITS, NODE_PREFIX, Head, Path, leaf_hash

#: reads bucket rows by the positions of their tops (absent ones left out)
BucketReader = Callable[[list[bytes]], dict[bytes, bytes]]

#: a leaf entry: key, head, leaf hash, and its encoded tail (key, index, entry hash)
Leaf = tuple[bytes, Head, bytes, bytes]
Node = bytes | Leaf  # an internal node's hash, or a leaf
_sha256 = hashlib.sha256
_INTERNAL = [bytes((slot,)) for slot in range(32)]  # an entry's first byte: its slot
_LEAF = [bytes((slot | 0x80,)) for slot in range(32)]  # ... with 0x80 for a leaf


#: buckets whose top is at most this deep stay in memory between batches (their nodes
#: are those at depths up to 16: about what the map step's cache holds now)
CACHED_TOP = 12


def decode(data: bytes) -> dict[int, Node]:
    """A bucket row's entries as slot -> node (`BucketMap.rows` wrote them)."""
    out: dict[int, Node] = {}
    at, end = 0, len(data)
    while at < end:
        slot = data[at]
        if slot & 0x80:
            key, tail = data[at + 1 : at + 33], data[at + 1 : at + 73]
            head = Head(int.from_bytes(data[at + 33 : at + 41], "big"), data[at + 41 : at + 73])
            out[slot & 0x7F] = (key, head, leaf_hash(key, head), tail)
            at += 73
        else:
            out[slot] = data[at + 1 : at + 33]
            at += 33
    return out


def _value(node: Node | None) -> bytes:
    return EMPTY if node is None else node if isinstance(node, bytes) else node[2]


def _leaf(key: bytes, head: Head) -> Leaf:
    tail = key + head.index.to_bytes(8, "big") + head.entry_hash
    return (key, head, leaf_hash(key, head), tail)


class BucketMap:
    """A map of heads as buckets in memory (module doc).

    Buckets are keyed by ``prefix << 9 | T`` (the top node's path and depth); a bucket
    maps slots to nodes, slot ``(1 << r) | bits`` for the node ``r`` levels below the top
    (``r`` in 1..4; slot 1 is the root, in the root's bucket only).
    """

    def __init__(self, read: BucketReader | None = None) -> None:
        self.buckets: dict[int, dict[int, Node]] = {0: {}}
        self.dirty: set[int] = set()
        self.read = read  # reads bucket rows by position (None: all are in memory)
        self._deep: set[int] = set()  # buckets below the cached ones, held for one batch
        self._keys: list[bytes] = []
        self._heads: list[Head] = []
        self._ints: list[int] = []

    def update(self, changes: Mapping[bytes, Head]) -> bytes:
        """Apply ``changes`` (key -> new head); return the new root hash."""
        items = sorted(changes.items())
        self._keys = [key for key, _ in items]
        self._heads = [head for _, head in items]
        self._ints = [int.from_bytes(key, "big") for key in self._keys]
        if self.read is not None:
            self._fetch(self.read)
        self.dirty.add(0)
        if not items:
            return _value(self.buckets[0].get(1))
        return _value(self._node(self.buckets[0], 0, 0, 1, 0, 0, 0, len(items)))

    def _fetch(self, read: BucketReader) -> None:
        """Read the buckets below `CACHED_TOP` that the changed keys' paths enter, one
        query per bucket level (a path enters the bucket below when its parent's frontier
        node on the path is an internal node)."""
        buckets, at = self.buckets, map_update._at
        top = CACHED_TOP + 4
        while True:
            wanted = set()
            for number in self._ints:
                prefix = number >> (KEY_BITS - top)
                key = (prefix << 9) | top
                if key in buckets:
                    continue
                parent = buckets.get(((prefix >> 4) << 9) | (top - 4))
                if parent is not None and isinstance(parent.get(16 | (prefix & 15)), bytes):
                    wanted.add(key)
            if not wanted:
                return
            got = read([at(key >> 9, top) for key in wanted])
            for key in wanted:
                buckets[key] = decode(got[at(key >> 9, top)])
            self._deep |= wanted
            top += 4

    def lookup(self, key: bytes) -> Head | None:
        """The head of ``key`` in the map (None: absent); reads a bucket not in memory."""
        number, buckets = int.from_bytes(key, "big"), self.buckets
        node, depth = buckets[0].get(1), 0
        while isinstance(node, bytes):
            top = (depth >> 2) << 2
            bucket_key = ((number >> (KEY_BITS - top)) << 9) | top
            bucket = buckets.get(bucket_key)
            if bucket is None:
                if self.read is None:
                    raise KeyError(f"bucket at depth {top} not in memory")
                pos = map_update._at(number >> (KEY_BITS - top), top)
                bucket = buckets[bucket_key] = decode(self.read([pos])[pos])
                self._deep.add(bucket_key)
            rel = depth + 1 - top
            node = bucket.get((1 << rel) | ((number >> (KEY_BITS - depth - 1)) & ((1 << rel) - 1)))
            depth += 1
        return node[1] if node is not None and node[0] == key else None

    def forget_deep(self) -> None:
        """Drop the buckets below `CACHED_TOP` (read or built in this batch)."""
        for key in self._deep:
            self.buckets.pop(key, None)
        self._deep = set()

    def _node(
        self, bucket: dict[int, Node], key: int, top: int, slot: int, rel: int, path: int,
        lo: int, hi: int,
    ) -> Node:  # fmt: skip
        """The node at ``slot`` of ``bucket`` with the changed keys ``[lo, hi)`` below it:
        rebuilt, stored in its slot and returned."""
        node = bucket.get(slot)
        if node is None or not isinstance(node, bytes):  # empty or a leaf: built anew here
            built = self._fresh(top + rel, path, lo, hi, node)
            bucket[slot] = built
            self.dirty.add(key)
            return built
        if rel == 4:  # the top of the bucket below: its children are there
            below_key = (path << 9) | (top + 4)
            self.dirty.add(below_key)
            value = self._split(self.buckets[below_key], below_key, top + 4, 1, 0, path, lo, hi)
        else:
            value = self._split(bucket, key, top, slot, rel, path, lo, hi)
        bucket[slot] = value
        return value

    def _split(
        self, bucket: dict[int, Node], key: int, top: int, slot: int, rel: int, path: int,
        lo: int, hi: int,
    ) -> bytes:  # fmt: skip
        """The new hash of a stored internal node, from its children in ``bucket``."""
        depth = top + rel
        mid = bisect_left(self._ints, ((path << 1) | 1) << (KEY_BITS - depth - 1), lo, hi)
        left, right = 2 * slot, 2 * slot + 1
        low: Node | None = bucket.get(left)
        if mid > lo:
            low = self._node(bucket, key, top, left, rel + 1, path << 1, lo, mid)
        high: Node | None = bucket.get(right)
        if hi > mid:
            high = self._node(bucket, key, top, right, rel + 1, (path << 1) | 1, mid, hi)
        return _sha256(NODE_PREFIX + _value(low) + _value(high)).digest()

    def _fresh(self, depth: int, path: int, lo: int, hi: int, stored: Node | None) -> Node:
        """The subtree at ``depth`` built from the keys ``[lo, hi)`` and the stored leaf
        that was there (unless a change replaces its head)."""
        keys, heads, ints = self._keys[lo:hi], self._heads[lo:hi], self._ints[lo:hi]
        if stored is not None and not isinstance(stored, bytes) and stored[0] not in keys:
            number = int.from_bytes(stored[0], "big")
            at = bisect_left(ints, number)
            keys.insert(at, stored[0])
            heads.insert(at, stored[1])
            ints.insert(at, number)
        return self._build(depth, keys, heads, ints)

    def _build(self, depth: int, keys: list[bytes], heads: list[Head], ints: list[int]) -> Node:
        """The node at ``depth`` over ``keys`` (sorted); every node below it is placed."""
        if len(ints) == 1:
            return _leaf(keys[0], heads[0])
        split = KEY_BITS - (ints[0] ^ ints[-1]).bit_length()
        at_split = ints[0] >> (KEY_BITS - split)
        mid = bisect_left(ints, ((at_split << 1) | 1) << (KEY_BITS - split - 1))
        low = self._build(split + 1, keys[:mid], heads[:mid], ints[:mid])
        high = self._build(split + 1, keys[mid:], heads[mid:], ints[mid:])
        self._place(split + 1, at_split << 1, low)
        self._place(split + 1, (at_split << 1) | 1, high)
        value = _sha256(NODE_PREFIX + _value(low) + _value(high)).digest()
        for level in range(split - 1, depth - 1, -1):  # the chain of one-child nodes
            below = ints[0] >> (KEY_BITS - level - 1)
            self._place(level + 1, below, value)
            pair = EMPTY + value if below & 1 else value + EMPTY
            value = _sha256(NODE_PREFIX + pair).digest()
        return value

    def _place(self, depth: int, path: int, node: Node) -> None:
        top = ((depth - 1) >> 2) << 2
        rel = depth - top
        key = ((path >> rel) << 9) | top
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {}
        if top > CACHED_TOP:
            self._deep.add(key)
        bucket[(1 << rel) | (path & ((1 << rel) - 1))] = node
        self.dirty.add(key)

    def rows(self) -> list[tuple[bytes, bytes]]:
        """The changed buckets as (position of the top, encoded entries), in position
        order; forgets which were changed."""
        buckets, at = self.buckets, map_update._at
        out = []
        for key in self.dirty:
            entries = buckets[key].items()
            data = b"".join(
                [
                    _INTERNAL[slot] + node if isinstance(node, bytes) else _LEAF[slot] + node[3]
                    for slot, node in entries
                ]
            )
            out.append((at(key >> 9, key & 0x1FF), data))
        self.dirty = set()
        out.sort()
        return out


def positions(rows: Mapping[bytes, bytes]) -> dict[bytes, map_update.Stored]:
    """Every node of the bucket ``rows`` (position of the top -> encoded entries) as
    position -> `ledger.map.update.Stored`, as ``map_nodes`` holds them."""
    at, stored = map_update._at, map_update.Stored
    out = {}
    for top_pos, data in rows.items():
        number = int.from_bytes(top_pos, "big")
        top = 8 * len(top_pos) - (number & -number).bit_length()
        prefix = number >> (8 * len(top_pos) - top)
        for slot, node in decode(data).items():
            rel = slot.bit_length() - 1
            pos = at((prefix << rel) | (slot - (1 << rel)), top + rel)
            out[pos] = stored(node) if isinstance(node, bytes) else stored(None, node[0], node[1])
    return out


def prove(read: BucketReader, key: bytes) -> bytes:
    """The map proof (ledger.map.proof bytes) of ``key`` from bucket rows: one read of
    the buckets on its path per 32 levels (one read for maps of up to ~2**26 keys)."""
    at, number = map_update._at, int.from_bytes(key, "big")
    path: dict[int, dict[int, Node]] = {}

    def load(first: int) -> None:
        tops = range(first, min(first + 32, KEY_BITS), 4)
        wanted = {top: at(number >> (KEY_BITS - top), top) for top in tops}
        got = read(list(wanted.values()))
        path.update((top, decode(got[pos])) for top, pos in wanted.items() if pos in got)

    load(0)
    node, siblings, depth = path[0].get(1) if 0 in path else None, [], 0
    while isinstance(node, bytes):
        top = (depth >> 2) << 2
        if top not in path:
            load(top)
        rel = depth + 1 - top
        slot = (1 << rel) | ((number >> (KEY_BITS - depth - 1)) & ((1 << rel) - 1))
        siblings.append(_value(path[top].get(slot ^ 1)))
        node = path[top].get(slot)
        depth += 1
    leaf = None if node is None else (node[0], node[1])
    return map_proof.encode(Path(key, tuple(siblings), leaf))
