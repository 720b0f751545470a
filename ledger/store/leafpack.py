"""Leaf bytes as stored: raw, or packed with DEFLATE and a fixed preset dictionary.

The log hashes, signs and serves the exact leaf bytes; the ``entries.leaf`` column may
hold them packed to save space (migration 0017_storage, docs/FORMAT.md "Stored leaves").
A stored value is one of:

- the leaf itself: canonical JSON, so its first byte is ``{`` (every log written before
  0017, and rows a tool wrote by hand);
- ``0x01`` followed by raw DEFLATE (RFC 1951, no zlib header) of the leaf, compressed
  with `DICTIONARY_V1` as the preset dictionary (rows written before 0027_storage_v2,
  and leaves the second form cannot hold);
- ``0x02``, a flags byte, the raw bytes of the fields the flags name, then raw DEFLATE
  of the leaf with those fields' values left empty (the *template*), compressed with
  `DICTIONARY_V2`. The fields, in this order: the key id (``"key"``, 16 bytes, flag
  1), the event's previous hash (``"prev"``, 32 bytes, flag 2) and the signature
  (``"sig"``, 64 bytes, flag 4), each the first occurrence in the leaf of that name
  with a canonical unpadded base64url value of that length. Unpacking puts each back,
  in that order, into the first ``"name":""`` of the template.

The structural text of a leaf (keys, kinds, the envelope) compresses almost away against
the dictionary; the signature, key id and previous hash are random: as text DEFLATE
keeps them near 6 bits a character, the second form stores their 112 bytes as they are.
A custody leaf of ~350 bytes packs to ~160 (~195 in the first form).

Packing is an encoding of the store, not of the log: readers unpack before anything is
hashed or parsed. A packed value that does not inflate (a damaged or tampered row) is
returned as stored, so it fails as a leaf where the audit reads it (it cannot parse and
its hash is wrong); unpacking never raises.
"""

from __future__ import annotations

import re
import zlib
from typing import Protocol

from ledger.codec import b64url_ascii, b64url_decode_prechecked


class PackerModule(Protocol):
    """What `pack_many` uses of the compiled packer (ledger/native/leafpack.c)."""

    ZLIB_VERSION: str

    def pack_built(
        self, leaves: list[bytes], dictionary: bytes, level: int, wbits: int, memlevel: int
    ) -> list[bytes | None]:
        """`pack` of each leaf in `Leaf.build`'s envelope, None for the others."""
        ...


compiled_packer: PackerModule | None
try:  # `pack_many`'s packer in C; where it was not built, `pack` packs every leaf (and
    # where it deflates otherwise than this zlib: `same_deflate`, at the end)
    from ledger.native import leafpack as _native_packer

    compiled_packer = _native_packer
except ImportError:
    compiled_packer = None

