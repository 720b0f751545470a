"""Leaf bytes as stored: raw, or packed with DEFLATE and a fixed preset dictionary.

The log hashes, signs and serves the exact leaf bytes; the ``entries.leaf`` column may
hold them packed to save space (migration 0017_storage, docs/FORMAT.md "Stored leaves").
A stored value is one of:

- the leaf itself: canonical JSON, so its first byte is ``{`` (every log written before
  0017, and rows a tool wrote by hand);
- ``0x01`` followed by raw DEFLATE (RFC 1951, no zlib header) of the leaf, compressed
  with `DICTIONARY_V1` as the preset dictionary.

The structural text of a leaf (keys, kinds, the envelope) compresses almost away against
the dictionary; the signature, key id and chain hash are random and stay near their
size. A custody leaf of ~350 bytes packs to ~200.

Packing is an encoding of the store, not of the log: readers unpack before anything is
hashed or parsed. A packed value that does not inflate (a damaged or tampered row) is
returned as stored, so it fails as a leaf where the audit reads it (it cannot parse and
its hash is wrong); unpacking never raises.
"""

from __future__ import annotations

import zlib

#: the tag byte of a value packed with `DICTIONARY_V1` (never the first byte of JSON)
PACKED_V1 = 0x01
_TAG = bytes([PACKED_V1])

#: Fixed forever: changing a byte would make every packed row unreadable. A new
#: dictionary needs a new tag. Kept below the 1 KiB window, the most frequent text last
#: (DEFLATE codes nearer matches in fewer bits).
DICTIONARY_V1 = (
    b'"kind":"actor.register","kind":"actor.revoke","kind":"key.rotate",'
    b'"kind":"key.recover","kind":"key.recover.cancel","kind":"authorization.revoke",'
    b'"kind":"log.upgrade","kind":"product.register","kind":"authorize","kind":"inspect",'
    b'"kind":"deliver","kind":"return","kind":"recall","kind":"decommission",'
    b'"kind":"flag","kind":"claim","kind":"sell","lot":"","expiry":"","name":"",'
    b'"role":"brand","role":"operator","prefixes":["","gtins":["0","public_key":"'
    b'"not_after":"","not_before":"","partner":"","place":"","reason":"",'
    b'"kind":"commission","kind":"handoff","kind":"receive",'
    b'{"event":{"actor":"","kind":"","prev":"","time":"2026-12-01T12:00:00Z","to":"",'
    b'"unit":{"gtin":"0","serial":""}},"key":"","received":"2026-12-01T12:00:00.000Z",'
    b'"sig":"","v":2}'
)
#: largest leaf an unpack returns: far above any leaf the ledger accepts, so a damaged
#: row cannot inflate without bound
MAX_LEAF = 1 << 20
_LEVEL = 6  # level 9 packs ~1 byte smaller for twice the time
#: raw DEFLATE; packing uses a 2 KiB window and little memory (the dictionary and a
#: leaf fit, and setting up a small window is most of the cost for ~350 bytes);
#: unpacking takes the full 32 KiB window, so it reads any raw DEFLATE stream
_PACK_WBITS, _PACK_MEMLEVEL, _UNPACK_WBITS = -11, 4, -15


def pack(leaf: bytes) -> bytes:
    """The value to store for ``leaf``: packed when that is shorter, else the leaf.

    A leaf that does not start with ``{`` is always packed, so a raw stored value can
    never be mistaken for a packed one. ``unpack(pack(leaf)) == leaf`` for every ``leaf``.
    """
    packer = zlib.compressobj(
        _LEVEL, zlib.DEFLATED, _PACK_WBITS, _PACK_MEMLEVEL, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_V1
    )
    packed = _TAG + packer.compress(leaf) + packer.flush()
    if len(packed) < len(leaf) or leaf[:1] != b"{":
        return packed
    return leaf


def unpack(stored: bytes) -> bytes:
    """The leaf bytes of a stored value (see the module docstring); never raises.

    A packed value that is not exactly one complete DEFLATE stream of at most
    `MAX_LEAF` bytes is returned unchanged: it is not a leaf, and every reader that
    checks leaves (hash, parse) finds that.
    """
    if stored[:1] != _TAG:
        return stored
    unpacker = zlib.decompressobj(_UNPACK_WBITS, DICTIONARY_V1)
    try:
        leaf = unpacker.decompress(stored[1:], MAX_LEAF)
    except zlib.error:
        return stored
    if not unpacker.eof or unpacker.unconsumed_tail or unpacker.unused_data:
        return stored
    return leaf
