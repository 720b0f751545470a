"""QR data segments: a text split into numeric, alphanumeric and byte runs, shortest first.

What it does: ISO/IEC 18004:2015 section 7.4 lets one symbol hold several segments,
each in its own mode: numeric (digits, 10 bits per 3), alphanumeric (``0-9 A-Z`` and
`` $%*+-./:``, 11 bits per 2) and byte (8 bits per byte), each segment costing a mode
indicator (4 bits) and a character count (8 to 14 bits, by mode and version). A label
URI mixes all three: an upper-cased ``HTTPS://ID.ACME.CN/01/`` is alphanumeric, the
GTIN numeric, ``?s=`` byte, and the compact signature 155 digits (``ledger.label``).
`split` finds the split with the fewest bits by dynamic programming over the text
(the three modes are the states; switching mode pays a segment header), the method of
ISO/IEC 18004:2015 annex J, done exactly rather than by its rules of thumb.

`stream` packs segments into the bit stream of section 7.4 (without terminator and
padding, which ``qr.codewords`` adds).

What it does not do: Kanji mode, ECI, structured append; versions above 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALNUM_VALUE = {ch: i for i, ch in enumerate(ALPHANUMERIC)}


class Mode(IntEnum):
    """A segment's mode, valued as its 4-bit mode indicator."""

    NUMERIC = 0b0001
    ALPHANUMERIC = 0b0010
    BYTE = 0b0100


#: character count bits for versions 1-9 and 10-26 (ISO/IEC 18004:2015 table 3)
_COUNT_BITS = {
    Mode.NUMERIC: (10, 12),
    Mode.ALPHANUMERIC: (9, 11),
    Mode.BYTE: (8, 16),
}
_MODES = (Mode.NUMERIC, Mode.ALPHANUMERIC, Mode.BYTE)


@dataclass(frozen=True)
class Segment:
    """One run of the text in one mode; ``data`` is its text (bytes for byte mode)."""

    mode: Mode
    data: bytes

    @property
    def count(self) -> int:
        """The character count field's value: characters, or bytes in byte mode."""
        return len(self.data)

    def data_bits(self) -> int:
        """Bits of the segment's data, without its header."""
        n = len(self.data)
        if self.mode is Mode.NUMERIC:
            return 10 * (n // 3) + (0, 4, 7)[n % 3]
        if self.mode is Mode.ALPHANUMERIC:
            return 11 * (n // 2) + 6 * (n % 2)
        return 8 * n


def count_bits(mode: Mode, version: int) -> int:
    """Return the width of ``mode``'s character count field at ``version`` (1-26)."""
    return _COUNT_BITS[mode][0 if version <= 9 else 1]


def bit_length(segments: list[Segment], version: int) -> int:
    """Return the bits of ``segments`` at ``version``: headers and data, no terminator."""
    return sum(4 + count_bits(s.mode, version) + s.data_bits() for s in segments)


def _char_cost(mode: Mode, ch: str) -> int | None:
    """Cost of one character in sixths of a bit (exact over whole groups); None: not
    encodable in ``mode``."""
    if mode is Mode.NUMERIC:
        return 20 if "0" <= ch <= "9" else None
    if mode is Mode.ALPHANUMERIC:
        return 33 if ch in _ALNUM_VALUE else None
    return 48 * len(ch.encode("utf-8"))


def split(text: str, version: int = 1) -> list[Segment]:
    """Return the segments of ``text`` with the fewest bits at ``version``'s count widths.

    Every character goes in the cheapest mode that holds it, unless staying in the
    current mode is cheaper than paying another segment header; costs are counted in
    sixths of a bit so that partial groups (a digit of 3.33 bits, an alphanumeric
    character of 5.5) compare exactly over whole segments, as in ISO/IEC 18004 annex J.

    Raises:
        UnicodeEncodeError: ``text`` holds a lone surrogate (the caller checks first).
    """
    if not text:
        return [Segment(Mode.BYTE, b"")]
    header = {m: 6 * (4 + count_bits(m, version)) for m in _MODES}
    infinity = 1 << 60
    cost = {m: header[m] for m in _MODES}  # best cost so far, ending in mode m
    came_from: list[dict[Mode, Mode]] = []  # per character: mode -> previous mode
    for ch in text:
        cheapest = min(cost, key=cost.__getitem__)
        new: dict[Mode, int] = {}
        back: dict[Mode, Mode] = {}
        for m in _MODES:
            step = _char_cost(m, ch)
            if step is None:
                new[m] = infinity
                continue
            stay, switch = cost[m], cost[cheapest] + header[m]
            new[m], back[m] = (stay, m) if stay <= switch else (switch, cheapest)
            new[m] += step
        cost = new
        came_from.append(back)
    mode = min(cost, key=cost.__getitem__)
    modes: list[Mode] = []
    for back in reversed(came_from):
        modes.append(mode)
        mode = back[mode]
    modes.reverse()
    segments: list[Segment] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or modes[i] is not modes[start]:
            segments.append(Segment(modes[start], text[start:i].encode("utf-8")))
            start = i
    return segments


def stream(segments: list[Segment], version: int) -> tuple[int, int]:
    """Return the segments' bit stream as ``(value, bit length)`` (section 7.4)."""
    value, length = 0, 0
    for s in segments:
        width = count_bits(s.mode, version)
        value = (value << 4 | s.mode) << width | s.count
        length += 4 + width
        if s.mode is Mode.NUMERIC:
            for i in range(0, len(s.data), 3):
                group = s.data[i : i + 3]
                bits = (0, 4, 7, 10)[len(group)]
                value = value << bits | int(group)
                length += bits
        elif s.mode is Mode.ALPHANUMERIC:
            text = s.data.decode("ascii")
            for i in range(0, len(text), 2):
                pair = text[i : i + 2]
                if len(pair) == 2:
                    value = value << 11 | (45 * _ALNUM_VALUE[pair[0]] + _ALNUM_VALUE[pair[1]])
                    length += 11
                else:
                    value = value << 6 | _ALNUM_VALUE[pair]
                    length += 6
        else:
            value = value << (8 * len(s.data)) | int.from_bytes(s.data, "big")
            length += 8 * len(s.data)
    return value, length
