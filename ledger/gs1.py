"""GS1 identifiers: GTIN check digits, AI 21/10/22/17 values, GS1 Digital Link URIs.

What it does:
- validates and normalizes GTIN-8/12/13/14 to GTIN-14 (GS1 General Specifications,
  "GenSpecs", section 7.9.1 check digit) and matches GTINs to company prefixes;
- validates serial (AI 21), lot (AI 10) and consumer product variant (AI 22) against
  GS1 AI encodable character set 82 (GenSpecs figure 7.11-1), and expiry (AI 17,
  YYMMDD with DD = 00 meaning the month's last day) with the century rule of GenSpecs
  section 7.12 when a reference date is given;
- formats and parses GS1 Digital Link URIs for a GTIN (GS1 Digital Link: URI Syntax
  1.2, ABNF rules ``gtin-path`` and ``XSYMBOL``): ``/01/{gtin14}`` then the key
  qualifiers ``/22/``, ``/10/``, ``/21/`` in that order, data attributes (AI 17) in the
  query string, other query parameters (a label signature) kept as ordered pairs.

Percent-encoding: every character outside the RFC 3986 ``unreserved`` set is written
as ``%XX`` with uppercase hex (RFC 3986 section 2.1). For values from set 82 that is
exactly ``! " % & ' ( ) * + , / : ; < = > ?``, the ``XSYMBOL`` escapes of the Digital
Link ABNF (plus ``"``, which RFC 3986 does not allow raw), and what GS1's reference
Barcode Syntax Engine (``dl.c``, ``URIescape``) emits. Parsing accepts lowercase hex and
raw RFC 3986 ``pchar`` characters (``!$&'()*+,;=:@``), refuses malformed escapes, and
checks the decoded value. ``#`` is not in set 82, so no serial can contain it. In the
query, ``+`` is a plain plus (RFC 3986), not a space: send a space as ``%20``.

What it does not do: no I/O and no clock reads (`expiry_date` takes ``today``); no
primary keys other than the GTIN, no compressed Digital Link URIs, no AIs in the path
other than 01/22/10/21; a resolver path prefix may not itself contain a segment ``01``.
"""

from __future__ import annotations

import calendar
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ledger.errors import BadLotError, GS1Error

#: GS1 AI encodable character set 82 (GenSpecs figure 7.11-1).
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
GTIN_LENGTHS = (8, 12, 13, 14)
MAX_VALUE_LENGTH = 20  # AI 21, AI 10 and AI 22 are all X..20
MAX_URI_LENGTH = 2048

_DIGITS = re.compile(r"[0-9]+")
#: a whole value of set 82, 1 to 20 characters (one C-level match; the loop in
#: `_validate_cset82` runs only to name the first bad character)
_CSET82_VALUE = re.compile(
    "[" + "".join(sorted(re.escape(c) for c in CSET82)) + f"]{{1,{MAX_VALUE_LENGTH}}}"
)
_HEX = frozenset(string.hexdigits)
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")  # RFC 3986 2.3
_PCHAR = _UNRESERVED | frozenset("!$&'()*+,;=:@")  # RFC 3986 3.3, "%" handled apart
_QCHAR = _PCHAR | frozenset("/?")  # RFC 3986 3.4
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?(?::[0-9]{{1,5}})?")
# GS1 Digital Link URI Syntax 1.2, ABNF: gtin-path = gtin-comp [cpv-comp] [lot-comp] [ser-comp]
_QUALIFIERS = ("22", "10", "21")
_FIELD_OF = {"22": "cpv", "10": "lot", "21": "serial"}
# identification AIs: they belong in the path, never in the query
_PATH_AIS = frozenset({"01", "22", "10", "21", "235"})

QueryPairs = tuple[tuple[str, str], ...]


# --- GTIN -------------------------------------------------------------------------------


