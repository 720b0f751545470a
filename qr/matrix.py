"""QR code module matrices: the symbol layout `qrcode` defines, built fast.

What it does: turns a text (a label URI) into the module matrix of a QR code at error
correction level M, version 1 to 10, in the numeric, alphanumeric and byte segments
with the fewest bits (``qr.segments``), with the data mask chosen by the
penalty rules of ISO/IEC 18004:2015 section 7.8.3 (table 11), as an encoder should,
in about 0.4 ms instead of the 12 ms of `qrcode`'s own ``make()`` (issue 9 asks for
300 labels per second per core, everything included).

How: for each version, `qrcode` itself is asked once (per process) to encode a probe
text with each of the 8 masks. From that we keep: the function patterns (finders,
timing, alignment, version and format information), the modules left for data, in
the placement order of section 7.7.3, and for each mask what XOR turns the unmasked
symbol into the masked one (the data mask pattern and that mask's format bits). A
label's symbol is then: codewords (``qr.codewords``), their bits permuted into place
by one ``operator.itemgetter`` call, XORed with a mask. The layout is checked against
`qrcode` on a second payload before use, and the tests compare whole symbols with
`qrcode`'s for every mask; a `qrcode` that lays symbols out differently raises
`LabelError` instead of printing wrong codes.

Each candidate mask is scored on the whole matrix packed into one Python integer
(rows, or columns, side by side, each between 4 light modules of quiet zone), so each
rule is a handful of big-integer operations instead of a loop over modules.

Penalty rules as applied (row and column rules on both; N1 = 3, N2 = 3, N3 = 40,
N4 = 10): a run of 5 + i modules of one colour scores N1 + i; each 2 x 2 block of one
colour scores N2; each ``1011101`` with 4 light modules after it, and each with 4 light
modules before it, scores N3 (the quiet zone counts as light, and a pattern light on
both sides counts twice, as `qrcode` counts it); a dark share deviating from 50 % by
5k % to 5(k + 1) % scores N4 * k. The lowest total wins; ties go to the lower mask.

What it does not do: no drawing (``qr.png``, ``qr.svg``, ``qr.sheet``), no Kanji
mode, no other error correction levels, no versions above 10 (a label never needs them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.metadata import version as package_version
from operator import itemgetter

import qrcode
import qrcode.constants
import qrcode.util

from ledger.errors import ValidationError
from qr.codewords import codewords, data_capacity, data_to_codewords, finish_stream
from qr.errors import LabelError
from qr.segments import Segment, bit_length, split, stream

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
MAX_VERSION = 10
QUIET_ZONE = 4  # modules of light margin on every side, as ISO/IEC 18004 requires
#: Byte-mode capacity at level M, versions 1-10 (ISO/IEC 18004:2015 table 7).
BYTE_CAPACITY_M = (14, 26, 42, 62, 84, 106, 122, 152, 180, 213)

_PAD = b"\x00" * QUIET_ZONE
_TO_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
_DARK_RUN = re.compile("1+")
_QRCODE_VERSION = package_version("qrcode")


@dataclass(frozen=True)
class QRMatrix:
    """A QR symbol without its quiet zone: ``lines[r][c] == "1"`` is a dark module.

    Attributes:
        version: 1 to 10.
        mask: the data mask pattern, 0 to 7.
        lines: one string of ``0``/``1`` per row, top to bottom, left to right.
    """

    version: int
    mask: int
    lines: tuple[str, ...]

    @property
    def size(self) -> int:
        """Modules per side, without the quiet zone (``4 * version + 17``)."""
        return len(self.lines)

    def runs(self) -> list[tuple[int, int, int]]:
        """Return every horizontal run of dark modules as ``(row, column, length)``."""
        return [
            (r, start, end - start)
            for r, line in enumerate(self.lines)
            for start, end in map(re.Match.span, _DARK_RUN.finditer(line))
        ]


@dataclass(frozen=True)
class _Template:
    """How to build and score symbols of one version, learned from `qrcode`."""

    size: int
    stride: int
    data_modules: int  # codeword bits plus remainder bits (ISO/IEC 18004:2015 7.7.3)
    rows_source: Callable[[str], tuple[str, ...]]  # picks each module, row by row, from
    cols_source: Callable[[str], tuple[str, ...]]  # the bit string; the same by columns
    masks_rows: tuple[int, ...]  # what XOR turns the unmasked symbol into mask k's
    masks_cols: tuple[int, ...]
    everything: int  # every bit, modules and quiet zone
    pair: int  # module bits whose next module on the line is a module
    block: int  # module bits with a module below, right and below-right


def version_for(length: int) -> int:
    """Return the smallest version whose byte-mode capacity at level M holds ``length``.

    Raises:
        ValidationError: more than 213 bytes, the capacity of version 10 (field ``data``).
    """
    for version, capacity in enumerate(BYTE_CAPACITY_M, start=1):
        if length <= capacity:
            return version
    raise ValidationError(
        f"{length} bytes do not fit a version {MAX_VERSION} QR code at level M "
        f"(at most {BYTE_CAPACITY_M[-1]})",
        field="data",
    )


class _Recorder(qrcode.QRCode):  # type: ignore[misc]
    """A `qrcode.QRCode` that notes which modules are left for data (None until then)."""

    free: list[list[bool]]

    def map_data(self, data: list[int], mask_pattern: int) -> None:
        self.free = [[module is None for module in row] for row in self.modules]
        super().map_data(data, mask_pattern)


def _qrcode_symbol(data: bytes, version: int, mask: int) -> _Recorder:
    """Let `qrcode` encode ``data`` in one byte-mode segment with the given mask."""
    code = _Recorder(
        version=version, error_correction=ERROR_CORRECTION, border=0, mask_pattern=mask
    )
    code.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE))
    code.make(fit=False)
    return code


def _pack(lines: list[list[bool]] | list[tuple[bool, ...]]) -> int:
    """Pack lines of modules into one integer, each line between 4 light modules."""
    raw = b"".join(_PAD + bytes(line) + _PAD for line in lines)
    return int(raw.translate(_TO_DIGITS), 2)


def _zigzag(free: list[list[bool]]) -> list[tuple[int, int]]:
    """Return the data modules in placement order (ISO/IEC 18004:2015 section 7.7.3).

    Two-module-wide columns from the right, upwards then downwards in turn, skipping
    the vertical timing pattern (column 6); in each row the right module first.
    """
    size = len(free)
    order: list[tuple[int, int]] = []
    upwards = True
    for right in range(size - 1, 0, -2):
        right = right - 1 if right <= 6 else right
        rows = range(size - 1, -1, -1) if upwards else range(size)
        order += [(r, c) for r in rows for c in (right, right - 1) if free[r][c]]
        upwards = not upwards
    return order


def _sources(symbol: list[list[bool]], order: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Index, for each packed module (rows, then columns), into ``bits + "01"``."""
    index = {position: i for i, position in enumerate(order)}
    light, dark = len(order), len(order) + 1
    size = len(symbol)

    def line(cells: list[tuple[int, int]]) -> list[int]:
        inner = [index.get(rc, dark if symbol[rc[0]][rc[1]] else light) for rc in cells]
        return [light] * QUIET_ZONE + inner + [light] * QUIET_ZONE

    rows = [i for r in range(size) for i in line([(r, c) for c in range(size)])]
    cols = [i for c in range(size) for i in line([(r, c) for r in range(size)])]
    return rows, cols


