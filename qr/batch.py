"""Render many labels at once, on every core.

What it does: PNG and SVG files for a list of labels, the same labels as sheets
(one PDF, or one SVG per page) and as roll labels for thermal printers (PDF, ZPL),
with the slow part (QR encoding and drawing each symbol) spread over a
`concurrent.futures.ProcessPoolExecutor` with a chunked ``map``; results come back
in input order. Small batches (fewer than `MIN_PARALLEL` labels) or ``workers=1`` run
in this process, which avoids the pool's start-up cost.

Labels (`qr.label.Label`) are plain text, so they cross process boundaries cheaply;
signing happens before (``qr.label.prepare_units``), in the process that holds the
key, which never goes to a worker.

What it does not do: touch a database (rendering needs none), write files (the CLI
does; the manifest is ``qr.manifest``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from functools import lru_cache, partial
from multiprocessing.context import BaseContext
from typing import TypeVar

from ledger.errors import ValidationError
from qr.label import Label
from qr.matrix import encode
from qr.pdf import PdfSymbol, sheet_pdf
from qr.png import DEFAULT_MODULE_PX, render_png
from qr.roll import Roll, roll_for, roll_pdf
from qr.sheet import Paper, layout_for, sheet_svgs
from qr.svg import DEFAULT_MODULE_MM, Fragment, label_fragment, render_svg
from qr.zpl import DPIS, zpl_label

MIN_PARALLEL = 64
MAX_CHUNK = 256

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Return the number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def parallel_imap(
    func: Callable[[T], R], items: Sequence[T], workers: int | None = None
) -> Iterator[R]:
    """Yield ``func(x)`` for each of ``items`` in order, computed on ``workers`` processes.

    Results arrive as soon as their chunk is done, so the caller can use the first
    ones (draw a page) while the workers compute the rest. ``func`` must be picklable
    (a module-level function or a `functools.partial` of one). Chunks hold about a
    quarter of each worker's share, at most `MAX_CHUNK` items.

    Raises:
        ValidationError: ``workers`` is not a positive integer (field ``workers``).
        Whatever ``func`` raises, re-raised here.
    """
    count = default_workers() if workers is None else workers
    if not isinstance(count, int) or count < 1:
        raise ValidationError("workers must be a positive integer", field="workers")
    if count == 1 or len(items) < MIN_PARALLEL:
        yield from map(func, items)
        return
    chunk = max(1, min(MAX_CHUNK, len(items) // (count * 4)))
    workers_used = min(count, len(items))
    with ProcessPoolExecutor(max_workers=workers_used, mp_context=_context()) as pool:
        yield from pool.map(func, items, chunksize=chunk)


@lru_cache(maxsize=1)
def _context() -> BaseContext:
    """Return how workers start: from a fork server that has imported this package.

    Forking the caller itself is unsafe once it runs threads (a web server, a database
    pool), and Python 3.12 warns about it; a fork server is a small single-threaded
    process started once, and with ``qr.batch`` preloaded its children start at once.
    Where there is no fork server (Windows), workers are spawned.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["qr.batch"])
    return context


