"""Canonical JSON (RFC 8785, JCS) and the byte encodings used on the wire.

This is the ONLY encoder used for bytes that are hashed or signed. It accepts the JSON
subset the ledger allows: objects with string keys, arrays, strings, booleans, null and
integers in the IEEE-754 safe range. Floats, NaN/Infinity, duplicate keys, lone
surrogates and invalid UTF-8 are refused, so every accepted value has exactly one
canonical byte form and round-trips.

Binary values (hashes, keys, signatures) travel as unpadded base64url (RFC 4648
section 5) everywhere in ledger JSON; C2SP notes use standard padded base64 because
their specification says so. Lowercase hex helpers exist for humans and logs.

Speed: for objects whose keys are all ASCII (every ledger event), UTF-16 code-unit order
(RFC 8785 section 3.2.3) equals code-point order, and orjson (as CPython's ``json``)
escapes exactly the characters JCS escapes, so ``orjson.dumps`` with sorted keys yields
JCS bytes (``json.dumps(sort_keys=True)`` beyond orjson's 254 levels); other values go
through the reference ``rfc8785`` package. Property tests prove them equal.

No I/O happens here.
"""

from __future__ import annotations

import base64
import binascii
import json
import json.decoder
import json.encoder
import json.scanner
import re
from collections.abc import Callable
from typing import Any

import orjson
import rfc8785

from ledger.errors import EncodingError

MAX_SAFE_INTEGER = 2**53 - 1
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_FROM_URLSAFE_BYTES = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE_BYTES = bytes.maketrans(b"+/", b"-_")
_HEX = re.compile(r"[0-9a-f]*")
#: the characters that may end unpadded base64url of 2 or 3 characters past a multiple of
#: 4: their bits past the last whole byte are zero (4 and 2 bits: every 16th and 4th
#: character of the alphabet), the one spelling a canonical encoding has
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ZERO_TAIL = {2: frozenset(_ALPHABET[::16]), 3: frozenset(_ALPHABET[::4])}
#: a JSON escape of a UTF-16 surrogate (may also match an escaped backslash before
#: "ud800": then the value is only walked for nothing)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

JSONValue = Any  # dict[str, JSONValue] | list[JSONValue] | str | int | bool | None


def canonical(value: JSONValue) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises:
        EncodingError: ``value`` holds a float, an integer outside +-(2**53-1), a
            non-string key, a lone surrogate, or a type that is not JSON.
    """
    if _check(value, "$"):  # every key ASCII
        return canonical_parsed(value)
    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError as e:  # pragma: no cover - _check rejects first
        raise EncodingError(str(e)) from e


def canonical_parsed(value: JSONValue) -> bytes:
    """Return the RFC 8785 bytes of a value that `parse` returned (so already checked:
    no float, no unsafe integer, no lone surrogate) and whose object keys are all ASCII,
    without walking it again. For anything else use `canonical`: handed a float or a
    non-ASCII key, this returns bytes that are not canonical.

    orjson writes it (sorted keys, no whitespace, UTF-8 as is, the short escapes and
    lowercase ``\\u00xx`` for the other control characters: what json's encoder writes
    with ``ensure_ascii=False``, tests/unit/test_codec.py against rfc8785), ~3-10 x
    faster than json's C encoder for an event (docs/PERFORMANCE.md "audit42"); a value
    nested deeper than orjson writes (254 levels) goes to json's encoder.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        pass
    if _encode_chunks is not None:
        return "".join(_encode_chunks(value, 0)).encode("utf-8")
    return _encode_slowly(value).encode("utf-8")  # pragma: no cover - no C encoder


