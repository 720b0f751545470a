"""The map one node a position: node positions, stored nodes, batch updates and proofs.

The store keeps the latest version of every node of the canonical trie (ledger.map.trie)
and nothing else, grouped four levels a row since 0032 (ledger.map.buckets; the append
updates those rows with ledger.map.bucketmap). This module is the map seen one node a
position: what `ledger.map.partial.PartialTrie` and the update proofs read
(ledger.store.mapnodes.read_nodes), and the reference the bucket update is checked
against, hash for hash and proof for proof (tests/unit/test_map_buckets.py). Keys
never leave the map, so a position that holds a node keeps one forever (an empty subtree
holds none; a leaf may turn into an internal node when a second key reaches it; an
internal node stays one). The root of
each checkpoint is in the checkpoint itself (docs/FORMAT.md section 14), so proofs are
served at the latest checkpoint only.

Position of a subtree: its path bits (depth d, the first d bits of every key below it)
followed by one 1 bit, then 0 bits up to a whole byte: ``d // 8 + 1`` bytes, unique for
every depth 0..256. The root is ``0x80``.

`update` applies a batch of new heads to the stored map: it reads the nodes it needs
level by level through a callable (so it stays pure: the store does the reading) and
returns the new root and the nodes it wrote (the update proofs, ledger.map.updateproof,
replay it over the nodes they carry; the tests compare the bucket update with it).
Proofs and lookups are the buckets' (ledger.map.buckets.prove, BucketMap.lookup).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple, cast

from ledger.errors import ValidationError
from ledger.map.trie import (
    EMPTY,
    KEY_BITS,
    NODE_PREFIX,
    Head,
    check_key,
    leaf_hash,
    node_hash,
)


class Stored(NamedTuple):
    """A stored node: an internal node's hash, or a leaf's key and head (hash derived).

    A named tuple, not a frozen dataclass: an update builds one per row written (about
    five per changed key), and a frozen dataclass took longer to build than the node's
    SHA-256."""

    hash: bytes | None = None
    key: bytes | None = None
    head: Head | None = None

    @property
    def is_leaf(self) -> bool:
        """True for a leaf (it has a key)."""
        return self.key is not None

    def subtree_hash(self) -> bytes:
        """The hash this node contributes to its parent."""
        if self.key is not None and self.head is not None:
            return leaf_hash(self.key, self.head)
        if self.hash is None:
            raise ValidationError("a stored map node has neither hash nor leaf", field="map")
        return self.hash


#: reads the stored nodes at some positions; a position with no row is left out
Reader = Callable[[Iterable[bytes]], Mapping[bytes, Stored]]


def position(key: bytes, depth: int) -> bytes:
    """The position of the subtree at ``depth`` on ``key``'s path (see the module doc)."""
    if not 0 <= depth <= KEY_BITS:
        raise ValidationError(f"a map depth is 0..{KEY_BITS}", field="depth")
    whole, rest = divmod(depth, 8)
    out = bytearray(key[:whole])
    last = (key[whole] & (0xFF << (8 - rest)) & 0xFF) if rest else 0
    out.append(last | (0x80 >> rest))
    return bytes(out)


@dataclass(frozen=True)
class MapUpdate:
    """The result of `update`: the new root and the rows to write.

    ``nodes`` holds the internal nodes as (position, hash) and ``leaves`` the leaves as
    (position, key, head), each position once, in no particular order (plain tuples: an
    update writes about five rows a key, and a row object per position cost more than
    its hash). ``empty`` lists positions the update found to hold no node (the empty
    children of the new nodes it built): a cache of the stored map may record them as
    absent. ``existing`` holds the positions among the rows that held a node before the
    update (every other row's position held none), so a writer may insert the others
    without looking for a row first; ``None`` when not known (a writer must then look).
    """

    root: bytes
    nodes: list[tuple[bytes, bytes]] = field(default_factory=list)
    leaves: list[tuple[bytes, bytes, Head]] = field(default_factory=list)
    empty: tuple[bytes, ...] = ()
    existing: frozenset[bytes] | None = None

    @property
    def rows(self) -> dict[bytes, Stored]:
        """The rows as position -> `Stored` (built on each call)."""
        out = {pos: Stored(hash=value) for pos, value in self.nodes}
        out.update((pos, Stored(key=key, head=head)) for pos, key, head in self.leaves)
        return out