def _bits(words: list[int], data_modules: int) -> str:
    """The codeword bits, the remainder bits (0) and the two constants ``0``, ``1``."""
    bits = format(int.from_bytes(bytes(words), "big"), f"0{8 * len(words)}b")
    return bits + "0" * (data_modules - len(bits)) + "01"


def _unmasked(words: list[int], t: _Template) -> tuple[int, int]:
    bits = _bits(words, t.data_modules)
    return int("".join(t.rows_source(bits)), 2), int("".join(t.cols_source(bits)), 2)


@lru_cache(maxsize=MAX_VERSION)
def _template(version: int) -> _Template:
    """Learn one version's layout from `qrcode`, and check it on a second payload.

    Raises:
        LabelError: the installed `qrcode` lays symbols out differently from the one
            checked here (it never has; the check keeps wrong codes off the labels).
    """
    probe = bytes(range(32, 32 + BYTE_CAPACITY_M[version - 1]))
    codes = [_qrcode_symbol(probe, version, mask) for mask in range(8)]
    symbols = [code.get_matrix() for code in codes]
    order = _zigzag(codes[0].free)
    rows_source, cols_source = _sources(symbols[0], order)
    size = len(symbols[0])
    stride = size + 2 * QUIET_ZONE
    line = ((1 << size) - 1) << QUIET_ZONE
    valid = sum(line << (stride * i) for i in range(size))
    pair = valid & (valid >> 1)
    partial = _Template(
        size=size,
        stride=stride,
        data_modules=len(order),
        rows_source=itemgetter(*rows_source),
        cols_source=itemgetter(*cols_source),
        masks_rows=(),
        masks_cols=(),
        everything=(1 << (stride * size)) - 1,
        pair=pair,
        block=pair & (pair >> stride),
    )
    rows, cols = _unmasked(codewords(probe, version), partial)
    t = replace(
        partial,
        masks_rows=tuple(_pack(s) ^ rows for s in symbols),
        masks_cols=tuple(_pack(list(zip(*s, strict=True))) ^ cols for s in symbols),
    )
    check = bytes(range(255, 255 - BYTE_CAPACITY_M[version - 1], -1))
    rows, _ = _unmasked(codewords(check, version), t)
    for mask, masked in enumerate(t.masks_rows):
        if rows ^ masked != _pack(_qrcode_symbol(check, version, mask).get_matrix()):
            raise LabelError(
                f"qrcode {_QRCODE_VERSION} lays out QR codes unexpectedly; pin qrcode 8"
            )
    return t


