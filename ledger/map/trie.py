"""The map of heads: a compressed binary Merkle trie from 32-byte keys to log positions.

What it commits to (issue 18, docs/FORMAT.md "The map of heads"): for every unit and
every actor of a log, the latest entry that touches it, as its log index and leaf hash.
A client shown a unit's chain checks, against the map root signed with the checkpoint,
that the chain ends at the committed head (nothing was left out after it), or that no
unit with this key exists at all (an honest ``unknown``).

Shape (the Jellyfish / AKD family, binary): a key's bits, most significant first, are
its path (0 left, 1 right). The canonical trie of a set of keys is

- no key: the empty subtree, hash `EMPTY` (32 zero bytes: no SHA-256 output is known to
  be zero, so no real node can stand for it);
- one key: a leaf, wherever the path first singles the key out (no chain of nodes
  below it), hash ``SHA-256(0x00 || key || index as 8 bytes big-endian || entry hash)``;
- two or more: a node whose left subtree holds the keys with a 0 at this depth and the
  right those with a 1, hash ``SHA-256(0x01 || left hash || right hash)``.

So a proof carries one sibling per level down to the key's leaf (or to where it is
proven absent): about log2(n) for random keys, at most ~2 log2(n) in practice; empty
siblings cost one bit (ledger.map.proof). The leaf commits to its whole key and the two
prefixes keep leaf and node hashes apart, so a proof cannot move a leaf or pass a node
off as one.

Keys are hashes, so paths are uniform: `unit_key` and `actor_key` hash a unit's GTIN-14
and serial, or an actor id, under their own domain strings (one map holds both kinds).

Pure: no I/O. `Trie` is the in-memory map (insert or update only: units and actors never
leave a log); hashes are computed lazily, so a batch of updates shares the work on the
nodes near the root. Its nodes and the functions that change and walk them (`set_head`,
`remove_key`, `walk`) also serve `ledger.map.partial.PartialTrie`, a map read in part
from the store (its unread subtrees are `Opaque`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ledger.errors import ValidationError
from ledger.frozen import filled

KEY_BYTES = 32
HASH_BYTES = 32
KEY_BITS = KEY_BYTES * 8
EMPTY = bytes(HASH_BYTES)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
UNIT_DOMAIN = b"provenance-ledger/map/unit/v1\x00"
ACTOR_DOMAIN = b"provenance-ledger/map/actor/v1\x00"
_sha256 = hashlib.sha256  # bound once: the map's hashing is its hot loop


@dataclass(frozen=True)
class Head:
    """Where a key's latest entry is in the log: its index and its RFC 9162 leaf hash."""

    index: int
    entry_hash: bytes

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not 0 <= self.index < 2**64:
            raise ValidationError("a head's index is an unsigned 64-bit integer", field="index")
        if len(self.entry_hash) != HASH_BYTES:
            raise ValidationError("a head's entry hash is 32 bytes", field="entry_hash")

    def to_bytes(self) -> bytes:
        """The 40 bytes a leaf hashes: the index (8 bytes, big-endian), the entry hash."""
        return self.index.to_bytes(8, "big") + bytes(self.entry_hash)


def new_head(index: int, entry_hash: bytes) -> Head:
    """``Head(index, entry_hash)``, its checks made inline, without the frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` a field, then
    ``__post_init__``): the append makes one an entry. It holds its fields and nothing
    else, so its instance dictionary filled in field order is the same object.

    Raises:
        ValidationError: as `Head`.
    """
    if type(index) is not int or not 0 <= index < 2**64 or len(entry_hash) != HASH_BYTES:
        return Head(index, entry_hash)  # raises what Head raises (or makes a subclass's)
    return filled(Head, index=index, entry_hash=entry_hash)


def unit_key(gtin14: str, serial: str) -> bytes:
    """The map key of a unit: ``SHA-256(UNIT_DOMAIN || GTIN-14 || 0x00 || serial)``.

    ``gtin14`` is the 14 ASCII digits, ``serial`` the serial as encoded in UTF-8 (GS1
    serials are printable ASCII, which never holds a 0x00, so the split is unambiguous).
    """
    return hashlib.sha256(
        UNIT_DOMAIN + gtin14.encode("ascii") + b"\x00" + serial.encode("utf-8")
    ).digest()