def _sorted_compact_encoder() -> tuple[Callable[[JSONValue], str], Any]:
    """``json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``
    as one prepared function: the same C encoder that `json.dumps` builds on every call
    (json.encoder's ``c_make_encoder``, with the arguments `JSONEncoder.iterencode`
    passes it), built once. An event is encoded per submitted event, and building the
    encoder was half of that (~3 of ~6 us). Without the accelerator, or should its
    arguments change, `JSONEncoder.encode` (the same text, built per call). Returned:
    that ``encode`` (for the fallback), and the C encoder (None without it), whose
    ``"".join(encoder(value, 0))`` is the text."""
    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    try:
        encode = make(  # type: ignore[misc]
            None,  # markers: parsed values hold no cycles (check_circular=False)
            encoder.default,  # raises TypeError for a value JSON has no form for
            json.encoder.encode_basestring,  # ensure_ascii=False
            None,  # indent
            ":",
            ",",
            True,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan (parse refused floats: never used)
        )
        if "".join(encode({"b": [1, "\u00e9\n"], "a": None}, 0)) != encoder.encode(
            {"b": [1, "\u00e9\n"], "a": None}
        ):
            raise TypeError("json's C encoder changed")
    except TypeError:
        return encoder.encode, None
    return encoder.encode, encode


_encode_slowly, _encode_chunks = _sorted_compact_encoder()


def parse(data: bytes) -> JSONValue:
    """Parse strict UTF-8 JSON into Python values, refusing what `canonical` refuses.

    One pass: the decoder's hooks refuse duplicate keys, floats, NaN/Infinity and unsafe
    integers as it meets them. Lone surrogates can only come from ``\\uD800``-style
    escapes (strict UTF-8 holds none), so the value is walked again only when the text
    has such an escape.

    Raises:
        EncodingError: invalid UTF-8 or JSON, a duplicate key, a float, NaN/Infinity,
            an unsafe integer or a lone surrogate.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError("expected bytes")
    try:
        text = bytes(data).decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise EncodingError(f"not valid UTF-8 at byte {e.start}") from e
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
            parse_int=_safe_int,
        )
    except _UnsafeIntegerError:
        return _parse_slowly(text)  # it names the field the integer is in
    except EncodingError:
        raise
    except (json.JSONDecodeError, RecursionError) as e:
        raise EncodingError(f"not valid JSON: {e}") from e
    if _SURROGATE_ESCAPE.search(text):
        _check(value, "$")
    return value


def parse_counted(data: bytes) -> tuple[JSONValue, int | None]:
    """`parse` without its duplicate-key hook, for a caller that shows there was no
    duplicate key by counting: (the value, the number of ``:`` in the text).

    Every other check of `parse` is made: what `parse` refuses (invalid UTF-8 or
    JSON, a float, NaN/Infinity, an unsafe integer, a lone surrogate) goes to `parse`,
    which raises as it always does. A duplicate key only leaves its last member in
    the value, so the caller must show that the value's compact JSON holds ``count``
    colons (one per object member and each ``:`` inside a string): a text's ``:`` are
    its members' and those inside its strings, a member lost takes at least its own
    away, and the value's strings hold exactly the text's ``:`` unless an escape
    (``\\u003a``) spells one, so such a text is left to `parse` too. The count is then
    None: `parse` made the value, duplicate keys refused (also when the caller's count
    is unequal: `parse` raises the error to report).

    The hook is a call per object (three an event of a batch): ~0.8 us of the ~2 an
    event that the parse took (docs/PERFORMANCE.md "parse32").

    Raises:
        EncodingError: as `parse`.
    """
    if type(data) is not bytes or not _STRICT_SCANNER:
        return parse(data), None
    try:
        text = data.decode("utf-8", errors="strict")
        value = json.loads(
            text, parse_float=_no_float, parse_constant=_no_constant, parse_int=_safe_int
        )
    except (UnicodeDecodeError, ValueError, RecursionError, EncodingError, _UnsafeIntegerError):
        return parse(data), None  # refused (raises) or named by `parse`, as always
    if _COLON_ESCAPE in text or _SURROGATE_ESCAPE.search(text):
        return parse(data), None  # rare: `parse` decides (and names the field)
    return value, text.count(":")


def _strict_scanner() -> bool:
    """Whether `json.loads` runs json's C scanner, which reads a ``\\u`` escape only
    with four hex digits. `parse_counted`'s proof rests on that: the module's Python
    fallback reads ``\\u0_3a`` as ``:`` (``int(esc, 16)``), an escaped colon the count
    would not see. Without it every text goes to `parse`."""
    # getattr: typeshed declares neither attribute; each is None without json's C module
    if getattr(json.decoder, "c_scanstring", None) is None:
        return False
    if getattr(json.scanner, "c_make_scanner", None) is None:
        return False
    try:
        json.loads('"\\u0_3a"')
    except ValueError:
        return True
    return False  # pragma: no cover - a scanner that reads it


_STRICT_SCANNER = _strict_scanner()

#: the start of a JSON escape that may spell ``:`` (``\u003a``, ``\u003A``)
_COLON_ESCAPE = "\\u003"


def _parse_slowly(text: str) -> JSONValue:
    """Parse, then walk the whole value: errors name the field (the rare error path)."""
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except EncodingError:
        raise
    except (json.JSONDecodeError, RecursionError, ValueError) as e:
        raise EncodingError(f"not valid JSON: {e}") from e
    _check(value, "$")
    return value


def parse_canonical(data: bytes) -> JSONValue:
    """Parse ``data`` and require that it is already in canonical form.

    Used on bytes that are stored and hashed (leaves), so that one value never has two
    byte forms in the log.

    Raises:
        EncodingError: as `parse`, or the bytes are valid JSON but not canonical.
    """
    value = parse(data)
    if canonical(value) != bytes(data):
        raise EncodingError("JSON is valid but not in RFC 8785 canonical form")
    return value


def _check(value: JSONValue, path: str) -> bool:
    """Validate ``value`` recursively; return True when every object key is ASCII."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise EncodingError("integer outside the safe range +-(2**53-1)", field=path)
        return True
    if isinstance(value, str):
        _check_text(value, path)
        return True
    if isinstance(value, float):
        raise EncodingError("floats are not allowed; send decimals as strings", field=path)
    if isinstance(value, list | tuple):
        ascii_keys = True
        for i, item in enumerate(value):
            ascii_keys = _check(item, f"{path}[{i}]") and ascii_keys
        return ascii_keys
    if isinstance(value, dict):
        ascii_keys = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError("object keys must be strings", field=path)
            _check_text(key, path)
            ascii_keys = ascii_keys and key.isascii()
            ascii_keys = _check(item, f"{path}.{key}") and ascii_keys
        return ascii_keys
    raise EncodingError(f"type {type(value).__name__} is not JSON", field=path)


