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
from ledger.map.trie import EMPTY, Head, Path, bit, check_key, leaf_hash, node_hash
from ledger.map.update import Reader, Stored, position, sibling


class _Leaf:
    __slots__ = ("head", "key")

    def __init__(self, key: bytes, head: Head) -> None:
        self.key = key
        self.head = head


class _Node:
    """Never changed once built (a change builds new nodes up its path), so its hash,
    once computed, stays right."""

    __slots__ = ("cached", "left", "right")

    def __init__(self, left: _Tree, right: _Tree) -> None:
        self.left = left
        self.right = right
        self.cached: bytes | None = None


class _Opaque:
    """A subtree known by its hash only (an internal node: two keys or more below it)."""

    __slots__ = ("hash",)

    def __init__(self, value: bytes) -> None:
        self.hash = value


_Tree = _Leaf | _Node | _Opaque | None


def _closed(node: Stored | None) -> _Tree:
    if node is None:
        return None
    if node.key is not None and node.head is not None:
        return _Leaf(node.key, node.head)
    return _Opaque(node.subtree_hash())


class PartialTrie:
    """The stored map on the paths of some keys (module docstring)."""

    def __init__(self, tree: _Tree, keys: Iterable[bytes]) -> None:
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
        return _hash(self._root)

    def set(self, key: bytes, head: Head) -> None:
        """Map ``key`` (one of the loaded keys) to ``head``.

        Raises:
            ValidationError: ``key`` was not loaded.
        """
        self._check(key)
        self._root = _set(self._root, key, head, 0)

    def remove(self, key: bytes) -> None:
        """Take ``key`` (one of the loaded keys) out of the map, if it is in it.

        Raises:
            ValidationError: ``key`` was not loaded.
        """
        self._check(key)
        self._root = _remove(self._root, key, 0)

    def path(self, key: bytes) -> Path:
        """The walk from the root towards ``key`` (ledger.map.proof encodes it).

        Raises:
            ValidationError: ``key`` was not loaded.
        """
        self._check(key)
        siblings: list[bytes] = []
        tree, depth = self._root, 0
        while isinstance(tree, _Node):
            if bit(key, depth):
                siblings.append(_hash(tree.left))
                tree = tree.right
            else:
                siblings.append(_hash(tree.right))
                tree = tree.left
            depth += 1
        if isinstance(tree, _Opaque):  # cannot happen on a loaded key's path
            raise ValidationError("a partial map path ends in an unread subtree", field="map")
        leaf = (tree.key, tree.head) if isinstance(tree, _Leaf) else None
        return Path(key, tuple(siblings), leaf)

    def _check(self, key: bytes) -> None:
        if key not in self._keys:
            raise ValidationError("this key's path was not loaded", field="key")


ROOT_POS = position(bytes(32), 0)


def _expand(known: dict[bytes, Stored | None], depth: int, keys: list[bytes]) -> _Tree:
    """The subtree at ``depth`` on the path of ``keys`` (all sharing it so far)."""
    node = known.get(position(keys[0], depth))
    if node is None or node.is_leaf:
        return _closed(node)
    halves: list[_Tree] = []
    for side in (0, 1):
        part = [k for k in keys if bit(k, depth) == side]
        if part:
            halves.append(_expand(known, depth + 1, part))
        else:
            halves.append(_closed(known.get(sibling(keys[0], depth + 1))))
    return _Node(halves[0], halves[1])


def _hash(tree: _Tree) -> bytes:
    if tree is None:
        return EMPTY
    if isinstance(tree, _Opaque):
        return tree.hash
    if isinstance(tree, _Leaf):
        return leaf_hash(tree.key, tree.head)
    if tree.cached is None:
        tree.cached = node_hash(_hash(tree.left), _hash(tree.right))
    return tree.cached


def _set(tree: _Tree, key: bytes, head: Head, depth: int) -> _Tree:
    if tree is None:
        return _Leaf(key, head)
    if isinstance(tree, _Opaque):
        raise ValidationError("a partial map update reaches an unread subtree", field="map")
    if isinstance(tree, _Leaf):
        if tree.key == key:
            return _Leaf(key, head)
        return _split(tree, _Leaf(key, head), depth)
    if bit(key, depth):
        return _Node(tree.left, _set(tree.right, key, head, depth + 1))
    return _Node(_set(tree.left, key, head, depth + 1), tree.right)


def _split(old: _Leaf, new: _Leaf, depth: int) -> _Node:
    old_bit, new_bit = bit(old.key, depth), bit(new.key, depth)
    if old_bit == new_bit:
        below = _split(old, new, depth + 1)
        return _Node(None, below) if old_bit else _Node(below, None)
    return _Node(new, old) if old_bit else _Node(old, new)


def _remove(tree: _Tree, key: bytes, depth: int) -> _Tree:
    if tree is None:
        return None
    if isinstance(tree, _Opaque):
        raise ValidationError("a partial map update reaches an unread subtree", field="map")
    if isinstance(tree, _Leaf):
        return None if tree.key == key else tree
    if bit(key, depth):
        left, right = tree.left, _remove(tree.right, key, depth + 1)
    else:
        left, right = _remove(tree.left, key, depth + 1), tree.right
    # canonical shape: a subtree holding a single key is that key's leaf, one level up
    if left is None and (right is None or isinstance(right, _Leaf)):
        return right
    if right is None and isinstance(left, _Leaf):
        return left
    return _Node(left, right)