def actor_key(actor_id: str) -> bytes:
    """The map key of an actor: ``SHA-256(ACTOR_DOMAIN || actor id in UTF-8)``."""
    return hashlib.sha256(ACTOR_DOMAIN + actor_id.encode("utf-8")).digest()


def leaf_hash(key: bytes, head: Head) -> bytes:
    """``SHA-256(0x00 || key || index (8 bytes big-endian) || entry hash)``."""
    return _sha256(
        b"".join((LEAF_PREFIX, key, head.index.to_bytes(8, "big"), head.entry_hash))
    ).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(NODE_PREFIX + left + right).digest()


def bit(key: bytes, depth: int) -> int:
    """The key's bit at ``depth`` (0 is the most significant bit of the first byte)."""
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


def check_key(key: bytes, field: str = "key") -> bytes:
    """``key`` as bytes if it is 32 bytes long.

    Raises:
        ValidationError: any other length.
    """
    if len(key) != KEY_BYTES:
        raise ValidationError(f"a map key is {KEY_BYTES} bytes, not {len(key)}", field=field)
    return bytes(key)


class Leaf:
    """A leaf of an in-memory map (`Trie`, `ledger.map.partial.PartialTrie`): a key and
    its head; its hash is computed once."""

    __slots__ = ("hash", "head", "key")

    def __init__(self, key: bytes, head: Head) -> None:
        self.key = key
        self.head = head
        self.hash: bytes | None = None


class Node:
    """An internal node of an in-memory map; ``hash`` is its cached hash, cleared
    whenever a change passes through it."""

    __slots__ = ("hash", "left", "right")

    def __init__(self, left: Tree, right: Tree) -> None:
        self.left = left
        self.right = right
        self.hash: bytes | None = None


class Opaque:
    """A subtree known by its hash only (a partial map's unread part): a change or a
    walk that reaches one is refused."""

    __slots__ = ("hash",)

    def __init__(self, value: bytes) -> None:
        self.hash = value


Tree = Leaf | Node | Opaque | None


def subtree_hash(tree: Tree) -> bytes:
    """The hash of an in-memory subtree (`EMPTY` for none); cached on its nodes."""
    if tree is None:
        return EMPTY
    found = tree.hash
    if found is None:
        if isinstance(tree, Leaf):
            found = leaf_hash(tree.key, tree.head)
        else:
            # `node_hash` of the two halves, a half's cached hash read here rather than
            # through a call (a root after a batch of updates hashes every node on their
            # paths; most of the halves it meets are unchanged). A hash is 32 bytes,
            # never empty, so ``or`` falls to the call only for one not yet computed
            left, right = tree.left, tree.right  # type: ignore[union-attr]  # (an Opaque has its hash)
            found = _sha256(
                NODE_PREFIX
                + (EMPTY if left is None else left.hash or subtree_hash(left))
                + (EMPTY if right is None else right.hash or subtree_hash(right))
            ).digest()
        tree.hash = found
    return found


def _unread() -> ValidationError:
    return ValidationError("a partial map walk reaches an unread subtree", field="map")


def set_head(root: Tree, key: bytes, head: Head) -> tuple[Tree, bool]:
    """Map ``key`` to ``head`` in the subtree ``root`` (changed in place); returns the new
    root and whether the key is new to it.

    Raises:
        ValidationError: the key's path reaches an `Opaque` subtree.
    """
    parent: Node | None = None
    tree, depth, side = root, 0, 0
    while isinstance(tree, Node):
        tree.hash = None
        # `bit(key, depth)` inline: the walk is the hot loop of a map root after a
        # batch of updates (an audit sets every moved key at each checkpoint)
        parent, side = tree, (key[depth >> 3] >> (7 - (depth & 7))) & 1
        tree = tree.right if side else tree.left
        depth += 1
    if isinstance(tree, Opaque):
        raise _unread()
    leaf = Leaf(key, head)
    added = tree is None or tree.key != key
    new: Tree = _split(tree, leaf, depth) if tree is not None and added else leaf
    if parent is None:
        return new, added
    if side:
        parent.right = new
    else:
        parent.left = new
    return root, added


