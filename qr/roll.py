"""Labels for thermal roll printers: one label per page, as PDF (``qr.zpl`` for Zebra).

What it does: `Roll` is a label size on a roll (50 x 30 mm and 40 x 25 mm built in,
any other size by construction). `RollLayout` places one label on it: the QR symbol
(quiet zone included) as a square on the left, as tall as the label less its margin,
and the label's lines in a column on the right, each shrunk to the column's width.
`roll_pdf` draws a batch as one PDF, one page per label, page size = label size, as
the drivers of thermal printers (Zebra, TSC, Brother, Godex) expect; the symbol is
drawn as vector rectangles and the font embedded, as on the sheets (``qr.pdf``).

What it does not do: QR encoding (``qr.matrix``), files, sheets (``qr.sheet``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from ledger.errors import ValidationError
from qr.label import Label
from qr.matrix import QUIET_ZONE
from qr.pdf import FONT_NAME, PdfSymbol, binary_streams, register_font, set_metadata

#: smallest font size drawn (points); a line that would need less is drawn at this size
MIN_POINTS = 4.0
#: one dot of a 203-dpi thermal print head, the most common (8 dots per mm)
DOT_MM = 0.125
#: below 4 dots (0.5 mm) a module is not snapped to dots: 3 dots (0.375 mm) would
#: shrink a 40 x 25 mm label's symbol by a sixth, below what a 100 dpi proof reads
MIN_DOTS = 4


@dataclass(frozen=True)
class Roll:
    """A label size on a roll, in millimetres (landscape: width >= height).

    Raises:
        ValidationError: on construction, a size where no symbol and text fit (field
            ``roll``).
    """

    name: str
    width: float
    height: float
    margin: float = 0.5  # the quiet zone is light margin already

    def __post_init__(self) -> None:
        if not (15 <= self.height <= self.width <= 200) or not 0 <= self.margin < 5:
            raise ValidationError(
                "a roll label is 15 to 200 mm, at least as wide as high", field="roll"
            )


ROLLS = {r.name: r for r in (Roll("50x30", 50.0, 30.0), Roll("40x25", 40.0, 25.0))}


def roll_for(roll: str | Roll) -> Roll:
    """Return the roll ``"50x30"``, ``"40x25"``, or ``roll`` itself.

    Raises:
        ValidationError: an unknown roll name (field ``roll``).
    """
    if isinstance(roll, Roll):
        return roll
    if not isinstance(roll, str) or roll.lower() not in ROLLS:
        raise ValidationError(f"roll is one of {', '.join(ROLLS)}", field="roll")
    return ROLLS[roll.lower()]


@dataclass(frozen=True)
class RollLayout:
    """Where the parts of one roll label go, in mm from the top-left corner."""

    roll: Roll

    @property
    def symbol_side(self) -> float:
        """The symbol's side, quiet zone included."""
        return self.roll.height - 2 * self.roll.margin

    @property
    def text_left(self) -> float:
        """Left edge of the text column."""
        return self.roll.margin + self.symbol_side + 0.5

    @property
    def text_width(self) -> float:
        """Width of the text column."""
        return self.roll.width - self.roll.margin - self.text_left

    def module_mm(self, modules: int) -> float:
        """The module size for a symbol of ``modules`` per side (quiet zone included):
        the largest whole number of 203-dpi printer dots (1/8 mm) that fits, so that a
        thermal printer's driver prints every module with the same number of dots; when
        that is under `MIN_DOTS`, the largest size that fits (ZPL output is exact in
        dots at any size: ``qr.zpl``)."""
        largest = self.symbol_side / modules
        dots = int(largest / DOT_MM + 1e-9)
        return dots * DOT_MM if dots >= MIN_DOTS else largest

    def font_mm(self, lines: int) -> float:
        """The text's em size: the column's height shared by the lines, at most 3 mm."""
        return min(3.0, self.symbol_side / (max(lines, 1) * 4 / 3 + 1))


def _draw(canvas: Canvas, label: Label, symbol: PdfSymbol, layout: RollLayout) -> None:
    roll = layout.roll
    side = symbol.size + 2 * QUIET_ZONE
    module = layout.module_mm(side) * mm
    x0 = roll.margin * mm + QUIET_ZONE * module
    y0 = (roll.height * mm + side * module) / 2 - QUIET_ZONE * module  # centred vertically
    canvas.addLiteral(
        f"q 0 g {module:.5f} 0 0 {-module:.5f} {x0:.3f} {y0:.3f} cm\n{symbol.path}f Q"
    )
    em = layout.font_mm(len(label.lines)) * mm
    width = layout.text_width * mm
    block = len(label.lines) * em * 4 / 3
    top = (roll.height * mm + block) / 2  # the lines centred on the label's height
    for i, line in enumerate(label.lines):
        points = em
        while points > MIN_POINTS and pdfmetrics.stringWidth(line, FONT_NAME, points) > width:
            points *= 0.95
        canvas.setFont(FONT_NAME, points)
        canvas.drawString(layout.text_left * mm, top - (i * 4 / 3 + 1) * em, line)


def roll_pdf(
    labels: Sequence[Label],
    symbols: Iterable[PdfSymbol],
    roll: Roll,
    *,
    title: str = "provenance-ledger labels",
    author: str = "provenance-ledger",
    created: datetime | None = None,
) -> bytes:
    """Return one PDF page of ``roll``'s size per label, in order.

    The i-th of ``symbols`` is the `PdfSymbol` of ``labels[i].qr_text``.

    Raises:
        ValidationError: ``labels`` and ``symbols`` differ in length (field ``symbols``).
        FontNotFoundError: no font with Chinese glyphs that reportlab can embed.
    """
    register_font()
    layout = RollLayout(roll)
    out = io.BytesIO()
    with binary_streams():
        canvas = Canvas(
            out,
            pagesize=(roll.width * mm, roll.height * mm),
            invariant=True,
            pageCompression=1,
            initialFontName=FONT_NAME,
        )
        set_metadata(canvas, title, author, f"{len(labels)} labels, {roll.name} mm roll", created)
        drawn, pending = 0, iter(symbols)
        for label, symbol in zip(labels, pending, strict=False):
            _draw(canvas, label, symbol, layout)
            canvas.showPage()
            drawn += 1
        if drawn != len(labels) or next(pending, None) is not None:
            raise ValidationError("one symbol per label is needed", field="symbols")
        if not labels:
            canvas.showPage()
        canvas.save()
    return out.getvalue()
