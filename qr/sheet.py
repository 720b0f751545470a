"""Label sheets: the grid of labels on an A4 or Letter page, and SVG pages.

What it does: `SheetLayout` places labels in a grid of equal cells, centred on the
page (A4: 5 x 6 = 30 cells of 38 x 46 mm; Letter: 5 x 5 = 25), in reading order, and
says how many pages a batch needs. `sheet_svgs` draws each page as one SVG document in
millimetres, each label scaled to fill its cell's width, or its height when it has more
lines (``qr.svg`` draws it). The PDF of the same layout is ``qr.pdf``.

What it does not do: no files, no QR encoding (callers pass the labels drawn by
``qr.svg.label_fragment``, which ``qr.batch`` computes on all cores), no crop marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from ledger.errors import ValidationError
from qr.svg import Fragment


@dataclass(frozen=True)
class Paper:
    """A paper size in millimetres."""

    name: str
    width: float
    height: float


A4 = Paper("a4", 210.0, 297.0)  # ISO 216
LETTER = Paper("letter", 215.9, 279.4)  # 8.5 x 11 in
PAPERS = {p.name: p for p in (A4, LETTER)}


@dataclass(frozen=True)
class Cell:
    """Where one label goes: page number, top-left corner and size in mm (y downwards)."""

    page: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class SheetLayout:
    """A grid of label cells on a page; every length in millimetres.

    Raises:
        ValidationError: on construction, if not even one cell fits the page.
    """

    paper: Paper
    cell_width: float = 38.0
    cell_height: float = 46.0
    margin: float = 8.0
    padding: float = 1.0  # inside each cell, around the label

    def __post_init__(self) -> None:
        if self.columns < 1 or self.rows < 1 or self.padding * 2 >= self.cell_width:
            raise ValidationError("no label cell fits on the page", field="layout")

    @property
    def columns(self) -> int:
        """Cells across the page."""
        return int((self.paper.width - 2 * self.margin) // self.cell_width)

    @property
    def rows(self) -> int:
        """Cells down the page."""
        return int((self.paper.height - 2 * self.margin) // self.cell_height)

    @property
    def per_page(self) -> int:
        """Labels on one page."""
        return self.columns * self.rows

    def pages(self, count: int) -> int:
        """Return the number of pages for ``count`` labels (at least one page)."""
        return max(1, -(-count // self.per_page))

    def cell(self, index: int) -> Cell:
        """Return the cell of the label at ``index`` (0-based, reading order)."""
        page, slot = divmod(index, self.per_page)
        row, column = divmod(slot, self.columns)
        left = (self.paper.width - self.columns * self.cell_width) / 2
        top = (self.paper.height - self.rows * self.cell_height) / 2
        return Cell(
            page=page,
            x=left + column * self.cell_width,
            y=top + row * self.cell_height,
            width=self.cell_width,
            height=self.cell_height,
        )


@dataclass(frozen=True)
class Placement:
    """Where one label goes and what its sheet's header says.

    Attributes:
        cell: the cell (``cell.page`` counts pages from the document's start).
        heading: the sheet's heading (product, lot, which labels).
        sheet: the page's number among its heading's pages, from 1.
        sheets: how many pages its heading has.
    """

    cell: Cell
    heading: str
    sheet: int
    sheets: int


def place(layout: SheetLayout, headings: Sequence[str]) -> list[Placement]:
    """Return the placement of each label, in order: labels under one heading fill
    pages of their own, and a new heading starts a new page, so that a sheet never
    mixes two products or lots (a print shop cuts and sorts by sheet)."""
    out: list[Placement] = []
    first_page = 0
    for heading, run in groupby(headings):
        count = len(list(run))
        sheets = layout.pages(count)
        for k in range(count):
            page, slot = divmod(k, layout.per_page)
            cell = replace(layout.cell(slot), page=first_page + page)
            out.append(Placement(cell, heading, page + 1, sheets))
        first_page += sheets
    return out


def layout_for(paper: str | Paper, lines: int = 3) -> SheetLayout:
    """Return the default layout for ``"a4"``, ``"letter"`` or a `Paper`, for labels of
    ``lines`` lines: 38 x 46 mm cells up to three lines, 5 mm taller for each more (with
    a product name and a lot: 38 x 56 mm, 25 on A4), so that the symbol keeps the full
    width of its cell.

    Raises:
        ValidationError: an unknown paper name (field ``paper``).
    """
    height = 46.0 + 5.0 * max(0, lines - 3)
    if isinstance(paper, Paper):
        return SheetLayout(paper, cell_height=height)
    if not isinstance(paper, str) or paper.lower() not in PAPERS:
        raise ValidationError(f"paper is one of {', '.join(PAPERS)}", field="paper")
    return SheetLayout(PAPERS[paper.lower()], cell_height=height)


def sheet_svgs(fragments: Sequence[Fragment], layout: SheetLayout) -> list[bytes]:
    """Return one SVG document per page, labels in reading order.

    ``fragments[i]`` is ``qr.svg.label_fragment(label, matrix)`` of the i-th label
    (``qr.batch.render_sheet_svgs`` computes them on all cores).
    """
    pages: list[list[str]] = [[] for _ in range(layout.pages(len(fragments)))]
    for i, fragment in enumerate(fragments):
        cell = layout.cell(i)
        scale = min(  # the cell's width, or less if the lines would not fit its height
            (cell.width - 2 * layout.padding) / fragment.width,
            (cell.height - 2 * layout.padding) / fragment.height,
        )
        left = cell.x + (cell.width - fragment.width * scale) / 2
        pages[cell.page].append(
            f'<g transform="translate({left:.3f} '
            f'{cell.y + layout.padding:.3f}) scale({scale:.5f})">{fragment.body}</g>'
        )
    paper = layout.paper
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{paper.width:g}mm" '
        f'height="{paper.height:g}mm" viewBox="0 0 {paper.width:g} {paper.height:g}">'
        f'<rect width="{paper.width:g}" height="{paper.height:g}" fill="#fff"/>'
    )
    return [(head + "".join(page) + "</svg>\n").encode("utf-8") for page in pages]
