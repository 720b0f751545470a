"""The fast read of stored leaf bytes: canonical form checked on the bytes themselves.

`ledger.entry.Leaf.from_bytes` first asks `split_leaf`; only bytes it declines go to
the general parser there (parse, re-encode, compare), which names what is wrong. A leaf
as `Leaf.build` writes it is the event's canonical bytes spliced between a fixed head
and a tail of base64url and timestamp values (which JSON never escapes), so the
envelope is matched, not parsed, and only the event's bytes are parsed and compared
with their sorted re-encoding (`canonical_object`; non-ASCII bytes are checked on the
bytes without re-encoding). Accepts only what the general parser accepts, with an equal result
(tests/unit/test_leaf_parse.py checks both ways). No I/O.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise
from typing import Any, NamedTuple

from ledger import codec, crypto
from ledger.events import parse_time

_LEAF_HEAD = b'{"event":'
_LEAF_TAIL = re.compile(
    rb',"key":"([A-Za-z0-9_-]*)","received":"([0-9T:.Z-]*)","sig":"([A-Za-z0-9_-]*)"(,"v":2)?\}'
)
_TAIL_START = b',"key":"'
_SIG_CHARS = -(-crypto.SIGNATURE_SIZE * 4 // 3)  # unpadded base64url of 64 bytes: 86
_SIG_LAST = (b"A", b"Q", b"g", b"w")
# Without backslashes a JSON string is a quote, non-quote bytes, a quote; what is left
# when they are cut out is the structure, which in canonical form has no whitespace.
_STRING = re.compile(rb'"[^"]*"')
_STRUCTURE = re.compile(rb"[{}\[\],:0-9a-z-]*")


def _not_canonical(text: str) -> None:
    raise _NotCanonicalError


def _safe_int(text: str) -> int:
    value = int(text)
    if not -codec.MAX_SAFE_INTEGER <= value <= codec.MAX_SAFE_INTEGER:
        raise _NotCanonicalError
    return value


_DECODER = json.JSONDecoder(
    parse_float=_not_canonical, parse_constant=_not_canonical, parse_int=_safe_int
)
#: the decoder's scanner (json's C scanner where there is one): (value, end) of the JSON
#: value at an index; it clears its key memo after each call
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]

#: key ids already found well formed by `split_leaf` (bounded)
_KEY_IDS_SEEN: set[str] = set()


class LeafParts(NamedTuple):
    """What a leaf's bytes say, its event still a plain (checked, canonical) object."""

    event: dict[str, Any]
    event_bytes: bytes
    key: str
    received: str
    sig: bytes
    #: True for a format-2 leaf (``"v":2`` last), False for format 1
    format_2: bool


class _NotCanonicalError(Exception):
    """Raised inside the fast parse: leave these bytes to the general parser."""


def split_leaf(data: bytes) -> LeafParts | None:
    """The parts of a leaf in the shape `Leaf.build` writes, checking canonical form on
    the bytes instead of re-encoding: the envelope is a fixed head and tail, and the
    event's bytes are canonical when they hold no escape, no whitespace outside strings,
    no ``-0``, only integers and ASCII keys in ascending order (then JCS of the parsed
    value is exactly these bytes). Returns None for any other bytes (the caller's general
    parser decides). The event's shape is not checked here.

    Raises:
        LedgerError: the key id or the receive time is malformed.
    """
    found = _envelope(data)
    if found is None:
        return None
    event_bytes, tail = found
    value = canonical_object(event_bytes)
    if value is None:
        return None
    raw_key, raw_received, sig = tail.group(1, 2, 3)
    key, received = raw_key.decode("ascii"), raw_received.decode("ascii")
    if key not in _KEY_IDS_SEEN:  # a log has few keys: check each spelling once
        codec.b64url_decode(key, field="key", size=crypto.KEY_ID_SIZE)
        if len(_KEY_IDS_SEEN) < 4096:
            _KEY_IDS_SEEN.add(key)
    # 64 bytes are 86 base64url characters, the last carrying 2 bits and 4 zero bits
    # (canonical: one of A, Q, g, w); the tail's pattern allowed only the alphabet
    if len(sig) != _SIG_CHARS or sig[-1:] not in _SIG_LAST:
        return None
    signature = codec.b64url_decode_prechecked(sig)
    parse_time(received, "received")
    return LeafParts(value, event_bytes, key, received, signature, tail.group(4) is not None)