def gtin_check_digit(body: str) -> int:
    """Return the GS1 mod-10 check digit of ``body`` (a GTIN without its check digit).

    GenSpecs section 7.9.1: from the rightmost digit, weights 3, 1, 3, 1, ...; the check
    digit brings the weighted sum up to a multiple of ten.

    Raises:
        GS1Error: ``body`` is not 1 to 17 ASCII digits (field ``gtin``).
    """
    if not isinstance(body, str) or not _DIGITS.fullmatch(body) or len(body) > 17:
        raise GS1Error("check digit body must be 1 to 17 ASCII digits", field="gtin")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gtin(text: object, *, field: str = "gtin") -> None:
    """Check that ``text`` is a GTIN-8, -12, -13 or -14 with a correct check digit.

    Steps: (1) ASCII digits only; (2) length 8, 12, 13 or 14; (3) check digit.

    Raises:
        GS1Error: the GTIN is malformed; the message gives the expected check digit.
    """
    if type(text) is str and text in _VALID_GTINS:  # few products, each in many events
        return
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):  # (1)
        raise GS1Error("a GTIN is 8, 12, 13 or 14 ASCII digits", field=field)
    if len(text) not in GTIN_LENGTHS:  # (2)
        raise GS1Error(f"a GTIN has 8, 12, 13 or 14 digits, not {len(text)}", field=field)
    expected = gtin_check_digit(text[:-1])  # (3)
    if int(text[-1]) != expected:
        raise GS1Error(f"check digit is {text[-1]}, expected {expected}", field=field)
    if len(_VALID_GTINS) < 65536:
        _VALID_GTINS.add(text)


#: GTINs `validate_gtin` has accepted (bounded): str values only, so no lookalike type
_VALID_GTINS: set[str] = set()


def normalize_gtin(text: str, *, field: str = "gtin") -> str:
    """Return the GTIN-14 of a valid GTIN-8/12/13/14, left-padded with zeros.

    Raises:
        GS1Error: ``text`` is not a valid GTIN (see `validate_gtin`).
    """
    validate_gtin(text, field=field)
    return text.rjust(14, "0")


def company_prefix_matches(gtin14: str, prefix: str) -> bool:
    """Tell whether a GTIN falls under a GS1 company prefix.

    The prefix is compared with the GTIN-13 part of the GTIN-14 (``gtin14[1:]``), so
    the indicator digit is ignored. Shorter GTINs are normalized to 14 digits first.

    Raises:
        GS1Error: the GTIN is invalid (field ``gtin``) or the prefix is not 4 to 12
            ASCII digits (field ``prefix``).
    """
    gtin = normalize_gtin(gtin14)
    if not isinstance(prefix, str) or not _DIGITS.fullmatch(prefix) or not 4 <= len(prefix) <= 12:
        raise GS1Error("a GS1 company prefix is 4 to 12 ASCII digits", field="prefix")
    return gtin[1:].startswith(prefix)


# --- AI values ----------------------------------------------------------------------------


def _validate_cset82(value: object, field: str) -> None:
    if type(value) is str and _CSET82_VALUE.fullmatch(value):
        return  # the common case, in one match
    if not isinstance(value, str):
        raise GS1Error("expected a string", field=field)
    if not 1 <= len(value) <= MAX_VALUE_LENGTH:
        raise GS1Error(f"must be 1 to {MAX_VALUE_LENGTH} characters, not {len(value)}", field=field)
    for i, ch in enumerate(value):
        if ch not in CSET82:
            raise GS1Error(
                f"character {i + 1} (U+{ord(ch):04X}) is not in GS1 character set 82",
                field=field,
            )


def validate_serial(serial: object, *, field: str = "serial") -> None:
    """Check a serial number (AI 21): 1 to 20 characters of GS1 character set 82.

    Raises:
        GS1Error: not a string, empty, longer than 20, or a character outside set 82.
    """
    _validate_cset82(serial, field)


def validate_lot(lot: object, *, field: str = "lot") -> None:
    """Check a batch/lot number (AI 10): 1 to 20 characters of GS1 character set 82.

    Raises:
        BadLotError: not a string, empty, longer than 20, or a character outside set 82
            (a `GS1Error` with its own code, ``bad-lot``).
    """
    try:
        _validate_cset82(lot, field)
    except GS1Error as e:
        raise BadLotError(e.message, field=field) from e


def validate_cpv(cpv: object, *, field: str = "cpv") -> None:
    """Check a consumer product variant (AI 22): 1 to 20 characters of set 82.

    Raises:
        GS1Error: not a string, empty, longer than 20, or a character outside set 82.
    """
    _validate_cset82(cpv, field)


