"""Draw one label as SVG: the symbol as one path, the lines as text.

What it does: a standalone SVG document per label (`render_svg`), or the same drawing
as a fragment that a sheet places with a transform (`label_fragment`). Coordinates are
in modules: the symbol's dark runs form one ``<path>`` (``shape-rendering:
crispEdges``, so no hairline seams between adjacent runs), inside a 4-module quiet zone;
the lines sit below the quiet zone in ``font-family`` `qr.fonts.SVG_FONT_FAMILY`. The
document's ``width``/``height`` give the printed size (``module_mm`` per module).

What it does not do: embed fonts (a viewer without Chinese fonts draws boxes for the
four Chinese characters; the symbol and the Latin lines are unaffected), choose what is
printed (``qr.label``), encode the QR code (``qr.matrix``), or write files.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from ledger.errors import ValidationError
from qr.fonts import SVG_FONT_FAMILY
from qr.label import Label
from qr.matrix import QUIET_ZONE, QRMatrix, encode

DEFAULT_MODULE_MM = 0.5
FONT_RATIO = 15  # the font size is the label width / 15, as in qr.png


@dataclass(frozen=True)
class Fragment:
    """A label drawn in module units: the SVG elements and the size they cover."""

    body: str
    width: int
    height: float


def path_data(matrix: QRMatrix, offset: int = QUIET_ZONE) -> str:
    """Return the ``d`` attribute drawing every dark run, shifted by ``offset`` modules."""
    return "".join(f"M{c + offset} {r + offset}h{n}v1h-{n}z" for r, c, n in matrix.runs())


def label_fragment(label: Label, matrix: QRMatrix) -> Fragment:
    """Return the label's SVG elements in module units, origin at the top-left corner."""
    side = matrix.size + 2 * QUIET_ZONE
    size = side / FONT_RATIO
    line_height = size * 4 / 3
    height = side + line_height * len(label.lines) + QUIET_ZONE / 2
    texts = "".join(
        f'<text x="{side / 2:g}" y="{side + i * line_height + size * 0.95:.3f}">'
        f"{escape(line)}</text>"
        for i, line in enumerate(label.lines)
    )
    body = (
        f'<rect width="{side}" height="{height:.3f}" fill="#fff"/>'
        f'<path fill="#000" shape-rendering="crispEdges" d="{path_data(matrix)}"/>'
        f'<g fill="#000" font-size="{size:.3f}" text-anchor="middle" '
        f'font-family="{SVG_FONT_FAMILY}">{texts}</g>'
    )
    return Fragment(body=body, width=side, height=height)


def render_svg(label: Label, *, module_mm: float = DEFAULT_MODULE_MM) -> bytes:
    """Return one label as a standalone SVG document (UTF-8 bytes).

    Raises:
        ValidationError: ``module_mm`` is not between 0.1 and 5 (field ``module_mm``),
            or the QR text does not fit version 10 (field ``data``).
    """
    if not isinstance(module_mm, int | float) or not 0.1 <= module_mm <= 5:
        raise ValidationError("a module is 0.1 to 5 mm", field="module_mm")
    return svg_document(label_fragment(label, encode(label.qr_text)), module_mm)


def svg_document(fragment: Fragment, module_mm: float) -> bytes:
    """Wrap a fragment in an SVG document of its size, ``module_mm`` per unit."""
    width, height = fragment.width, fragment.height
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * module_mm:.3f}mm" '
        f'height="{height * module_mm:.3f}mm" viewBox="0 0 {width} {height:.3f}">'
        f"{fragment.body}</svg>\n"
    ).encode()
