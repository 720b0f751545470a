"""Map proofs: their bytes, and their verification against a signed map root.

One proof form answers both questions about a key (ledger.map.trie): "this key's latest
entry is (index, hash)" and "no such key". Bytes, version 1 (docs/FORMAT.md, "The map
of heads"):

    version      1 byte   0x01
    terminal     1 byte   0x00 the walk ends at an empty subtree
                          0x01 the walk ends at a leaf (followed by the leaf below)
    depth        2 bytes  big-endian, 0..256: siblings from the root down
    bitmap       ceil(depth / 8) bytes: bit i (most significant first) set when the
                 sibling at depth i is not empty (and only then: a set bit whose
                 sibling is 32 zero bytes is refused); the padding bits are 0
    siblings     32 bytes for each set bit, in depth order
    leaf         (terminal 0x01 only) key 32 bytes, index 8 bytes big-endian,
                 entry hash 32 bytes

`verify` folds the terminal's hash up with the siblings along the asked key's bits and
compares with the root. It returns the head when the leaf is the asked key's, None when
the key is proven absent (an empty subtree, or another key's leaf sharing the path so
far), and raises `MapProofError` for anything else: malformed bytes, a proof that does
not reach the root, another key's leaf off the asked key's path.
"""

from __future__ import annotations

from ledger import codec
from ledger.errors import EncodingError, ProofError
from ledger.map.trie import (
    EMPTY,
    HASH_BYTES,
    KEY_BITS,
    KEY_BYTES,
    Head,
    Path,
    bit,
    leaf_hash,
    node_hash,
)

VERSION = 1
_EMPTY_END = 0
_LEAF_END = 1
_LEAF_BYTES = KEY_BYTES + 8 + HASH_BYTES


class MapProofError(ProofError):
    """A map proof that is malformed or does not lead to the signed map root."""

    code = "bad-map-proof"


def encode(path: Path) -> bytes:
    """The proof's bytes (version 1) for a walk of `ledger.map.trie.Trie.path`."""
    depth = len(path.siblings)
    bitmap = bytearray((depth + 7) // 8)
    present = []
    for i, sibling in enumerate(path.siblings):
        if sibling != EMPTY:
            bitmap[i >> 3] |= 0x80 >> (i & 7)
            present.append(sibling)
    out = bytes([VERSION, _EMPTY_END if path.leaf is None else _LEAF_END])
    out += depth.to_bytes(2, "big") + bytes(bitmap) + b"".join(present)
    if path.leaf is not None:
        key, head = path.leaf
        out += key + head.to_bytes()
    return out


def decode(key: bytes, data: bytes) -> Path:
    """The walk a proof's bytes describe for ``key``.

    Raises:
        MapProofError: malformed bytes (version, terminal, depth, bitmap padding, length).
    """
    if len(key) != KEY_BYTES:
        raise MapProofError(f"a map key is {KEY_BYTES} bytes, not {len(key)}", field="key")
    data = bytes(data)
    if len(data) < 4 or data[0] != VERSION:
        raise MapProofError("not a version 1 map proof", field="map_proof")
    terminal = data[1]
    if terminal not in (_EMPTY_END, _LEAF_END):
        raise MapProofError(f"unknown map proof terminal {terminal}", field="map_proof")
    depth = int.from_bytes(data[2:4], "big")
    if depth > KEY_BITS:
        raise MapProofError(f"a map proof is at most {KEY_BITS} deep", field="map_proof")
    at = 4 + (depth + 7) // 8
    bitmap = data[4:at]
    if depth & 7 and len(bitmap) == (depth + 7) // 8 and bitmap[-1] & (0xFF >> (depth & 7)):
        raise MapProofError("a map proof's bitmap padding is not zero", field="map_proof")
    count = sum(bin(b).count("1") for b in bitmap)
    want = at + count * HASH_BYTES + (_LEAF_BYTES if terminal == _LEAF_END else 0)
    if len(data) != want:
        raise MapProofError(
            f"a map proof of this shape is {want} bytes, not {len(data)}", field="map_proof"
        )
    siblings = []
    for i in range(depth):
        if bitmap[i >> 3] & (0x80 >> (i & 7)):
            sibling = data[at : at + HASH_BYTES]
            if sibling == EMPTY:  # one encoding per proof: an empty sibling is a 0 bit
                raise MapProofError(
                    "a map proof sends an empty sibling as a hash", field="map_proof"
                )
            siblings.append(sibling)
            at += HASH_BYTES
        else:
            siblings.append(EMPTY)
    leaf = None
    if terminal == _LEAF_END:
        leaf_key = data[at : at + KEY_BYTES]
        index = int.from_bytes(data[at + KEY_BYTES : at + KEY_BYTES + 8], "big")
        leaf = (leaf_key, Head(index, data[at + KEY_BYTES + 8 : want]))
    return Path(bytes(key), tuple(siblings), leaf)


def verify(root: bytes, key: bytes, data: bytes) -> Head | None:
    """What a proof proves about ``key`` under ``root``: its head, or None if absent.

    Raises:
        MapProofError: the proof is malformed, does not reach ``root``, or ends at another
            key's leaf that is not on ``key``'s path.
    """
    if len(root) != HASH_BYTES:
        raise MapProofError(f"a map root is {HASH_BYTES} bytes, not {len(root)}", field="root")
    path = decode(key, data)
    depth = len(path.siblings)
    if path.leaf is None:
        found: Head | None = None
        running = EMPTY
    else:
        leaf_key, head = path.leaf
        if leaf_key != key and any(bit(leaf_key, i) != bit(key, i) for i in range(depth)):
            raise MapProofError("the proof's leaf is off the key's path", field="map_proof")
        found = head if leaf_key == key else None
        running = leaf_hash(leaf_key, head)
    for i in range(depth - 1, -1, -1):
        sibling = path.siblings[i]
        running = node_hash(sibling, running) if bit(key, i) else node_hash(running, sibling)
    if running != bytes(root):
        raise MapProofError("the map proof does not lead to the signed map root", field="root")
    return found


def to_text(data: bytes) -> str:
    """A proof as it travels in JSON: unpadded base64url (ledger.codec)."""
    return codec.b64url_encode(data)


def from_text(text: str) -> bytes:
    """A proof's bytes from its JSON form.

    Raises:
        MapProofError: not unpadded base64url.
    """
    try:
        return codec.b64url_decode(text, field="map_proof")
    except EncodingError as e:
        raise MapProofError("a map proof is unpadded base64url", field="map_proof") from e
