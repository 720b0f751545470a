"""Roll labels as ZPL II for Zebra printers: each label one bitmap at the printer's dots.

What it does: draws a roll label (``qr.roll``'s layout: symbol on the left, lines on
the right) as a 1-bit image at the printer's resolution (203, 300 or 600 dpi), each
module a whole number of dots so that module edges are exact, and wraps it as one
``^XA ... ^XZ`` format per label: ``^PW``/``^LL`` the label's size in dots, the image
as one ``^GFA`` graphic field in ZPL's ASCII compression (runs of a hex digit as a
count letter, ``,`` for a row's trailing zeros, ``:`` for a row equal to the one
before; Zebra's "ZPL II Programming Guide", ``^GF`` and "Alternative Data Compression
Scheme").

Why a bitmap, not ZPL's ``^BQ`` QR command: the printer's encoder would choose its own
segments and version (``^BQ`` in automatic mode puts a URL in byte mode: version 8 or
more), and the printer's fonts have no Chinese glyphs. A bitmap prints exactly the
symbol ``qr.matrix`` made and the text in the label font.

What it does not do: talk to a printer (send the file with ``lp -o raw`` or to port
9100), set media type or darkness (the printer's configuration keeps them).
"""

from __future__ import annotations

import re
from functools import lru_cache

from PIL import Image, ImageDraw, ImageOps

from ledger.errors import ValidationError
from qr.label import Label
from qr.matrix import QUIET_ZONE, QRMatrix, encode
from qr.png import _font, symbol_image
from qr.roll import Roll, RollLayout

DPIS = (203, 300, 600)
_HEX_ZERO = "0"
_RUN = re.compile(r"(.)\1+")  # two or more of one hex digit


def _dots(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


def roll_image(label: Label, matrix: QRMatrix, roll: Roll, dpi: int) -> Image.Image:
    """Return the label drawn at ``dpi`` as a mode ``L`` image (black 0, white 255)."""
    layout = RollLayout(roll)
    width, height = _dots(roll.width, dpi), _dots(roll.height, dpi)
    side_modules = matrix.size + 2 * QUIET_ZONE
    module = max(1, _dots(layout.symbol_side, dpi) // side_modules)
    side = side_modules * module
    image = Image.new("L", (width, height), 255)
    top = (height - side) // 2
    left = _dots(roll.margin, dpi)
    image.paste(
        symbol_image(matrix, module), (left + QUIET_ZONE * module, top + QUIET_ZONE * module)
    )
    text_left = left + side + _dots(0.5, dpi)
    text_width = width - _dots(roll.margin, dpi) - text_left
    size = max(6, _dots(layout.font_mm(len(label.lines)), dpi))
    line_height = size * 4 // 3
    y = (height - line_height * len(label.lines)) // 2
    for line in label.lines:
        image.paste(_text_line(line, size, text_width), (text_left, y))
        y += line_height
    return image


@lru_cache(maxsize=512)
def _text_line(text: str, size: int, width: int) -> Image.Image:
    """``text`` in black on white, left-aligned in ``width`` dots, shrunk until it fits
    (cached: the GTIN, product, lot and verify lines repeat across a batch)."""
    image = Image.new("L", (width, size * 4 // 3), 255)
    draw = ImageDraw.Draw(image)
    font = _font(size)
    while size > 6 and draw.textlength(text, font=font) > width:
        size -= 1
        font = _font(size)
    draw.text((0, 0), text, fill=0, font=font)
    return image


def _count(n: int) -> str:
    """ZPL's repeat count: g..z for 20..400 in steps of 20, then G..Y for 1..19."""
    prefix = ""
    while n >= 20:
        step = min(n // 20, 20)
        prefix += chr(ord("g") + step - 1)
        n -= 20 * step
    return prefix + (chr(ord("G") + n - 1) if n else "")


def _run_code(match: re.Match[str]) -> str:
    return _RUN_CODES(match.group())


@lru_cache(maxsize=4096)
def _RUN_CODES(run: str) -> str:  # noqa: N802 - a table, filled on demand
    return _count(len(run)) + run[0]


def compress_row(row: str) -> str:
    """Return one row of hex digits in ZPL's ASCII compression (not the ``:`` rule)."""
    body = row.rstrip(_HEX_ZERO)
    packed = _RUN.sub(_run_code, body)
    return packed + ("," if len(body) < len(row) else "")


def graphic_field(image: Image.Image) -> str:
    """Return ``^GFA,total,total,per_row,data`` of ``image`` (dark pixels print)."""
    bits = ImageOps.invert(image).point(lambda v: 255 if v >= 128 else 0).convert("1")
    per_row = (image.width + 7) // 8
    raw = bits.tobytes()
    rows: list[str] = []
    previous = None
    for r in range(image.height):
        row = raw[r * per_row : (r + 1) * per_row].hex().upper()
        rows.append(":" if row == previous else compress_row(row))
        previous = row
    total = per_row * image.height
    return f"^GFA,{total},{total},{per_row},{''.join(rows)}"


def zpl_label(label: Label, roll: Roll, dpi: int = 203) -> str:
    """Return the ZPL format (``^XA`` to ``^XZ``) that prints ``label`` on ``roll``.

    Raises:
        ValidationError: ``dpi`` is not 203, 300 or 600 (field ``dpi``), or the QR text
            does not fit version 10 (field ``data``).
        FontNotFoundError: no font with Chinese glyphs is installed.
    """
    if dpi not in DPIS:
        raise ValidationError("a Zebra printer has 203, 300 or 600 dpi", field="dpi")
    image = roll_image(label, encode(label.qr_text), roll, dpi)
    return (
        f"^XA\n^PW{image.width}\n^LL{image.height}\n^LH0,0\n"
        f"^FO0,0{graphic_field(image)}^FS\n^PQ1\n^XZ\n"
    )