#: the tag byte of a value packed with `DICTIONARY_V1` (never the first byte of JSON)
PACKED_V1 = 0x01
#: the tag byte of a value whose random fields are stored raw (`DICTIONARY_V2`)
PACKED_V2 = 0x02
_TAG = bytes([PACKED_V1])
_TAG_V2 = bytes([PACKED_V2])
#: (flag, JSON name, raw length) of the fields the second form stores raw, in order
_RAW_FIELDS = ((1, b"key", 16), (2, b"prev", 32), (4, b"sig", 64))
_FIELD_VALUE = {
    name: re.compile(rb'"' + name + rb'":"([A-Za-z0-9_-]{%d})"' % -(-size * 4 // 3))
    for _, name, size in _RAW_FIELDS
}

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
#: Fixed forever, as `DICTIONARY_V1`: its text up to the custody kinds, then the
#: templates of the commonest leaves (their random fields are stored raw, so the
#: template is what is left to compress), the most frequent last.
DICTIONARY_V2 = DICTIONARY_V1[: DICTIONARY_V1.index(b'"kind":"commission"')] + (
    b'"to":"","kind":"commission","prev":null,'
    b'{"event":{"actor":"","kind":"receive","prev":"","time":"2026-12-01T12:00:00Z",'
    b'"unit":{"gtin":"0","serial":""}},"key":"","received":"2026-12-01T12:00:00.000Z",'
    b'"sig":"","v":2}'
    b'{"event":{"actor":"","kind":"handoff","prev":"","time":"2026-12-01T12:00:00Z","to":"",'
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

    The second form when the leaf has a field it stores raw and its value unpacks to
    exactly ``leaf`` (checked here: a leaf whose text would put a field back in another
    place is packed in the first form). A leaf that does not start with ``{`` is always
    packed, so a raw stored value can never be mistaken for a packed one.
    ``unpack(pack(leaf)) == leaf`` for every ``leaf``.
    """
    packed = _pack_v2(leaf)
    if packed is None:
        return pack_v1(leaf)
    if len(packed) < len(leaf) or leaf[:1] != b"{":
        return packed
    return leaf


def pack_many(leaves: list[bytes]) -> list[bytes]:
    """`pack` of each of ``leaves``, in order: the same values. Where the compiled packer
    is built (setup.py, ledger/native/leafpack.c), the leaves in `Leaf.build`'s envelope
    are packed there, the whole batch with the GIL released; `pack` packs the others."""
    if compiled_packer is None:
        return [pack(leaf) for leaf in leaves]
    leaves = list(leaves)  # (what the packer saw, whatever another thread does to ours)
    out = compiled_packer.pack_built(leaves, DICTIONARY_V2, _LEVEL, _PACK_WBITS, _PACK_MEMLEVEL)
    return [pack(leaf) if value is None else value for leaf, value in zip(leaves, out, strict=True)]


def pack_v1(leaf: bytes) -> bytes:
    """The value to store for ``leaf`` in the first packed form (code from before
    0027_storage_v2 reads it; that revision's downgrade writes it), or the leaf itself
    as `pack` decides. ``unpack(pack_v1(leaf)) == leaf``."""
    packed = _TAG + _deflate(leaf, DICTIONARY_V1)
    if len(packed) < len(leaf) or leaf[:1] != b"{":
        return packed
    return leaf


def _deflate(data: bytes, dictionary: bytes) -> bytes:
    packer = _packer(dictionary).copy()
    return packer.compress(data) + packer.flush()


def _packer(dictionary: bytes) -> zlib._Compress:
    """A compressor primed with ``dictionary`` and nothing else, to be copied: a copy is
    in exactly the state a new one would be (so it writes the same bytes), without
    setting the dictionary up again for every leaf."""
    packer = _PACKERS.get(dictionary)
    if packer is None:
        packer = zlib.compressobj(
            _LEVEL, zlib.DEFLATED, _PACK_WBITS, _PACK_MEMLEVEL, zlib.Z_DEFAULT_STRATEGY, dictionary
        )
        _PACKERS[dictionary] = packer
    return packer


_PACKERS: dict[bytes, zlib._Compress] = {}
#: per raw length, the characters that may end its canonical base64url text (the
#: unused bits of the last character zero): 16 and 64 bytes end in 2 spare bits' worth
#: of choice (every 16th character), 32 bytes in 4 (every 4th)
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CANONICAL_LAST = {
    size: frozenset(_ALPHABET[:: 16 if size % 3 == 1 else 4]) for _, _, size in _RAW_FIELDS
}


def _pack_v2(leaf: bytes) -> bytes | None:
    """The second form of ``leaf``, or None when it has no field to store raw or its
    fields would not come back in their places (then `pack` uses the first form)."""
    found = _built_fields(leaf)
    if found is not None:
        head, template = found
        if len(template) <= MAX_LEAF:
            return head + _deflate(template, DICTIONARY_V2)
    return _pack_v2_searched(leaf)


def _pack_v2_searched(leaf: bytes) -> bytes | None:
    """`_pack_v2` for any bytes: each field searched for, the template unpacked again
    (without the inflate) to see that every field comes back in its place."""
    flags, raw, template, texts = 0, b"", leaf, []
    for flag, name, size in _RAW_FIELDS:
        found = _FIELD_VALUE[name].search(template)
        if found is None:
            continue
        text = found.group(1)  # the pattern held the alphabet and the length
        if text[-1] not in _CANONICAL_LAST[size]:
            continue  # not canonical (nonzero spare bits): it would not come back as is
        flags, raw = flags | flag, raw + b64url_decode_prechecked(text)
        texts.append((name, text))
        template = template[: found.start(1)] + template[found.end(1) :]
    if not flags:
        return None
    # What `unpack` will do with this value: inflate gives the template back (DEFLATE
    # is lossless), then `_refill` puts each field's text (the canonical text of its raw
    # bytes, checked above) into the first empty place of its name. Run here on the
    # template itself, that is `unpack(packed) == leaf` without the inflate.
    if len(template) > MAX_LEAF or _refill(template, texts) != leaf:
        return None  # (an inflate stops at MAX_LEAF)
    return _TAG_V2 + bytes([flags]) + raw + _deflate(template, DICTIONARY_V2)


def _refill(template: bytes | None, texts: list[tuple[bytes, bytes]]) -> bytes | None:
    """``template`` with each (name, text) put, in order, into the first ``"name":""``
    of it; None when one has no such place (or ``template`` is None)."""
    leaf = template
    for name, text in texts:
        if leaf is None:
            return None
        place = leaf.find(_EMPTY[name])
        if place < 0:
            return None
        cut = place + len(name) + 4  # after '"name":"'
        leaf = leaf[:cut] + text + leaf[cut:]
    return leaf


#: per raw field, its empty place in a template
_EMPTY = {name: b'"' + name + b'":""' for _, name, _ in _RAW_FIELDS}

# --- leaves as ledger.entry's `Leaf.build` writes them ---------------------------------
#: the envelope's tail after the event: the key id and signature of their lengths, the
#: receive time (no quote in any of them), the format
_BUILT_TAIL = re.compile(
    rb',"key":"([A-Za-z0-9_-]{22})","received":"[0-9T:.Z-]*",'
    rb'"sig":"([A-Za-z0-9_-]{86})"(?:,"v":2)?\}'
)
_KEY_START, _SIG_START, _PREV_START = b',"key":"', b'"sig":"', b'"prev":"'
_PREV_CHARS = 43  # unpadded base64url of 32 bytes
#: raw bytes of the key ids met (a log has few), by their text (bounded)
_RAW_KEYS: dict[bytes, bytes] = {}


def _built_fields(leaf: bytes) -> tuple[bytes, bytes] | None:
    """(the second form's tag, flags and raw fields; the template) of a leaf in
    `Leaf.build`'s envelope, found without searching each field and without unpacking
    the template to check it; None for any other leaf (`_pack_v2_searched` then
    decides), and for a leaf whose key id or signature is not canonical.

    What `_pack_v2_searched` finds, shown on the envelope: the tail after the event
    holds the key id and the signature, each a canonical value of its length, and
    nothing else with a quote in it; the event before it holds no ``"key":"`` and no
    ``"sig":"`` (so the tail's are the first of their names in the leaf and the
    template's first empty ones) and at most one ``"prev":"`` (the first ``"prev"`` of
    the leaf if any, and the template's only empty one once emptied). Emptying a value
    makes no new occurrence of any of the three (the text on either side of it held
    it already), so the fields are the ones searched for, in the places unpacking puts
    them back (tests/unit/test_leafpack.py compares the two on any bytes).
    """
    at = leaf.rfind(_KEY_START)
    tail = _BUILT_TAIL.fullmatch(leaf, at) if at > 0 else None
    if tail is None or leaf.find(_SIG_START, 0, at) >= 0 or leaf.find(_KEY_START[1:], 0, at) >= 0:
        return None
    key, sig = tail.group(1, 2)
    if key[-1] not in _CANONICAL_LAST[16] or sig[-1] not in _CANONICAL_LAST[64]:
        return None
    raw_key = _RAW_KEYS.get(key)
    if raw_key is None:
        raw_key = b64url_decode_prechecked(key)
        if len(_RAW_KEYS) < 4096:
            _RAW_KEYS[key] = raw_key
    key_at, sig_at = tail.start(1), tail.start(2)
    prev = leaf.find(_PREV_START, 0, at)
    if prev >= 0:
        if leaf.find(_PREV_START, prev + 1, at) >= 0:
            return None  # another "prev" (rare): the search decides which is first
        value = prev + len(_PREV_START)
        end = value + _PREV_CHARS
        text = leaf[value:end]
        if (
            end < at
            and leaf[end] == 0x22  # '"'
            and _PREV_VALUE.fullmatch(text)
            and text[-1] in _CANONICAL_LAST[32]
        ):
            return (
                b"".join(
                    (
                        _HEAD_KEY_PREV_SIG,
                        raw_key,
                        b64url_decode_prechecked(text),
                        b64url_decode_prechecked(sig),
                    )
                ),
                b"".join(
                    (
                        leaf[:value],
                        leaf[end:key_at],
                        leaf[key_at + 22 : sig_at],
                        leaf[sig_at + 86 :],
                    )
                ),
            )
    return (
        b"".join((_HEAD_KEY_SIG, raw_key, b64url_decode_prechecked(sig))),
        b"".join((leaf[:key_at], leaf[key_at + 22 : sig_at], leaf[sig_at + 86 :])),
    )


#: the second form's tag and flags: key id, prev and signature raw; key id and signature
_HEAD_KEY_PREV_SIG, _HEAD_KEY_SIG = _TAG_V2 + bytes([7]), _TAG_V2 + bytes([5])
_PREV_VALUE = re.compile(rb"[A-Za-z0-9_-]{%d}" % _PREV_CHARS)


def unpack(stored: bytes) -> bytes:
    """The leaf bytes of a stored value (see the module docstring); never raises.

    A packed value that is not exactly one complete DEFLATE stream of at most
    `MAX_LEAF` bytes, or (second form) whose flags, raw fields and template do not fit
    together, is returned unchanged: it is not a leaf, and every reader that checks
    leaves (hash, parse) finds that.
    """
    if stored[:1] == _TAG:
        leaf = _inflate(stored[1:], DICTIONARY_V1)
    elif stored[:1] == _TAG_V2:
        leaf = _unpack_v2(stored)
    else:
        return stored
    return stored if leaf is None else leaf


def _inflate(data: bytes, dictionary: bytes) -> bytes | None:
    """``data`` inflated, or None unless it is one complete stream of <= `MAX_LEAF`."""
    unpacker = zlib.decompressobj(_UNPACK_WBITS, dictionary)
    try:
        out = unpacker.decompress(data, MAX_LEAF)
    except zlib.error:
        return None
    if not unpacker.eof or unpacker.unconsumed_tail or unpacker.unused_data:
        return None
    return out


def _unpack_v2(stored: bytes) -> bytes | None:
    """The leaf of a value in the second form, or None when it is not one."""
    if len(stored) < 2 or not 0 < stored[1] < 8:
        return None
    flags, at = stored[1], 2
    fields = []
    for flag, name, size in _RAW_FIELDS:
        if flags & flag:
            fields.append((name, stored[at : at + size]))
            at += size
    if at > len(stored):
        return None
    template = _inflate(stored[at:], DICTIONARY_V2)
    return _refill(template, [(name, b64url_ascii(value)) for name, value in fields])


def same_deflate(packer: PackerModule) -> bool:
    """Whether ``packer`` (the compiled module) deflates as this interpreter's zlib does:
    the same zlib version at run time, and a sample leaf packed to `pack`'s bytes. A
    Python whose zlib is another build (static, zlib-ng) would otherwise store other
    bytes than `pack` for the same leaf: they would still unpack, but the two paths
    must write the same store."""
    sample = (
        b'{"event":{"actor":"acme","kind":"handoff","prev":"' + b"A" * 43 + b'","time":"'
        b'2026-12-01T12:00:00Z","to":"ship-co","unit":{"gtin":"09506000134352","serial":"S'
        b'-1"}},"key":"'
        + b"Q" * 22
        + b'","received":"2026-12-01T12:00:00.000Z","sig":"'
        + b"g" * 86
        + b'","v":2}'
    )
    if packer.ZLIB_VERSION != zlib.ZLIB_RUNTIME_VERSION:
        return False
    return packer.pack_built([sample], DICTIONARY_V2, _LEVEL, _PACK_WBITS, _PACK_MEMLEVEL) == [
        pack(sample)
    ]


if compiled_packer is not None and not same_deflate(compiled_packer):
    compiled_packer = None