def update(
    read: Reader, changes: Mapping[bytes, Head], known: Mapping[bytes, Stored | None] | None = None
) -> MapUpdate:
    """Apply ``changes`` (key -> its new head) to the stored map that ``read`` reads.

    ``known`` (optional, only read) holds stored nodes already known, ``None`` for a
    position known to hold none (a cache of the map's top, ledger.service.headmap): they
    are not asked of ``read``. Calls ``read`` at most once per trie level the changed
    keys pass through (their paths and the siblings along them, each position once),
    then hashes each changed node once, level by level from the deepest up. The result
    is the same map as a `ledger.map.trie.Trie` holding the old heads updated with
    ``changes`` (tests/unit/test_map_update.py checks it against one key at a time).

    Raises:
        ValidationError: a key is not 32 bytes.
    """
    items = sorted((check_key(k), h) for k, h in changes.items())
    if not items:
        node = known.get(ROOT, _UNREAD) if known is not None else _UNREAD
        if node is _UNREAD:
            node = read([ROOT]).get(ROOT)
        return MapUpdate(_hash(cast(Stored | None, node)))
    batch = _Batch(items, known if known is not None else {})
    levels = batch.descend(read)
    root = batch.rebuild(levels)
    return MapUpdate(root, batch.nodes, batch.leaves, tuple(batch.empty), frozenset(batch.existing))


#: the position of the root
ROOT = position(bytes(32), 0)


def sibling(key: bytes, depth: int) -> bytes:
    """The position at ``depth`` (>= 1) beside ``key``'s path: the other child of its parent."""
    flipped = bytearray(key)
    flipped[(depth - 1) >> 3] ^= 0x80 >> ((depth - 1) & 7)
    return position(bytes(flipped), depth)


_UNREAD: Any = object()  # a position not in ``known``
_sha256 = hashlib.sha256  # bound once: the rebuild's hot loop


def _hash(node: Stored | None) -> bytes:
    return EMPTY if node is None else node.subtree_hash()


#: per depth, a position's length in bytes and the shift that places its marker bit
_SIZES = tuple((depth >> 3) + 1 for depth in range(KEY_BITS + 1))
_SHIFTS = tuple((((depth >> 3) + 1) << 3) - depth - 1 for depth in range(KEY_BITS + 1))


def _at(prefix: int, depth: int) -> bytes:
    """`position` of the subtree whose path is the ``depth``-bit integer ``prefix``."""
    return (((prefix << 1) | 1) << _SHIFTS[depth]).to_bytes(_SIZES[depth], "big")