def _split(old: Leaf, new: Leaf, depth: int) -> Node:
    """The subtree at ``depth`` holding two leaves: nodes down to their first different bit."""
    old_bit, new_bit = bit(old.key, depth), bit(new.key, depth)
    if old_bit == new_bit:
        below = _split(old, new, depth + 1)
        return Node(None, below) if old_bit else Node(below, None)
    return Node(new, old) if old_bit else Node(old, new)


def remove_key(tree: Tree, key: bytes, depth: int = 0) -> Tree:
    """The subtree at ``depth`` without ``key`` (changed in place; unchanged if the key
    is not in it), in canonical shape: a node left with a single key below it becomes
    that key's leaf.

    Raises:
        ValidationError: the key's path reaches an `Opaque` subtree.
    """
    if tree is None:
        return None
    if isinstance(tree, Opaque):
        raise _unread()
    if isinstance(tree, Leaf):
        return None if tree.key == key else tree
    if bit(key, depth):
        tree.right = remove_key(tree.right, key, depth + 1)
    else:
        tree.left = remove_key(tree.left, key, depth + 1)
    tree.hash = None
    left, right = tree.left, tree.right
    if left is None and (right is None or isinstance(right, Leaf)):
        return right
    if right is None and isinstance(left, Leaf):
        return left
    return tree


@dataclass(frozen=True)
class Path:
    """What a proof says about one key, before encoding (ledger.map.proof).

    Attributes:
        key: the key asked about.
        siblings: the sibling hash at each depth from the root down (`EMPTY` for an
            empty subtree); as many as the depth where the walk ended.
        leaf: the leaf the walk ended at, as (key, head): the asked key's own (it is in
            the map with this head) or another key's (the asked key is absent); None
            when the walk ended at an empty subtree (absent too).
    """

    key: bytes
    siblings: tuple[bytes, ...]
    leaf: tuple[bytes, Head] | None


class Trie:
    """The map in memory: insert or update heads, read the root, prove any key."""

    def __init__(self) -> None:
        self._root: Tree = None
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def root(self) -> bytes:
        """The root hash (`EMPTY` for an empty map)."""
        return subtree_hash(self._root)

    def get(self, key: bytes) -> Head | None:
        """The head stored for ``key``, or None."""
        tree, depth = self._root, 0
        while isinstance(tree, Node):
            tree = tree.right if bit(key, depth) else tree.left
            depth += 1
        if isinstance(tree, Leaf) and tree.key == key:
            return tree.head
        return None

    def set(self, key: bytes, head: Head) -> None:
        """Map ``key`` to ``head`` (a new key, or a newer head for a known one).

        Raises:
            ValidationError: the key is not 32 bytes.
        """
        self._root, added = set_head(self._root, check_key(key), head)
        self._size += added

    def path(self, key: bytes) -> Path:
        """The walk from the root towards ``key``, for a membership or absence proof.

        Raises:
            ValidationError: the key is not 32 bytes.
        """
        return walk(self._root, check_key(key))


def walk(root: Tree, key: bytes) -> Path:
    """The walk from ``root`` towards ``key``: the siblings down to where it ends.

    Raises:
        ValidationError: the walk reaches an `Opaque` subtree.
    """
    siblings: list[bytes] = []
    tree, depth = root, 0
    while isinstance(tree, Node):
        if bit(key, depth):
            siblings.append(subtree_hash(tree.left))
            tree = tree.right
        else:
            siblings.append(subtree_hash(tree.right))
            tree = tree.left
        depth += 1
    if isinstance(tree, Opaque):
        raise _unread()
    leaf = (tree.key, tree.head) if isinstance(tree, Leaf) else None
    return Path(key, tuple(siblings), leaf)
