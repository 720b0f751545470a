"""The stored map of heads as buckets: four trie levels a row (docs/FORMAT.md 14.2).

A *bucket* is the canonical trie (ledger.map.trie) below a node at a depth ``T``
divisible by 4 (its *top*), cut four levels down. Its row is keyed by the position of the
top node (ledger.map.update.position) and holds every node at depths ``T + 1 .. T + 4``
below it as one entry: a slot byte, ``(1 << r) | bits`` for the node ``r`` levels below
the top whose path continues with the ``r`` bits ``bits``, 0x80 added for a leaf; then an
internal node's 32-byte hash, or a leaf's key, index (8 bytes, big-endian) and entry
hash. The root's bucket (top 0, position 0x80) also holds the root itself, in slot 1.

Every node of the map is in exactly one bucket, so the buckets hold exactly the nodes a
table of one row a position would (`positions`, `group` convert both ways: the
migration 0032 and the position reader of ledger.store.mapnodes). Hashes, roots and
proofs are those of ledger.map.update: only the storage changed. Entries may be in any
order within a row. Pure: no I/O (the store reads and writes rows).

In memory a bucket is a dict slot -> node (`Node`), each node its entry's bytes as in
the row (the slot byte, then the hash or the leaf's 72 bytes): a row is its entries
joined (`encode`), a decode only cuts it (no hashing, no objects but the slices), and a
leaf's hash is computed where its parent is rehashed (`value`). An internal node's
entry is 33 bytes long, a leaf's 73.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from ledger.errors import StorageError
from ledger.map import proof as map_proof
from ledger.map.trie import EMPTY, KEY_BITS, LEAF_PREFIX, Head, Path, check_key
from ledger.map.update import Stored, _at

#: reads bucket rows by the positions of their tops (absent ones left out)
BucketReader = Callable[[list[bytes]], Mapping[bytes, bytes]]
#: a node: its entry as stored, 33 bytes (slot, hash) or 73 (slot | 0x80, key, index,
#: entry hash)
Node = bytes
Bucket = dict[int, Node]

INTERNAL = [bytes((slot,)) for slot in range(32)]  # an entry's first byte: its slot
LEAF = [bytes((slot | 0x80,)) for slot in range(32)]  # ... with 0x80 for a leaf
#: the length of an internal node's entry (a leaf's is `LEAF_SIZE`)
INTERNAL_SIZE = 33
LEAF_SIZE = 73
_SIZE = {False: INTERNAL_SIZE, True: LEAF_SIZE}
_sha256 = hashlib.sha256  # an entry's bytes, internal node or leaf


class CorruptBucketError(StorageError):
    """A stored map bucket row is not a whole list of entries (damaged or cut short)."""

    code = "map-bucket-corrupt"


def decode(data: bytes) -> Bucket:
    """A bucket row's entries as slot -> node (each entry's bytes, cut from the row).

    Raises:
        CorruptBucketError: an entry cut short or a slot outside 1..31.
    """
    out: Bucket = {}
    at, end = 0, len(data)
    while at < end:
        slot = data[at]
        number = slot & 0x7F
        after = at + _SIZE[slot > 0x7F]
        if after > end or not 0 < number < 32:
            raise CorruptBucketError(
                f"a stored map bucket is damaged at byte {at} of {end}", field="map"
            )
        out[number] = data[at:after]
        at = after
    return out


def encode(bucket: Mapping[int, Node]) -> bytes:
    """The row of ``bucket`` (`decode` gives it back): its entries joined, in the
    bucket's order (each entry carries its slot)."""
    return b"".join(bucket.values())


def value(node: Node | None) -> bytes:
    """The hash a node contributes to its parent (`EMPTY` for none): an internal node's
    stored hash, or a leaf's hash (`ledger.map.trie.leaf_hash`) computed from its entry."""
    if node is None:
        return EMPTY
    if len(node) == INTERNAL_SIZE:
        return node[1:]
    return _sha256(LEAF_PREFIX + node[1:]).digest()


def internal(slot: int, subtree_hash: bytes) -> Node:
    """The entry of an internal node with hash ``subtree_hash`` at ``slot``."""
    return INTERNAL[slot] + subtree_hash


def tail(key: bytes, head: Head) -> bytes:
    """A leaf entry's bytes after its slot: ``key``, the head's index (8 bytes,
    big-endian) and entry hash; its leaf hash is ``SHA-256(LEAF_PREFIX || tail)``."""
    return key + head.index.to_bytes(8, "big") + head.entry_hash


def make_leaf(slot: int, key: bytes, head: Head) -> Node:
    """The leaf entry of ``key`` at ``head`` at ``slot`` (its hash: `value`)."""
    return LEAF[slot] + tail(key, head)


def is_leaf(node: Node | None) -> bool:
    """Whether ``node`` (an entry, or None for an empty slot) is a leaf."""
    return node is not None and len(node) == LEAF_SIZE


def leaf_key(node: Node) -> bytes:
    """The key of a leaf entry."""
    return node[1:33]