class _Batch:
    """One `update`: the changed keys (sorted), the nodes read, the rows rebuilt.

    Keys are also held as integers, so a subtree's keys are a slice ``[lo, hi)`` of the
    sorted list, split at the next bit by one bisection, and a path prefix is an integer
    (``key >> (KEY_BITS - depth)``): no per-key, per-level byte slicing.
    """

    def __init__(self, items: list[tuple[bytes, Head]], known: Mapping[bytes, Any]) -> None:
        self.items = items
        self.ints = [int.from_bytes(k, "big") for k, _ in items]
        self.known = known
        self.seen: dict[bytes, Stored | None] = {}  # read in this update
        self.values: dict[bytes, bytes] = {}  # new hashes of changed subtrees
        self.nodes: list[tuple[bytes, bytes]] = []
        self.leaves: list[tuple[bytes, bytes, Head]] = []
        self.empty: list[bytes] = []
        self.existing: list[bytes] = []  # positions rewritten that held a node

    def _node(self, pos: bytes) -> Stored | None:
        node = self.known.get(pos, _UNREAD)
        return self.seen[pos] if node is _UNREAD else node

    def descend(self, read: Reader) -> list[list[tuple[bytes, bytes, bytes, bool, bool]]]:
        """Walk down level by level: read the nodes on the keys' paths and the keyless
        children beside them (one `read` per level, only what ``known`` lacks), build the
        subtrees where the paths leave the stored internal nodes (`_build`), and return,
        per depth, the stored internal nodes met as (position, left, right, whether the
        left holds changed keys, whether the right does)."""
        ints, seen, unread = self.ints, self.seen, _UNREAD
        known = self.known.get
        levels = []
        # (lo, hi, prefix, position): the changed keys below one position
        groups = [(0, len(ints), 0, ROOT)]
        beside: list[bytes] = []  # keyless children whose hash a parent needs
        depth = 0
        while groups:
            missing = [
                pos
                for pos in chain((g[3] for g in groups), beside)
                if known(pos, unread) is unread and pos not in seen
            ]
            if missing:
                got = read(missing)
                for pos in missing:
                    seen[pos] = got.get(pos)
            following = []
            beside = []
            level = []
            shift = KEY_BITS - depth - 1
            # (at depth 256 every node is a leaf: the child's sizes are never used)
            below = min(depth + 1, KEY_BITS)
            size, marker = _SIZES[below], _SHIFTS[below]
            for lo, hi, prefix, pos in groups:
                node = known(pos, unread)
                if node is unread:
                    node = seen[pos]
                if node is None or node[1] is not None:  # empty, or a leaf: build here
                    self._terminal(lo, hi, depth, prefix, pos, node)
                    continue
                low = prefix << 1
                mid = bisect_left(ints, (low | 1) << shift, lo, hi)
                left = (((low << 1) | 1) << marker).to_bytes(size, "big")
                right = (((low << 1) | 3) << marker).to_bytes(size, "big")
                if mid > lo:
                    following.append((lo, mid, low, left))
                else:
                    beside.append(left)
                if hi > mid:
                    following.append((mid, hi, low | 1, right))
                else:
                    beside.append(right)
                level.append((pos, left, right, mid > lo, hi > mid))
            levels.append(level)
            groups = following
            depth += 1
        return levels

    def rebuild(self, levels: list[list[tuple[bytes, bytes, bytes, bool, bool]]]) -> bytes:
        """Hash the stored internal nodes that `descend` met, deepest level first (each
        once: its changed children's hashes are ready by then); return the root's."""
        values, nodes, node_of = self.values, self.nodes, self._node
        sha256 = _sha256
        self.existing.extend(entry[0] for level in levels for entry in level)
        for level in reversed(levels):
            for pos, left, right, left_changed, right_changed in level:
                value = sha256(
                    NODE_PREFIX
                    + (values[left] if left_changed else _hash(node_of(left)))
                    + (values[right] if right_changed else _hash(node_of(right)))
                ).digest()
                values[pos] = value
                nodes.append((pos, value))
        return values[ROOT]

    def _terminal(
        self, lo: int, hi: int, depth: int, prefix: int, pos: bytes, node: Stored | None
    ) -> None:
        """The keys ``[lo, hi)`` reach ``pos``, empty or a stored leaf: build it anew
        (with the stored leaf's key, unless a change replaces its head)."""
        items, ints = self.items[lo:hi], self.ints[lo:hi]
        if node is not None:  # `_build` writes a row at ``pos``: it replaces this one
            self.existing.append(pos)
        if node is not None and node.key is not None and node.head is not None:
            key = node.key
            if all(k != key for k, _ in items):  # the stored leaf stays beside them
                number = int.from_bytes(key, "big")
                at = bisect_left(ints, number)
                items.insert(at, (key, node.head))
                ints.insert(at, number)
        self.values[pos] = self._build(items, ints, depth, prefix)

    def _build(
        self, items: list[tuple[bytes, Head]], ints: list[int], depth: int, prefix: int
    ) -> bytes:
        """Build the subtree at ``depth`` from scratch (nothing was stored below it).

        The keys (two or more) first part at ``split``, the length of their common
        prefix (the first and last key's, as they are sorted); every node from ``depth``
        down to there has one empty child, so that chain is written in one loop.
        """
        nodes, leaves = self.nodes, self.leaves
        if len(items) == 1:
            leaves.append((_at(prefix, depth), items[0][0], items[0][1]))
            return leaf_hash(items[0][0], items[0][1])
        split = KEY_BITS - (ints[0] ^ ints[-1]).bit_length()
        at_split = ints[0] >> (KEY_BITS - split)
        if len(items) == 2:  # the common case (a new key beside a stored leaf): two leaves
            (low_key, low_head), (high_key, high_head) = items
            leaves.append((_at(at_split << 1, split + 1), low_key, low_head))
            leaves.append((_at((at_split << 1) | 1, split + 1), high_key, high_head))
            value = node_hash(leaf_hash(low_key, low_head), leaf_hash(high_key, high_head))
        else:
            mid = bisect_left(ints, ((at_split << 1) | 1) << (KEY_BITS - split - 1))
            value = node_hash(
                self._build(items[:mid], ints[:mid], split + 1, at_split << 1),
                self._build(items[mid:], ints[mid:], split + 1, (at_split << 1) | 1),
            )
        nodes.append((_at(at_split, split), value))
        for level in range(split - 1, depth - 1, -1):
            below = ints[0] >> (KEY_BITS - level - 1)
            value = node_hash(EMPTY, value) if below & 1 else node_hash(value, EMPTY)
            nodes.append((_at(below >> 1, level), value))
            self.empty.append(_at(below ^ 1, level + 1))
        return value