def _line_penalty(bits: int, t: _Template) -> int:
    """Rules 1 and 3 (runs, finder-like patterns) along the packed lines of ``bits``."""
    light = t.everything ^ bits
    same = ~(bits ^ (bits >> 1)) & t.pair  # module j and j + 1 have one colour
    five = same & (same >> 1) & (same >> 2) & (same >> 3)  # modules j..j+4 alike
    ends = five & ~(five >> 1)  # one per run of 5 or more
    runs = five.bit_count() + 2 * ends.bit_count()  # a run of 5 + i scores 3 + i
    core = bits & (light >> 1) & (bits >> 2) & (bits >> 3) & (bits >> 4)
    core &= (light >> 5) & (bits >> 6)  # 1011101 at j..j+6
    four = light & (light >> 1) & (light >> 2) & (light >> 3)  # light at j..j+3
    finders = (core & (four >> 7)).bit_count() + (core & (four << QUIET_ZONE)).bit_count()
    return runs + 40 * finders


def _penalty(rows: int, cols: int, t: _Template) -> int:
    """Return the ISO/IEC 18004:2015 section 7.8.3.1 penalty of one masked symbol."""
    light = t.everything ^ rows
    dark_below = rows & (rows >> t.stride)
    light_below = light & (light >> t.stride)
    blocks = (dark_below & (dark_below >> 1) & t.block).bit_count()
    blocks += (light_below & (light_below >> 1) & t.block).bit_count()
    total = t.size * t.size
    balance = abs(20 * rows.bit_count() - 10 * total) // total
    return _line_penalty(rows, t) + _line_penalty(cols, t) + 3 * blocks + 10 * balance


def _unpack(bits: int, t: _Template) -> tuple[str, ...]:
    digits = format(bits, f"0{t.stride * t.size}b")
    starts = range(QUIET_ZONE, t.stride * t.size, t.stride)
    return tuple(digits[s : s + t.size] for s in starts)


def fit(text: str) -> tuple[list[Segment], int]:
    """Return the fewest-bit segments of ``text`` (``qr.segments.split``) and the
    smallest version at level M that holds them.

    Raises:
        ValidationError: the text does not fit version 10 (field ``data``).
    """
    segments = split(text, 1)
    for version in range(1, MAX_VERSION):
        if bit_length(segments, version) <= 8 * data_capacity(version):
            return segments, version
    segments = split(text, MAX_VERSION)
    if bit_length(segments, MAX_VERSION) <= 8 * data_capacity(MAX_VERSION):
        return segments, MAX_VERSION
    raise ValidationError(
        f"{len(text)} characters do not fit a version {MAX_VERSION} QR code at level M "
        f"(at most {BYTE_CAPACITY_M[-1]} bytes)",
        field="data",
    )


def encode(text: str, *, mask: int | None = None) -> QRMatrix:
    """Encode ``text`` as a QR symbol at level M, in the segments with the fewest bits.

    Numeric, alphanumeric and byte (UTF-8) segments as ``qr.segments.split`` finds
    them; the version is the smallest that holds them; the mask is the one with the
    lowest penalty unless ``mask`` forces one (tests use that).

    Raises:
        ValidationError: ``text`` is not a string that encodes to UTF-8, or does not
            fit version 10 (field ``data``); ``mask`` is not 0 to 7 (field ``mask``).
    """
    try:
        text.encode("utf-8")
    except (AttributeError, UnicodeEncodeError) as e:
        raise ValidationError("expected text that encodes to UTF-8", field="data") from e
    if mask is not None and mask not in range(8):
        raise ValidationError("a QR mask pattern is 0 to 7", field="mask")
    segments, version = fit(text)
    t = _template(version)
    value, length = stream(segments, version)
    words = data_to_codewords(finish_stream(value, length, version), version)
    rows, cols = _unmasked(words, t)
    if mask is None:
        scores = [
            _penalty(rows ^ mr, cols ^ mc, t)
            for mr, mc in zip(t.masks_rows, t.masks_cols, strict=True)
        ]
        mask = scores.index(min(scores))
    return QRMatrix(version=version, mask=mask, lines=_unpack(rows ^ t.masks_rows[mask], t))


def penalty(matrix: QRMatrix) -> int:
    """Return the mask penalty of a finished symbol (the score `encode` minimized)."""
    t = _template(matrix.version)
    as_bools = [[ch == "1" for ch in line] for line in matrix.lines]
    return _penalty(_pack(as_bools), _pack(list(zip(*as_bools, strict=True))), t)