def _expiry_parts(yymmdd: object, field: str) -> tuple[int, int, int]:
    if not isinstance(yymmdd, str) or len(yymmdd) != 6 or not _DIGITS.fullmatch(yymmdd):
        raise GS1Error("an expiry date is YYMMDD: six ASCII digits", field=field)
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if not 1 <= mm <= 12:
        raise GS1Error(f"month {yymmdd[2:4]} is not 01 to 12", field=field)
    return yy, mm, dd


def _last_day(year: int, month: int, day: int, field: str) -> int:
    last = calendar.monthrange(year, month)[1]
    if day > last:
        raise GS1Error(f"day {day:02d} does not exist in {year:04d}-{month:02d}", field=field)
    return last


def validate_expiry(yymmdd: object, *, field: str = "expiry") -> None:
    """Check an expiry date (AI 17): YYMMDD, month 01-12, day valid for the month or 00.

    Without a reference date the century is unknown; only February 29 depends on it,
    and this function reads YY as 20YY (so ``000229`` passes, 2000 being a leap year).
    `expiry_date` applies the real century rule and may refuse such a date.

    Raises:
        GS1Error: not six ASCII digits, month outside 01-12, or no such day.
    """
    yy, mm, dd = _expiry_parts(yymmdd, field)
    _last_day(2000 + yy, mm, dd, field)


def expiry_date(yymmdd: str, today: date) -> date:
    """Return the calendar date of an expiry (AI 17) read on ``today``.

    Century (GenSpecs section 7.12): with D = YY minus the two last digits of today's
    year, D in 51..99 means the previous century, D in -99..-50 the next one, otherwise
    the current century. DD = 00 means the last day of the month.

    Raises:
        GS1Error: the date is malformed or does not exist in the century found (field
            ``expiry``), or ``today`` is not a ``datetime.date`` (field ``today``).
    """
    if not isinstance(today, date):
        raise GS1Error("expected a datetime.date", field="today")
    yy, mm, dd = _expiry_parts(yymmdd, "expiry")
    current = today.year % 100
    year = today.year - current + yy
    if yy - current >= 51:
        year -= 100
    elif yy - current <= -50:
        year += 100
    if not 1 <= year <= 9999:
        raise GS1Error(f"year {year} is out of range", field="expiry")
    last = _last_day(year, mm, dd, "expiry")
    return date(year, mm, dd or last)


# --- percent-encoding (RFC 3986 section 2.1) ---------------------------------------------


def _pct_encode(text: str) -> str:
    raw = text.encode("utf-8")  # callers checked that it encodes
    return "".join(chr(b) if chr(b) in _UNRESERVED else f"%{b:02X}" for b in raw)