def _check_text(text: str, path: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8", errors="strict")
        except UnicodeEncodeError as e:
            raise EncodingError("string holds a lone surrogate", field=path) from e


def _no_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: find the key to name it
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise EncodingError(f"duplicate key {key!r}")
            seen.add(key)
    return out


class _UnsafeIntegerError(Exception):
    """Raised by the decoder's integer hook: `parse` falls back to name the field."""


def _safe_int(text: str) -> int:
    if len(text) > 17:  # more digits than 2**53 has (16) and a sign: refuse unread
        raise _UnsafeIntegerError
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise _UnsafeIntegerError
    return value


def _no_float(text: str) -> None:
    raise EncodingError(f"floats are not allowed ({text}); send decimals as strings")


def _no_constant(text: str) -> None:
    raise EncodingError(f"{text} is not allowed")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url (RFC 4648 section 5)."""
    return b64url_ascii(data).decode("ascii")


def b64url_ascii(data: bytes) -> bytes:
    """`b64url_encode` as ASCII bytes. base64.urlsafe_b64encode's work without its two
    wrappers' frames: leaves are unpacked and read with a few of these each."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE_BYTES).rstrip(b"=")


def b64url_decode_prechecked(text: bytes) -> bytes:
    """The bytes of unpadded base64url ``text`` that the caller has already matched
    against the alphabet, with a length that is not 1 past a multiple of 4 (a leaf's
    pattern): no canonical-form check here, which `b64url_decode` makes.

    Raises:
        binascii.Error: ``text`` was not checked as promised.
    """
    return binascii.a2b_base64(text.translate(_FROM_URLSAFE_BYTES) + b"=" * (-len(text) % 4))


def b64url_decode(text: str, *, field: str = "value", size: int | None = None) -> bytes:
    """Decode strict unpadded base64url; optionally require exactly ``size`` bytes.

    Refuses padding, characters outside the alphabet, and non-canonical encodings
    (non-zero trailing bits), so every byte string has exactly one text form.

    Raises:
        EncodingError: the text is not canonical unpadded base64url, or has the wrong size.
    """
    if type(text) is str and _B64URL.fullmatch(text):  # the common case, in one test
        rest = len(text) % 4
        if not rest or (rest != 1 and text[-1] in _ZERO_TAIL[rest]):
            data = binascii.a2b_base64(
                text.encode("ascii").translate(_FROM_URLSAFE_BYTES) + _PAD[rest]
            )
            if size is None or len(data) == size:
                return data
    return _b64url_decode_checked(text, field, size)  # anything else: named as it is


#: the padding `binascii.a2b_base64` wants after unpadded base64url of each length % 4
_PAD = (b"", b"===", b"==", b"=")


def _b64url_decode_checked(text: str, field: str, size: int | None) -> bytes:
    """`b64url_decode` step by step: each refusal with its own message."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise EncodingError("not unpadded base64url", field=field)
    rest = len(text) % 4
    if rest and text[-1] not in _ZERO_TAIL[rest]:  # the last character's unused bits
        raise EncodingError("non-canonical base64url (trailing bits set)", field=field)
    try:
        # base64.urlsafe_b64decode's work without its two wrappers' frames (the audit
        # decodes a prev hash or key id most entries); the pattern held the alphabet, so
        # the text is ASCII: bytes.translate takes ~0.2 us where str.translate took ~5
        # (a signature), the largest step of parsing a submitted event
        data = binascii.a2b_base64(
            text.encode("ascii").translate(_FROM_URLSAFE_BYTES) + b"=" * (-len(text) % 4)
        )
    except (binascii.Error, ValueError) as e:  # pragma: no cover - regex rejects first
        raise EncodingError("not unpadded base64url", field=field) from e
    if size is not None and len(data) != size:
        raise EncodingError(f"expected {size} bytes, got {len(data)}", field=field)
    return data


def b64_encode(data: bytes) -> str:
    """Encode bytes as standard padded base64 (RFC 4648 section 4), as C2SP notes use."""
    return base64.b64encode(data).decode("ascii")


def b64_decode(text: str, *, field: str = "value") -> bytes:
    """Decode strict standard padded base64.

    Raises:
        EncodingError: the text is not canonical padded base64.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as e:
        raise EncodingError("not valid base64", field=field) from e
    if base64.b64encode(data).decode("ascii") != text:
        raise EncodingError("non-canonical base64", field=field)
    return data


def hex_encode(data: bytes) -> str:
    """Encode bytes as lowercase hex."""
    return data.hex()


def hex_decode(text: str, *, field: str = "value", size: int | None = None) -> bytes:
    """Decode lowercase hex; optionally require exactly ``size`` bytes.

    Raises:
        EncodingError: not lowercase hex of even length, or the wrong size.
    """
    if not isinstance(text, str) or len(text) % 2 or not _HEX.fullmatch(text):
        raise EncodingError("not lowercase hex", field=field)
    data = bytes.fromhex(text)
    if size is not None and len(data) != size:
        raise EncodingError(f"expected {size} bytes, got {len(data)}", field=field)
    return data
