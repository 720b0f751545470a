"""A partial map: the paths of some keys through a stored map, changed in memory.

`PartialTrie.load` reads, through a `ledger.map.update.Reader`, the nodes on the paths
of some keys and the siblings along them; every other subtree is kept by its hash only.
On those keys it can then set a head, remove the key (the canonical trie shrinks back:
a node left with one leaf below it becomes that leaf), give the root and a proof path.

The log uses it to serve proofs in an OLDER map than the one it stores (the store keeps
the latest map only): it loads the latest map on the paths of every key moved since the
old size and puts each back to its old head, or removes it (docs/FORMAT.md section 14,
"Map update proofs"). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.errors import ValidationError
from ledger.map.trie import (
    Head,
    Leaf,
    Node,
    Opaque,
    Path,
    Tree,
    bit,
    check_key,
    remove_key,
    set_head,
    subtree_hash,
    walk,
)
from ledger.map.update import Reader, Stored, position, sibling


def _closed(node: Stored | None) -> Tree:
    if node is None:
        return None
    if node.key is not None and node.head is not None:
        return Leaf(node.key, node.head)
    return Opaque(node.subtree_hash())


class PartialTrie:
    """The stored map on the paths of some keys (module docstring); its nodes, and the
    changes and walks on them, are `ledger.map.trie`'s."""

    def __init__(self, tree: Tree, keys: Iterable[bytes]) -> None:
        self._root = tree
        self._keys = frozenset(keys)

    @classmethod
    def load(cls, read: Reader, keys: Iterable[bytes]) -> PartialTrie:
        """Read the paths of ``keys`` (and their siblings) level by level through ``read``.

        Raises:
            ValidationError: a key is not 32 bytes.
        """
        wanted_keys = sorted({check_key(k) for k in keys})
        known: dict[bytes, Stored | None] = {}
        pending = {key: 0 for key in wanted_keys}
        while pending:
            wanted: set[bytes] = set()
            for key, depth in pending.items():
                wanted.add(position(key, depth))
                if depth:
                    wanted.add(sibling(key, depth))
            wanted -= known.keys()
            if wanted:
                got = read(sorted(wanted))
                known.update({pos: got.get(pos) for pos in wanted})
            following = {}
            for key, depth in pending.items():
                node = known[position(key, depth)]
                if node is not None and not node.is_leaf:
                    following[key] = depth + 1
            pending = following
        tree = _expand(known, 0, wanted_keys) if wanted_keys else _closed(known.get(ROOT_POS))
        return cls(tree, wanted_keys)

    def root(self) -> bytes:
        """The root hash of the (changed) map."""
        return subtree_hash(self._root)

    def set(self, key: bytes, head: Head) -> None:
        """Map ``key`` (one of the loaded keys) to ``head``.

        Raises:
            ValidationError: ``key`` was not loaded.
        """
        self._check(key)
        self._root, _added = set_head(self._root, key, head)

    def remove(self, key: bytes) -> None:
        """Take ``key`` (one of the loaded keys) out of the map, if it is in it.

        Raises:
            ValidationError: ``key`` was not loaded.
        """
        self._check(key)
        self._root = remove_key(self._root, key)

    def path(self, key: bytes) -> Path:
        """The walk from the root towards ``key`` (ledger.map.proof encodes it).

        Raises:
            ValidationError: ``key`` was not loaded.
        """
        self._check(key)
        return walk(self._root, key)

    def _check(self, key: bytes) -> None:
        if key not in self._keys:
            raise ValidationError("this key's path was not loaded", field="key")


ROOT_POS = position(bytes(32), 0)


def _expand(known: dict[bytes, Stored | None], depth: int, keys: list[bytes]) -> Tree:
    """The subtree at ``depth`` on the path of ``keys`` (all sharing it so far)."""
    node = known.get(position(keys[0], depth))
    if node is None or node.is_leaf:
        return _closed(node)
    halves: list[Tree] = []
    for side in (0, 1):
        part = [k for k in keys if bit(k, depth) == side]
        if part:
            halves.append(_expand(known, depth + 1, part))
        else:
            halves.append(_closed(known.get(sibling(keys[0], depth + 1))))
    return Node(halves[0], halves[1])