def leaf_event(data: bytes) -> tuple[bytes, bool] | None:
    """(the event's bytes, whether the leaf is format 2) of ``data`` in the envelope
    `Leaf.build` writes, read without parsing the event: the bytes between the fixed
    head and the tail, the format the tail's ``"v":2`` or its absence. None for bytes
    without that envelope (the general parser decides about those). Never raises."""
    found = _envelope(data)
    return None if found is None else (found[0], found[1].group(4) is not None)


def _envelope(data: bytes) -> tuple[bytes, re.Match[bytes]] | None:
    """The event's bytes and the tail's match, for bytes in a leaf's envelope."""
    at = data.rfind(_TAIL_START)
    tail = _LEAF_TAIL.fullmatch(data, at) if at > 0 else None
    if tail is None or not data.startswith(_LEAF_HEAD):
        return None
    return data[len(_LEAF_HEAD) : at], tail


def canonical_object(raw: bytes) -> dict[str, Any] | None:
    """The JSON object ``raw`` holds if the bytes show it is canonical, else None.

    ASCII bytes (nearly every event) are parsed by json's C scanner and compared with
    their re-encoding (`codec.canonical_parsed`: sorted keys, no whitespace): for ASCII text without
    escapes that encoding is JCS, so equal bytes are canonical. Floats, NaN/Infinity and
    unsafe integers are refused by the scanner's hooks as they are met (called only for
    those tokens and integers, which custody events rarely hold); non-ASCII bytes go to
    `_checked_object`, the check on the bytes with a hook per object. Both accept
    exactly the same bytes with the same value (tests/unit/test_leaf_parse.py).
    """
    if b"\\" in raw:
        return None
    if not raw.isascii():
        return _checked_object(raw)
    text = raw.decode("ascii")
    try:
        # the scanner itself, without `JSONDecoder.decode`'s wrapper (two whitespace
        # matches): bytes with whitespace around the object are not canonical anyway
        value, end = _SCAN(text, 0)
        # the JCS bytes of what this parse gives (ASCII keys, safe integers: what
        # `codec.canonical_parsed` asks), by orjson (~0.6 us against json's ~4 for an
        # event: docs/PERFORMANCE.md "audit42"); a duplicate key is dropped by the parse
        # and then missing from the encoding
        if end != len(text) or type(value) is not dict or codec.canonical_parsed(value) != raw:
            return None
    except (StopIteration, ValueError, _NotCanonicalError, RecursionError):
        # not JSON (StopIteration, JSONDecodeError), a float, a constant or an unsafe
        # integer, or nested too deep to parse (the general parser names it)
        return None
    return value


def _checked_object(raw: bytes) -> dict[str, Any] | None:
    """`canonical_object` for any bytes: the structure outside strings checked with
    patterns, then parsed with hooks that refuse keys out of order or not ASCII,
    floats, constants and unsafe integers."""
    structure = _STRING.sub(b"", raw)
    if not _STRUCTURE.fullmatch(structure) or b"-0" in structure:
        return None
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_ascending_keys,
            parse_float=_not_canonical,
            parse_constant=_not_canonical,
            parse_int=_safe_int,
        )
    except (ValueError, _NotCanonicalError, RecursionError):  # JSONDecodeError,
        return None  # UnicodeDecodeError, or nested too deep (the general parser names it)
    return value if isinstance(value, dict) else None


def _ascending_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # ASCII keys: code-point order is JCS's UTF-16 order; strictly ascending, no duplicate
    for (a, _), (b, _) in pairwise(pairs):
        if not a < b:
            raise _NotCanonicalError
    if not all(k.isascii() for k, _ in pairs):
        raise _NotCanonicalError
    return dict(pairs)