def _pct_decode(raw: str, allowed: frozenset[str], field: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "%":
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise GS1Error(f"malformed percent escape at position {i + 1}", field=field)
            out.append(int(pair, 16))
            i += 3
        elif ch in allowed:
            out.append(ord(ch))
            i += 1
        else:
            raise GS1Error(f"character U+{ord(ch):04X} must be percent-encoded", field=field)
    return bytes(out)


def _decode_path_value(raw: str, field: str) -> str:
    error = BadLotError if field == "lot" else GS1Error
    try:
        return _pct_decode(raw, _PCHAR, field).decode("ascii")
    except UnicodeDecodeError as e:
        raise error("decodes to a non-ASCII byte, outside set 82", field=field) from e
    except GS1Error as e:
        if error is GS1Error:
            raise
        raise error(e.message, field=field) from e


def _decode_query_text(raw: str) -> str:
    try:
        return _pct_decode(raw, _QCHAR, "query").decode("utf-8")
    except UnicodeDecodeError as e:
        raise GS1Error("a query parameter does not decode to UTF-8", field="query") from e


# --- the compact spelling of a serial in a label's QR code ------------------------------

#: ``$`` is no character of set 82 and one of QR alphanumeric mode's, so a serial
#: spelled with it is never a serial spelled as usual, and fits alphanumeric segments.
COMPACT_ESCAPE = "$"
#: set-82 characters spelled as themselves: in QR alphanumeric mode and in a path as is
_COMPACT_PLAIN = frozenset(string.ascii_uppercase + string.digits + "-.*+:")
#: the other 15 non-letters of set 82, spelled ``$`` and the character below them
_COMPACT_OTHERS = "!\"%&'(),/;<=>?_"
_COMPACT_AFTER = "0123456789-.*+:"


def compact_serial(serial: str) -> str:
    """Return the serial in the compact spelling of a label's QR code (docs/FORMAT.md
    section 8.1): ``A-Z 0-9 - . * + :`` as themselves, a lower-case letter as ``$`` and
    the letter in upper case, each of ``!"%&'(),/;<=>?_`` as ``$`` and one of
    ``0123456789-.*+:`` in that order. Every character is in QR alphanumeric mode and in
    an RFC 3986 path segment as is; each serial has one spelling, at most 2 characters a
    character (a percent-escape takes 3, and a lower-case letter forces a byte segment).

    Raises:
        GS1Error: ``serial`` is not 1-20 characters of set 82 (field ``serial``).
    """
    validate_serial(serial)
    out: list[str] = []
    for ch in serial:
        if ch in _COMPACT_PLAIN:
            out.append(ch)
        elif "a" <= ch <= "z":
            out.append(COMPACT_ESCAPE + ch.upper())
        else:
            out.append(COMPACT_ESCAPE + _COMPACT_AFTER[_COMPACT_OTHERS.index(ch)])
    return "".join(out)


def decode_compact_serial(text: str) -> str:
    """Return the serial that `compact_serial` spells as ``text`` (already
    percent-decoded: a browser may escape ``$`` as ``%24``).

    Raises:
        GS1Error: ``text`` is not a compact spelling: a ``$`` with no valid character
            after it, or a character that is spelled otherwise (field ``serial``).
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        ch, after = text[i], text[i + 1 : i + 2]
        if ch in _COMPACT_PLAIN:
            out.append(ch)
            i += 1
            continue
        if ch != COMPACT_ESCAPE or not after:
            raise GS1Error(f"not a compact serial at position {i + 1}", field="serial")
        if after in string.ascii_uppercase:
            out.append(after.lower())
        elif after in _COMPACT_AFTER:
            out.append(_COMPACT_OTHERS[_COMPACT_AFTER.index(after)])
        else:
            raise GS1Error(f"not a compact serial escape at position {i + 1}", field="serial")
        i += 2
    return "".join(out)


# --- unit identity -----------------------------------------------------------------------


def _path_values(segments: list[str]) -> dict[str, str]:
    """Return {AI: value} of ``01/{gtin}[/22/v][/10/v][/21/v]`` (segments after a prefix)."""
    if len(segments) < 2 or len(segments) % 2 or segments[0] != "01":
        raise GS1Error("expected /01/{gtin} followed by AI/value pairs", field="path")
    values = {"01": normalize_gtin(_decode_path_value(segments[1], "gtin"))}
    rank = -1
    for ai, raw in zip(segments[2::2], segments[3::2], strict=True):
        if ai in values:
            raise GS1Error(f"AI {ai} appears twice", field="path")
        if ai not in _QUALIFIERS:
            raise GS1Error(f"unknown or unsupported AI {ai[:8]!r} in the path", field="path")
        if _QUALIFIERS.index(ai) < rank:
            raise GS1Error(f"AI {ai} is out of order: expected 22, 10, 21", field="path")
        rank = _QUALIFIERS.index(ai)
        value = _decode_path_value(raw, _FIELD_OF[ai])
        if ai == "21" and COMPACT_ESCAPE in value:
            value = decode_compact_serial(value)  # a label's QR spelling (FORMAT 8.1)
        try:
            _validate_cset82(value, _FIELD_OF[ai])
        except GS1Error as e:
            # a lot is compared with the unit's commission: its own code (bad-lot)
            raise (BadLotError(e.message, field="lot") if ai == "10" else e) from e
        values[ai] = value
    return values


@dataclass(frozen=True)
class UnitId:
    """A serialized unit: GTIN-14 (AI 01) plus serial (AI 21). Shorter GTINs are padded.

    Raises:
        GS1Error: on construction, if the GTIN or the serial is invalid.
    """

    gtin: str
    serial: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "gtin", normalize_gtin(self.gtin))
        validate_serial(self.serial)

    def path(self) -> str:
        """Return the Digital Link path ``/01/{gtin14}/21/{percent-encoded serial}``."""
        return f"/01/{self.gtin}/21/{_pct_encode(self.serial)}"

    @classmethod
    def from_path(cls, path: str) -> UnitId:
        """Parse exactly ``/01/{gtin}/21/{serial}`` (no prefix, lot, query or fragment).

        Raises:
            GS1Error: the path is malformed (field ``path``, ``gtin`` or ``serial``).
        """
        if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_URI_LENGTH:
            raise GS1Error("expected a path /01/{gtin}/21/{serial}", field="path")
        values = _path_values(path[1:].split("/"))
        if set(values) != {"01", "21"}:
            raise GS1Error("a unit path is exactly /01/{gtin}/21/{serial}", field="path")
        return cls(gtin=values["01"], serial=values["21"])


# --- GS1 Digital Link ---------------------------------------------------------------------


def _split_authority(uri: str, field: str) -> tuple[str, str]:
    """Return (``scheme://host``, rest starting at the path or query) of an http(s) URI."""
    if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH:
        raise GS1Error(f"expected a URI of at most {MAX_URI_LENGTH} characters", field=field)
    if "#" in uri:
        raise GS1Error("a fragment (#...) is not allowed", field=field)
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise GS1Error("the scheme must be http:// or https://", field=field)
    end = min((j for j in (rest.find("/"), rest.find("?")) if j != -1), default=len(rest))
    host = rest[:end].lower()
    if not _HOST.fullmatch(host):
        raise GS1Error("the host must be a DNS name or IPv4 address, optional port", field=field)
    return f"{scheme.lower()}://{host}", rest[end:]


def _check_prefix(segments: Sequence[str], field: str) -> None:
    for seg in segments:
        _pct_decode(seg, _PCHAR, field)
        if not seg:
            raise GS1Error("a path prefix may not contain an empty segment", field=field)
        if seg == "01":
            raise GS1Error("a path prefix may not contain a segment 01", field=field)


def _check_base_url(base_url: str) -> str:
    """Return ``base_url`` (scheme, host, optional path prefix) without a trailing slash."""
    origin, tail = _split_authority(base_url, "base_url")
    tail = tail.removesuffix("/")
    if "?" in tail:
        raise GS1Error("a base URL has no query", field="base_url")
    if tail:
        _check_prefix(tail.split("/")[1:], "base_url")
    return origin + tail


def _check_query(query: object) -> QueryPairs:
    if not isinstance(query, Sequence) or isinstance(query, str):
        raise GS1Error("expected a sequence of (name, value) pairs", field="query")
    pairs: list[tuple[str, str]] = []
    for pair in query:
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise GS1Error("expected a (name, value) pair", field="query")
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise GS1Error("a query parameter is a non-empty name and a string", field="query")
        if name == "17" or name in _PATH_AIS:
            raise GS1Error(f"AI {name} has its own argument, not a query pair", field="query")
        try:
            (name + value).encode("utf-8")
        except UnicodeEncodeError as e:
            raise GS1Error("a query parameter is not valid Unicode", field="query") from e
        pairs.append((name, value))
    return tuple(pairs)


def _parse_query(query: str) -> tuple[str | None, QueryPairs]:
    """Return (AI 17 value or None, the other parameters, decoded and in order)."""
    expiry: str | None = None
    pairs: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        name, value = _decode_query_text(raw_name), _decode_query_text(raw_value)
        if name in _PATH_AIS:
            raise GS1Error(f"AI {name} belongs in the path, not the query", field="query")
        if name == "17":
            if expiry is not None:
                raise GS1Error("AI 17 appears twice", field="expiry")
            validate_expiry(value)
            expiry = value
        elif not name:
            raise GS1Error("a query parameter has an empty name", field="query")
        else:
            pairs.append((name, value))
    return expiry, tuple(pairs)


def format_digital_link(
    base_url: str,
    gtin: str,
    serial: str | None = None,
    lot: str | None = None,
    expiry: str | None = None,
    *,
    cpv: str | None = None,
    query: Sequence[tuple[str, str]] = (),
) -> str:
    """Return the GS1 Digital Link URI ``{base}/01/{gtin14}[/22/..][/10/..][/21/..][?17=..]``.

    Key qualifiers go in the path in the order of GS1 Digital Link URI Syntax 1.2
    (``gtin-path``); AI 17 is a data attribute and goes first in the query string,
    followed by ``query`` (e.g. a label signature). Values are percent-encoded with
    uppercase hex for every character outside the RFC 3986 unreserved set.

    Raises:
        GS1Error: a malformed base URL (field ``base_url``), GTIN, serial, lot, cpv,
            expiry, or query pair (field ``query``).
    """
    parts = [_check_base_url(base_url), "/01/", normalize_gtin(gtin)]
    for ai, value in (("22", cpv), ("10", lot), ("21", serial)):
        if value is not None:
            _validate_cset82(value, _FIELD_OF[ai])
            parts += ["/", ai, "/", _pct_encode(value)]
    params = []
    if expiry is not None:
        validate_expiry(expiry)
        params.append(f"17={expiry}")
    for name, value in _check_query(query):
        params.append(f"{_pct_encode(name)}={_pct_encode(value)}")
    return "".join(parts) + ("?" + "&".join(params) if params else "")


@dataclass(frozen=True, kw_only=True)
class DigitalLink:
    """A parsed GS1 Digital Link URI for a GTIN.

    ``base_url`` is ``scheme://host`` plus any resolver path prefix (no trailing slash);
    ``query`` holds every query parameter but AI 17, decoded, in URI order.

    Raises:
        GS1Error: on construction, if any field is invalid.
    """

    gtin: str
    serial: str | None = None
    lot: str | None = None
    expiry: str | None = None
    base_url: str
    cpv: str | None = None
    query: QueryPairs = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "gtin", normalize_gtin(self.gtin))
        object.__setattr__(self, "base_url", _check_base_url(self.base_url))
        object.__setattr__(self, "query", _check_query(self.query))
        for value, field in ((self.serial, "serial"), (self.cpv, "cpv")):
            if value is not None:
                _validate_cset82(value, field)
        if self.lot is not None:
            validate_lot(self.lot)
        if self.expiry is not None:
            validate_expiry(self.expiry)

    @property
    def host(self) -> str:
        """The host (and port, if any) of the URI, lowercase."""
        return self.base_url.split("://", 1)[1].split("/", 1)[0]

    def param(self, name: str) -> str | None:
        """Return the first value of query parameter ``name``, or None."""
        return next((v for k, v in self.query if k == name), None)

    def unit_id(self) -> UnitId:
        """Return the unit this link names.

        Raises:
            GS1Error: the link has no serial (AI 21) (field ``serial``).
        """
        if self.serial is None:
            raise GS1Error("this Digital Link names no serial (AI 21)", field="serial")
        return UnitId(gtin=self.gtin, serial=self.serial)

    def to_uri(self) -> str:
        """Return the canonical URI (inverse of `parse_digital_link`)."""
        return format_digital_link(
            self.base_url,
            self.gtin,
            self.serial,
            self.lot,
            self.expiry,
            cpv=self.cpv,
            query=self.query,
        )


def parse_digital_link(uri: str) -> DigitalLink:
    """Parse a GS1 Digital Link URI for a GTIN (GS1 Digital Link URI Syntax 1.2).

    Steps:
        (1) scheme http/https (any case), a DNS or IPv4 host, no fragment;
        (2) the path: an optional resolver prefix, then ``/01/{gtin}`` (GTIN-8/12/13/14,
            normalized to 14) and the key qualifiers 22, 10, 21, each at most once and
            in that order; values percent-decoded and checked against set 82;
        (3) the query: AI 17 validated, other parameters kept; identification AIs
            (01, 22, 10, 21, 235) are refused there.

    Raises:
        GS1Error: the URI is malformed; ``field`` names the part to blame (``uri``,
            ``path``, ``gtin``, ``cpv``, ``lot``, ``serial``, ``expiry`` or ``query``).
    """
    origin, tail = _split_authority(uri, "uri")  # (1)
    path, _, query = tail.partition("?")
    segments = path.split("/")[1:]  # (2)
    if "01" not in segments:
        raise GS1Error("no /01/{gtin} in the path", field="path")
    start = segments.index("01")
    _check_prefix(segments[:start], "path")
    values = _path_values(segments[start:])
    expiry, pairs = _parse_query(query)  # (3)
    prefix = "".join("/" + seg for seg in segments[:start])
    return DigitalLink(
        gtin=values["01"],
        serial=values.get("21"),
        lot=values.get("10"),
        cpv=values.get("22"),
        expiry=expiry,
        base_url=origin + prefix,
        query=pairs,
    )
