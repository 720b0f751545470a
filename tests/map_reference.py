"""The stored map read one node a position, as ledger.map.update stored it before the
buckets (0032_map_buckets): a proof and a lookup over any `ledger.map.update.Reader`.
The store proves and looks up through its buckets (ledger.map.buckets); these are the
references the tests compare them with, byte for byte."""

from __future__ import annotations

from ledger.map.proof import encode
from ledger.map.trie import EMPTY, KEY_BITS, Head, Path, check_key
from ledger.map.update import Reader, Stored, position, sibling


def _hash(node: Stored | None) -> bytes:
    return EMPTY if node is None else node.subtree_hash()


def prove(read: Reader, key: bytes, chunk: int = 24) -> bytes:
    """The proof (ledger.map.proof bytes) for ``key`` in the stored map ``read`` reads.

    Reads the key's path ``chunk`` levels per call of ``read`` (one call for any map of
    fewer than about 2**20 keys).

    Raises:
        ValidationError: the key is not 32 bytes.
    """
    key = check_key(key)
    known: dict[bytes, Stored | None] = {}
    siblings: list[bytes] = []
    depth = 0
    while True:
        if position(key, depth) not in known:
            top = min(depth + chunk, KEY_BITS)
            wanted = [position(key, d) for d in range(depth, top + 1)]
            # the siblings one level deeper too: a node at ``top`` needs its child's
            wanted += [sibling(key, d) for d in range(max(depth, 1), min(top + 1, KEY_BITS) + 1)]
            got = read(wanted)
            known.update({pos: got.get(pos) for pos in wanted})
        node = known[position(key, depth)]
        if node is None or node.is_leaf:
            leaf = (node.key, node.head) if node is not None and node.key and node.head else None
            return encode(Path(key, tuple(siblings), leaf))
        siblings.append(_hash(known[sibling(key, depth + 1)]))
        depth += 1


def lookup(read: Reader, key: bytes, chunk: int = 24) -> Head | None:
    """The head stored for ``key`` in the stored map ``read`` reads, or None.

    Raises:
        ValidationError: the key is not 32 bytes.
    """
    key = check_key(key)
    depth = 0
    while True:
        top = min(depth + chunk, KEY_BITS)
        got = read([position(key, d) for d in range(depth, top + 1)])
        for d in range(depth, top + 1):
            node = got.get(position(key, d))
            if node is None:
                return None
            if node.is_leaf:
                return node.head if node.key == key else None
        depth = top + 1