def parallel_map(func: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """Return ``[func(x) for x in items]``, computed on ``workers`` processes.

    Raises:
        ValidationError: ``workers`` is not a positive integer (field ``workers``).
        Whatever ``func`` raises, re-raised here.
    """
    return list(parallel_imap(func, items, workers))


def render_pngs(
    labels: Sequence[Label], *, module_px: int = DEFAULT_MODULE_PX, workers: int | None = None
) -> list[bytes]:
    """Return the PNG of each label (`qr.png.render_png`), in order.

    Raises:
        ValidationError: a bad ``module_px`` or ``workers``, or a QR text too long.
        FontNotFoundError: no font with Chinese glyphs is installed.
    """
    return parallel_map(partial(render_png, module_px=module_px), labels, workers)


def render_svgs(
    labels: Sequence[Label], *, module_mm: float = DEFAULT_MODULE_MM, workers: int | None = None
) -> list[bytes]:
    """Return the standalone SVG of each label (`qr.svg.render_svg`), in order.

    Raises:
        ValidationError: a bad ``module_mm`` or ``workers``, or a QR text too long.
    """
    return parallel_map(partial(render_svg, module_mm=module_mm), labels, workers)


def _pdf_symbol(label: Label) -> PdfSymbol:
    return PdfSymbol.from_matrix(encode(label.qr_text))


def _svg_fragment(label: Label) -> Fragment:
    return label_fragment(label, encode(label.qr_text))


def render_sheet_pdf(
    labels: Sequence[Label],
    paper: str | Paper = "a4",
    *,
    workers: int | None = None,
    title: str = "provenance-ledger labels",
    author: str = "provenance-ledger",
    created: datetime | None = None,
    headings: Sequence[str] | None = None,
) -> bytes:
    """Return every label on A4 or Letter label sheets, as one PDF (``title`` in the
    metadata and, without ``headings``, each page's header; ``author`` in the metadata:
    the brand; ``created`` its creation date). ``headings``: each label's sheet header;
    a new heading starts a new page (one product and lot per sheet, `qr.pdf.sheet_pdf`).

    Raises:
        ValidationError: an unknown paper, a bad ``workers``, or a QR text too long.
        FontNotFoundError: no font with Chinese glyphs that reportlab can embed.
    """
    layout = layout_for(paper, max((len(label.lines) for label in labels), default=3))
    symbols = parallel_imap(_pdf_symbol, labels, workers)
    return sheet_pdf(
        labels, symbols, layout, title=title, author=author, created=created, headings=headings
    )


def render_roll_pdf(
    labels: Sequence[Label],
    roll: str | Roll = "50x30",
    *,
    workers: int | None = None,
    title: str = "provenance-ledger labels",
    author: str = "provenance-ledger",
    created: datetime | None = None,
) -> bytes:
    """Return every label on its own page of a roll's label size (``"50x30"``,
    ``"40x25"`` or a `qr.roll.Roll`), as one PDF for a thermal printer's driver.

    Raises:
        ValidationError: an unknown roll, a bad ``workers``, or a QR text too long.
        FontNotFoundError: no font with Chinese glyphs that reportlab can embed.
    """
    chosen = roll_for(roll)
    symbols = parallel_imap(_pdf_symbol, labels, workers)
    return roll_pdf(labels, symbols, chosen, title=title, author=author, created=created)


def render_roll_zpl(
    labels: Sequence[Label],
    roll: str | Roll = "50x30",
    *,
    dpi: int = 203,
    workers: int | None = None,
) -> bytes:
    """Return every label as ZPL II for a Zebra printer of ``dpi`` (``qr.zpl``), one
    format per label, in order, as ASCII bytes.

    Raises:
        ValidationError: an unknown roll, a ``dpi`` other than 203, 300 or 600, a bad
            ``workers``, or a QR text too long.
        FontNotFoundError: no font with Chinese glyphs is installed.
    """
    chosen = roll_for(roll)
    if dpi not in DPIS:
        raise ValidationError("a Zebra printer has 203, 300 or 600 dpi", field="dpi")
    formats = parallel_map(partial(zpl_label, roll=chosen, dpi=dpi), labels, workers)
    return "".join(formats).encode("ascii")


def render_sheet_svgs(
    labels: Sequence[Label], paper: str | Paper = "a4", *, workers: int | None = None
) -> list[bytes]:
    """Return every label on A4 or Letter label sheets, one SVG document per page.

    Raises:
        ValidationError: an unknown paper, a bad ``workers``, or a QR text too long.
    """
    layout = layout_for(paper, max((len(label.lines) for label in labels), default=3))
    return sheet_svgs(parallel_map(_svg_fragment, labels, workers), layout)