def leaf_head(node: Node) -> Head:
    """The head of a leaf entry."""
    return Head(int.from_bytes(node[33:41], "big"), node[41:LEAF_SIZE])


def depth_and_path(pos: bytes) -> tuple[int, int] | None:
    """The depth and path (an integer of that many bits) of a position, None if ``pos``
    is not one (empty, longer than 33 bytes, or no marker bit)."""
    number = int.from_bytes(pos, "big")
    if not number or len(pos) > 33:
        return None
    depth = 8 * len(pos) - (number & -number).bit_length()
    if depth > KEY_BITS or len(pos) != depth // 8 + 1:
        return None
    return depth, number >> (8 * len(pos) - depth)


def bucket_of(pos: bytes) -> tuple[bytes, int] | None:
    """The bucket holding the node at position ``pos``: (position of its top, slot);
    None if ``pos`` is not a position."""
    found = depth_and_path(pos)
    if found is None:
        return None
    depth, path = found
    if depth == 0:
        return pos, 1
    top = ((depth - 1) >> 2) << 2
    rel = depth - top
    return _at(path >> rel, top), (1 << rel) | (path & ((1 << rel) - 1))


def stored(node: Node) -> Stored:
    """A bucket entry as `ledger.map.update.Stored` (one row a position)."""
    if is_leaf(node):
        return Stored(None, leaf_key(node), leaf_head(node))
    return Stored(node[1:])


def positions(rows: Mapping[bytes, bytes]) -> dict[bytes, Stored]:
    """Every node of the bucket ``rows`` (position of the top -> row) by position.

    Raises:
        CorruptBucketError: a row that does not decode, or is not keyed by a top position.
    """
    out = {}
    for top_pos, data in rows.items():
        found = depth_and_path(top_pos)
        if found is None or found[0] % 4:
            raise CorruptBucketError("a stored map bucket is not at a bucket's top", field="map")
        top, prefix = found
        for slot, node in decode(data).items():
            rel = slot.bit_length() - 1
            if rel == 0 and top:
                raise CorruptBucketError("a map bucket below the root holds slot 1", field="map")
            out[_at((prefix << rel) | (slot - (1 << rel)), top + rel)] = stored(node)
    return out


def group(nodes: Mapping[bytes, Stored]) -> dict[bytes, bytes]:
    """The bucket rows (position of the top -> row) holding ``nodes`` (one a position):
    `positions` backwards. Positions that are not positions are left out."""
    buckets: dict[bytes, Bucket] = {}
    for pos, node in nodes.items():
        found = bucket_of(pos)
        if found is None:
            continue
        top_pos, slot = found
        if node.key is not None and node.head is not None:
            entry = make_leaf(slot, node.key, node.head)
        else:
            entry = internal(slot, node.subtree_hash())
        buckets.setdefault(top_pos, {})[slot] = entry
    return {pos: encode(dict(sorted(b.items()))) for pos, b in sorted(buckets.items())}


def prove(read: BucketReader, key: bytes) -> bytes:
    """The map proof (ledger.map.proof bytes) of ``key`` from bucket rows: one read of
    the buckets on its path per 32 levels (one read for maps of up to ~2**26 keys). The
    same bytes as a proof read one node a position (tests/map_reference.py).

    Raises:
        ValidationError: the key is not 32 bytes.
        CorruptBucketError: a row on the path is damaged, or missing below a stored
            internal node.
    """
    number = int.from_bytes(check_key(key), "big")
    path: dict[int, Bucket] = {}

    def load(first: int) -> None:
        tops = range(first, min(first + 32, KEY_BITS), 4)
        wanted = {top: _at(number >> (KEY_BITS - top), top) for top in tops}
        got = read(list(wanted.values()))
        path.update((top, decode(got[pos])) for top, pos in wanted.items() if pos in got)

    load(0)
    node, siblings, depth = path[0].get(1) if 0 in path else None, [], 0
    while node is not None and len(node) == INTERNAL_SIZE:
        top = (depth >> 2) << 2
        if top not in path:
            load(top)
            if top not in path:
                raise missing(depth)
        rel = depth + 1 - top
        slot = (1 << rel) | ((number >> (KEY_BITS - depth - 1)) & ((1 << rel) - 1))
        siblings.append(value(path[top].get(slot ^ 1)))
        node = path[top].get(slot)
        depth += 1
    leaf = None if node is None else (leaf_key(node), leaf_head(node))
    return map_proof.encode(Path(key, tuple(siblings), leaf))


def too_deep(depth: int) -> CorruptBucketError:
    """The error for a stored internal node at ``depth`` 256 (or more): only leaves can
    be there, since no key has a bit below it to follow (damaged rows)."""
    return CorruptBucketError(
        f"the stored map has an internal node at depth {depth}, where only leaves can be",
        field="map",
    )


def missing(depth: int) -> CorruptBucketError:
    """The error for a stored internal node at ``depth`` whose children's bucket is gone."""
    return CorruptBucketError(
        f"the stored map has an internal node at depth {depth} but no bucket below it",
        field="map",
    )
