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


_DIGITS = frozenset("0123456789")
_ALNUM = frozenset(ALPHANUMERIC)
#: the modes that can hold a character of each class, and its cost in sixths of a bit
_NUMERIC_CLASS = ((Mode.NUMERIC, 20), (Mode.ALPHANUMERIC, 33), (Mode.BYTE, 48))
_ALNUM_CLASS = ((Mode.ALPHANUMERIC, 33), (Mode.BYTE, 48))


_BYTE_CLASS = ((Mode.BYTE, 48),)  # per UTF-8 byte
_INFINITY = 1 << 60
_CLASSES = (_NUMERIC_CLASS, _ALNUM_CLASS, _BYTE_CLASS)


def _runs(text: str) -> list[tuple[str, tuple[tuple[Mode, int], ...]]]:
    """Split ``text`` into runs of one character class, each with the modes that can
    hold it and the cost of one of its characters (one UTF-8 byte in byte mode)."""
    out: list[tuple[str, tuple[tuple[Mode, int], ...]]] = []
    start, kind = 0, -1
    for i, ch in enumerate(text):
        now = 0 if ch in _DIGITS else 1 if ch in _ALNUM else 2
        if now != kind and i:
            out.append((text[start:i], _CLASSES[kind]))
            start = i
        kind = now
    out.append((text[start:], _CLASSES[kind]))
    return out


def split(text: str, version: int = 1) -> list[Segment]:
    """Return the segments of ``text`` with the fewest bits at ``version``'s count widths.

    The text is cut into runs of one character class (digits; other alphanumeric-mode
    characters; anything else), and a dynamic programme over the runs picks a mode for
    each: staying in the current mode, or paying a new segment header. Within a run
    the cost per character is constant, so the best split only ever changes mode at a
    run's edge. Costs are counted in sixths of a bit so that a digit (3.33 bits) and an
    alphanumeric character (5.5) compare exactly over whole segments, as in ISO/IEC
    18004 annex J.

    Raises:
        UnicodeEncodeError: ``text`` holds a lone surrogate (the caller checks first).
    """
    if not text:
        return [Segment(Mode.BYTE, b"")]
    header = {m: 6 * (4 + count_bits(m, version)) for m in _MODES}
    runs = _runs(text)
    cost: dict[Mode, int] = {m: 0 for m in _MODES}
    started = False
    came_from: list[dict[Mode, Mode]] = []
    for run, options in runs:
        cheapest = min(cost, key=cost.__getitem__)
        new: dict[Mode, int] = dict.fromkeys(_MODES, _INFINITY)  # modes that cannot
        back: dict[Mode, Mode] = {}  # hold this run stay out of reach
        chars, size = len(run), len(run.encode("utf-8"))  # differ only in byte runs
        for m, per_char in options:
            stay = cost[m] if started else _INFINITY
            switch = cost[cheapest] + header[m]
            new[m], back[m] = (stay, m) if stay <= switch else (switch, cheapest)
            new[m] += per_char * (size if m is Mode.BYTE else chars)
        cost, started = new, True
        came_from.append(back)
    mode = min(cost, key=cost.__getitem__)
    modes: list[Mode] = []
    for back in reversed(came_from):
        modes.append(mode)
        mode = back[mode]
    modes.reverse()
    segments: list[Segment] = []
    for (run, _), m in zip(runs, modes, strict=True):
        if segments and segments[-1].mode is m:
            segments[-1] = Segment(m, segments[-1].data + run.encode("utf-8"))
        else:
            segments.append(Segment(m, run.encode("utf-8")))
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
