"""A gzip answer (RFC 1952) built from a prefix deflated once and a tail sent as it is.

A large unit's JSON view is a fixed part (its entries and proofs: 1.3 MB for a unit of
1,000 entries, ~5x smaller deflated) and a small per-request part (verdict, scans,
owner). `deflate_prefix` compresses the fixed part once, ending on a byte boundary
without the final-block bit (``Z_SYNC_FLUSH``); `gzip_tail` closes the member per
request with the tail in stored (uncompressed) DEFLATE blocks and the CRC-32 and length
of the whole. The two together are one valid gzip member: any client decodes them as
it decodes any other.

The tail is never compressed, and the prefix holds only what every client is shown
alike: no secret or per-request value shares a compression context with anything a
stranger chooses, so the answer's length tells nothing (BREACH).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

#: ID1 ID2, CM = 8 (deflate), FLG = 0, MTIME = 0 (none), XFL = 0, OS = 255 (unknown)
HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
#: the largest stored block (its LEN field is 16 bits)
STORED_MAX = 0xFFFF
#: the compression level of a prefix: deflated once per view, so the smaller output wins
LEVEL = 6
#: a weight (RFC 9110, section 12.4.2)
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
#: Accept-Encoding values up to this length have their answer kept (`accepts_gzip`)
_KEPT_HEADER = 256


@dataclass(frozen=True, slots=True)
class Prefix:
    """A gzip member's start: `HEADER` and the deflated prefix, byte-aligned and not
    final; with the prefix's CRC-32 and length, which the tail's trailer continues."""

    data: bytes
    crc: int
    length: int


def deflate_prefix(*pieces: bytes) -> Prefix:
    """The gzip member's start for the concatenation of ``pieces`` (never joined: each is
    fed to the compressor and the CRC in turn)."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [HEADER]
    crc = 0
    length = 0
    for piece in pieces:
        out.append(compressor.compress(piece))
        crc = zlib.crc32(piece, crc)
        length += len(piece)
    out.append(compressor.flush(zlib.Z_SYNC_FLUSH))  # byte-aligned, no final block
    return Prefix(b"".join(out), crc, length)


def gzip_tail(prefix: Prefix, tail: bytes) -> bytes:
    """What follows ``prefix.data`` to end the member: ``tail`` in stored blocks (the
    last one final; an empty tail is one empty final block) and the trailer, the CRC-32
    and length (mod 2^32) of the prefix's bytes and ``tail``."""
    out = []
    last = len(tail) - 1
    start = 0
    while True:
        chunk = tail[start : start + STORED_MAX]
        start += STORED_MAX
        final = start > last
        n = len(chunk)
        out.append(struct.pack("<BHH", 1 if final else 0, n, n ^ 0xFFFF))
        out.append(chunk)
        if final:
            break
    crc = zlib.crc32(tail, prefix.crc)
    out.append(struct.pack("<II", crc, (prefix.length + len(tail)) & 0xFFFFFFFF))
    return b"".join(out)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when an ``Accept-Encoding`` value (RFC 9110, section 12.5.3) allows gzip:
    ``gzip`` (or ``x-gzip``) listed with a weight above 0, or, when it is not listed,
    ``*`` with a weight above 0. An unreadable weight allows nothing; no header, nothing
    (the identity answer is always acceptable)."""
    if not accept_encoding:
        return False
    if len(accept_encoding) > _KEPT_HEADER:
        return _accepts_gzip(accept_encoding)
    return _kept_accepts_gzip(accept_encoding)


def _accepts_gzip(value: str) -> bool:
    named: float | None = None
    anything: float | None = None
    for item in value.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        weight = _weight(params)
        if coding == "*":
            anything = weight if anything is None else anything
        elif named is None:
            named = weight
    chosen = named if named is not None else anything
    return chosen is not None and chosen > 0


_kept_accepts_gzip = lru_cache(maxsize=512)(_accepts_gzip)


def _weight(params: str) -> float:
    """The ``q`` of a coding's parameters: 1 when absent, 0 when it is not a qvalue."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            text = value.strip()
            return float(text) if _QVALUE.fullmatch(text) else 0.0
    return 1.0
