"""Draw one label as a PNG image with Pillow.

What it does: the QR symbol (black on white, ``module_px`` pixels per module, a
4-module quiet zone on every side, as ISO/IEC 18004 requires) with the label's
lines centred under the bottom quiet zone, in a 2-bit grayscale PNG. The symbol is
scaled from a one-pixel-per-module image with nearest-neighbour sampling, so module
edges are exact pixel edges.

What it does not do: choose what is printed (``qr.label``) or encode the QR code
(``qr.matrix``); no files (it returns bytes).
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from ledger.errors import ValidationError
from qr.errors import FontNotFoundError
from qr.fonts import INSTALL_HINT, find_cjk_font
from qr.label import Label
from qr.matrix import QUIET_ZONE, QRMatrix, encode

DEFAULT_MODULE_PX = 6
DPI = 300  # at 6 pixels per module: 0.51 mm modules, a 33 mm symbol
_PIXELS = str.maketrans("01", "\xff\x00")  # light module -> white, dark -> black


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    chosen = find_cjk_font()
    try:
        return ImageFont.truetype(chosen.path, size, index=chosen.index)
    except OSError as e:
        raise FontNotFoundError(f"cannot load {chosen.path}: {e}; {INSTALL_HINT}") from e


def symbol_image(matrix: QRMatrix, module_px: int) -> Image.Image:
    """Return the symbol alone (no quiet zone), ``module_px`` pixels per module, mode L."""
    n = matrix.size
    data = "".join(matrix.lines).translate(_PIXELS).encode("latin-1")
    small = Image.frombytes("L", (n, n), data)
    return small.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


@lru_cache(maxsize=256)
def _line_image(text: str, size: int, width: int) -> Image.Image:
    """Return ``text`` drawn black on white, centred in ``width`` pixels (cached: most
    lines, such as the verify line and the GTIN, repeat across a batch)."""
    height = size * 4 // 3
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _font(size)
    while size > 6 and draw.textlength(text, font=font) > width:
        size -= 1  # a long serial: shrink until it fits
        font = _font(size)
    draw.text((width // 2, 0), text, fill=0, font=font, anchor="mt")
    return image


def render_png(
    label: Label, *, module_px: int = DEFAULT_MODULE_PX, compress_level: int = 1
) -> bytes:
    """Return the PNG bytes of one label.

    ``compress_level`` is zlib's (0-9): 1 is fast and already small for these images.

    Raises:
        ValidationError: ``module_px`` is not 1 to 64 (field ``module_px``),
            ``compress_level`` not 0 to 9 (field ``compress_level``), or the QR text
            does not fit version 10 (field ``data``).
        FontNotFoundError: no font with Chinese glyphs is installed.
    """
    if not isinstance(module_px, int) or not 1 <= module_px <= 64:
        raise ValidationError("pixels per module must be 1 to 64", field="module_px")
    if not isinstance(compress_level, int) or not 0 <= compress_level <= 9:
        raise ValidationError("the zlib level is 0 to 9", field="compress_level")
    return _draw(label, encode(label.qr_text), module_px, compress_level)


def _draw(label: Label, matrix: QRMatrix, module_px: int, compress_level: int) -> bytes:
    side = (matrix.size + 2 * QUIET_ZONE) * module_px
    size = max(8, side // 15)
    line_height = size * 4 // 3
    height = side + line_height * len(label.lines) + QUIET_ZONE * module_px // 2
    canvas = Image.new("L", (side, height), 255)
    canvas.paste(symbol_image(matrix, module_px), (QUIET_ZONE * module_px,) * 2)
    for i, line in enumerate(label.lines):
        text = _line_image(line, size, side - 2 * module_px)
        canvas.paste(text, (module_px, side + i * line_height))
    out = io.BytesIO()
    # 2-bit grayscale: black and white modules, and 4 levels for the text's edges;
    # a quarter of the bytes of 8-bit, so it compresses three times faster
    canvas.save(out, format="PNG", bits=2, compress_level=compress_level, dpi=(DPI, DPI))
    return out.getvalue()
