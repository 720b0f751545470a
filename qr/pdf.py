"""Label sheets as one print-ready PDF, drawn with reportlab.

What it does: every label of a batch on the grid of a `qr.sheet.SheetLayout`, page
after page: the symbol as vector rectangles (one filled path per label, exact module
edges at any resolution, black on a white quiet zone of 4 modules), its lines centred
under it in the Chinese-capable TrueType font of `qr.fonts` (embedded as a subset, as
print shops require). The PDF is reproducible (reportlab's ``invariant`` mode: no
random id; the creation date is the caller's ``created``) and its page streams are
compressed.

The symbol of each label is a fixed string of path operators in module units
(`PdfSymbol`, computed on all cores by ``qr.batch``) placed with one ``cm`` transform,
so drawing a page costs little more than its text.

Each page carries crop marks at the grid's cut lines (in the margin, outside every
label) and a header line: the sheet's title, "page x of y". The document's metadata
names its title, author (the brand, when given) and subject.

What it does not do: QR encoding (``qr.matrix``), files, bleed (labels are cut on the
cell lines; nothing is printed up to them).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from ledger.errors import ValidationError
from qr.errors import FontNotFoundError
from qr.fonts import INSTALL_HINT, find_cjk_font
from qr.label import Label
from qr.matrix import QUIET_ZONE, QRMatrix
from qr.sheet import Cell, Placement, SheetLayout, place
from qr.svg import FONT_RATIO

FONT_NAME = "ProvenanceLabel"


@lru_cache(maxsize=1)
def register_font() -> str:
    """Register the label font with reportlab (once); return its name.

    Raises:
        FontNotFoundError: no font with Chinese glyphs that reportlab can embed.
    """
    chosen = find_cjk_font()
    try:
        pdfmetrics.registerFont(TTFont(FONT_NAME, chosen.path, subfontIndex=chosen.index))
    except (TTFError, OSError) as e:
        raise FontNotFoundError(
            f"reportlab cannot embed {chosen.path} ({e}); {INSTALL_HINT}"
        ) from e
    return FONT_NAME


@dataclass(frozen=True)
class PdfSymbol:
    """A symbol ready to place: its size in modules and its path operators.

    ``path`` draws every dark run as ``x y w 1 re`` in module units, rows downwards.
    """

    size: int
    path: str

    @classmethod
    def from_matrix(cls, matrix: QRMatrix) -> PdfSymbol:
        """Return the symbol of an encoded matrix."""
        return cls(matrix.size, "".join(f"{c} {r} {n} 1 re\n" for r, c, n in matrix.runs()))


def _draw_label(
    canvas: Canvas, label: Label, symbol: PdfSymbol, cell: Cell, layout: SheetLayout
) -> None:
    side = symbol.size + 2 * QUIET_ZONE
    width_mm = label_width(cell, layout.padding, len(label.lines))
    module = width_mm * mm / side
    page_height = layout.paper.height * mm
    left = (cell.x + cell.width / 2 - width_mm / 2) * mm  # centred in the cell
    top = page_height - (cell.y + layout.padding) * mm
    x0, y0 = left + QUIET_ZONE * module, top - QUIET_ZONE * module
    # y grows downwards in module units: scale (module, -module), origin at the symbol
    canvas.addLiteral(
        f"q 0 g {module:.5f} 0 0 {-module:.5f} {x0:.3f} {y0:.3f} cm\n{symbol.path}f Q"
    )
    font_size = side * module / FONT_RATIO
    width = side * module - 2 * module
    centre = left + side * module / 2
    for i, line in enumerate(label.lines):
        points = font_size
        while points > 3 and pdfmetrics.stringWidth(line, FONT_NAME, points) > width:
            points *= 0.95  # a long serial: shrink until it fits
        canvas.setFont(FONT_NAME, points)
        baseline = top - side * module - (i * 4 / 3 + 0.95) * font_size
        canvas.drawCentredString(centre, baseline, line)


def label_width(cell: Cell, padding: float, lines: int) -> float:
    """The width (mm) of a label of ``lines`` lines in ``cell``: the cell's width, or
    less when the lines under the symbol (each ``width / FONT_RATIO * 4 / 3`` high, as
    ``qr.svg`` draws them) would not fit its height."""
    height_per_width = 1 + (lines * 4 / 3 + 0.5) / FONT_RATIO
    return min(cell.width - 2 * padding, (cell.height - 2 * padding) / height_per_width)


#: crop marks: how long, and how far from the grid they start (mm)
CROP_LENGTH, CROP_GAP = 4.0, 1.0


def _crop_marks(canvas: Canvas, layout: SheetLayout) -> None:
    """Hairlines at every cut line of the grid, in the margin around it."""
    first, last = layout.cell(0), layout.cell(layout.per_page - 1)
    left, top = first.x, first.y
    right, bottom = last.x + last.width, last.y + last.height
    height = layout.paper.height
    canvas.setLineWidth(0.25)
    for column in range(layout.columns + 1):
        x = (left + column * layout.cell_width) * mm
        for y0 in (top - CROP_GAP - CROP_LENGTH, bottom + CROP_GAP):
            canvas.line(x, (height - y0) * mm, x, (height - y0 - CROP_LENGTH) * mm)
    for row in range(layout.rows + 1):
        y = (height - (top + row * layout.cell_height)) * mm
        for x0 in (left - CROP_GAP - CROP_LENGTH, right + CROP_GAP):
            canvas.line(x0 * mm, y, (x0 + CROP_LENGTH) * mm, y)


def _header(canvas: Canvas, layout: SheetLayout, title: str, page: int, pages: int) -> None:
    """The page's header line above the grid's crop marks."""
    top = layout.cell(0).y - CROP_GAP - CROP_LENGTH - 1.5
    canvas.setFont(FONT_NAME, 7)
    baseline = (layout.paper.height - top) * mm
    canvas.drawString(layout.cell(0).x * mm, baseline, f"{title} · page {page} of {pages}")


def sheet_pdf(
    labels: Sequence[Label],
    symbols: Iterable[PdfSymbol],
    layout: SheetLayout,
    *,
    title: str = "provenance-ledger labels",
    author: str = "provenance-ledger",
    created: datetime | None = None,
    headings: Sequence[str] | None = None,
) -> bytes:
    """Return one PDF with every label on the layout's grid, pages in order.

    ``headings`` gives each label's sheet header (e.g. "Acme Runner 42 · lot L1 ·
    outer labels"); a change of heading starts a new page (`qr.sheet.place`), and each
    page's header reads "{heading} · page x of y" within its heading. None: ``title``
    for all.

    ``created`` is the document's creation date (None: reportlab's fixed date, so that
    the same labels give the same bytes; the CLI passes the time of printing).

    The i-th of ``symbols`` is ``PdfSymbol.from_matrix(encode(labels[i].qr_text))``;
    they may come from an iterator (``qr.batch.render_sheet_pdf`` computes them on all
    cores and draws each page as soon as its symbols arrive).

    Raises:
        ValidationError: ``labels`` and ``symbols`` differ in length (field ``symbols``),
            or ``headings`` and ``labels`` (field ``headings``).
        FontNotFoundError: no font with Chinese glyphs that reportlab can embed.
    """
    register_font()
    out = io.BytesIO()
    size = (layout.paper.width * mm, layout.paper.height * mm)
    with binary_streams():
        canvas = Canvas(
            out, pagesize=size, invariant=True, pageCompression=1, initialFontName=FONT_NAME
        )  # no Helvetica: every font in the document is embedded
        set_metadata(canvas, title, author, f"{len(labels)} labels", created)
        placements = place(layout, headings if headings is not None else [title] * len(labels))
        if len(placements) != len(labels):
            raise ValidationError("one heading per label is needed", field="headings")
        first = placements[0] if placements else Placement(layout.cell(0), title, 1, 1)
        _header(canvas, layout, first.heading, first.sheet, first.sheets)
        _crop_marks(canvas, layout)
        page, drawn, pending = 0, 0, iter(symbols)
        for label, symbol, where in zip(labels, pending, placements, strict=False):
            if where.cell.page != page:
                canvas.showPage()
                page = where.cell.page
                _header(canvas, layout, where.heading, where.sheet, where.sheets)
                _crop_marks(canvas, layout)
            _draw_label(canvas, label, symbol, where.cell, layout)
            drawn += 1
        if drawn != len(labels) or next(pending, None) is not None:
            raise ValidationError("one symbol per label is needed", field="symbols")
        canvas.showPage()
        canvas.save()
    return out.getvalue()


def set_metadata(
    canvas: Canvas, title: str, author: str, subject: str, created: datetime | None
) -> None:
    """Write the document information: title, author (the brand), subject, creator,
    and the creation date ``created`` (UTC) when given."""
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setSubject(subject)
    canvas.setCreator("provenance-ledger")
    if created is not None:
        stamp = created.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
        canvas.setDateFormatter(lambda *_: stamp)


@contextmanager
def binary_streams() -> Iterator[None]:
    """Write compressed streams as binary, not ASCII85 (reportlab's default).

    ASCII85 only makes a PDF 7-bit clean, which no printer needs, and reportlab's
    pure-Python encoder of it took a third of the time of a sheet. ``rl_config`` is
    process-wide, so the old value is put back afterwards.
    """
    before = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = before
