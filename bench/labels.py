"""Label rendering speed: labels per second per core (PNG, SVG, PDF sheet), and the
time for one 10,000-label PDF on all cores, with the labels decoded back by zxing-cpp.

    python bench/labels.py                 # 1000 labels per format, 10,000-label PDF
    python bench/labels.py --count 300 --sheet 2000 --decode sample

Per-core numbers run in this process (``workers=1``) after a warm-up (font loading,
per-version tables), from prepared labels; signing and claim codes are timed apart.
The 10,000-label PDF uses every core (`qr.batch.render_sheet_pdf`), pool start-up
included. ``--decode all`` decodes every PNG, every SVG (rasterised by rsvg-convert)
and every PDF page (rasterised by pdftoppm at 150 dpi); ``sample`` a tenth; ``none``
nothing. Target (issue 9): >= 300 labels/s per core; 10,000 labels in < 60 s; all
decoded.
"""

from __future__ import annotations

import argparse
import io
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger import crypto
from ledger.gs1 import UnitId
from qr.batch import (
    default_workers,
    render_pngs,
    render_roll_pdf,
    render_roll_zpl,
    render_sheet_pdf,
    render_svgs,
)
from qr.label import Label, prepare_units
from qr.sheet import layout_for

if TYPE_CHECKING:
    from bench.figures import Figure, Run

BASE = "https://id.example.com"
GTIN = "09506000134352"


def _labels(count: int, key: crypto.Ed25519PrivateKey) -> list[Label]:
    # unique serials of 6 to 20 characters, most of them with percent-encoded characters
    units = [
        UnitId(gtin=GTIN, serial=(f"{i:06d}" + "/%&+?" * 3)[: 6 + i % 15]) for i in range(count)
    ]
    return [item.outer() for item in prepare_units(BASE, units, key)]


def _decode(images: Sequence[bytes]) -> list[str]:
    import zxingcpp
    from PIL import Image

    texts: list[str] = []
    for data in images:
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)), formats=zxingcpp.QRCode)
        texts.extend(code.text for code in found)
    return texts


def _svg_to_png(document: bytes) -> bytes:
    tool = shutil.which("rsvg-convert") or "rsvg-convert"
    command = [tool, "--dpi-x", "200", "--dpi-y", "200"]  # 0.5 mm modules: 3.9 px
    return subprocess.run(command, input=document, capture_output=True, check=True).stdout


def _decode_pdf_pages(pdf: bytes, pages: Sequence[int]) -> list[str]:
    tool = shutil.which("pdftoppm") or "pdftoppm"
    texts: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "sheet.pdf"
        source.write_bytes(pdf)
        for page in pages:
            prefix = Path(tmp) / f"p{page}"
            span = ["-f", str(page), "-l", str(page)]
            subprocess.run([tool, "-r", "150", "-gray", "-png", *span, source, prefix], check=True)
            texts += _decode([p.read_bytes() for p in Path(tmp).glob(f"p{page}-*.png")])
    return texts


def _report(name: str, expected: Sequence[str], decoded: Sequence[str]) -> None:
    found = len(set(expected) & set(decoded))
    print(
        f"  {name}: decoded {found}/{len(set(expected))} ({100 * found / len(set(expected)):.1f} %)"
    )


def _per_core(labels: list[Label], mode: str) -> None:
    count = len(labels)
    render_pngs(labels[:20], workers=1)  # warm-up: fonts, per-version tables
    render_sheet_pdf(labels[:20], workers=1)
    start = time.perf_counter()
    pngs = render_pngs(labels, workers=1)
    print(f"png per core: {count / (time.perf_counter() - start):,.0f} labels/s")
    start = time.perf_counter()
    svgs = render_svgs(labels, workers=1)
    print(f"svg per core: {count / (time.perf_counter() - start):,.0f} labels/s")
    start = time.perf_counter()
    render_sheet_pdf(labels, "a4", workers=1)
    print(f"pdf per core: {count / (time.perf_counter() - start):,.0f} labels/s (A4 sheets)")
    start = time.perf_counter()
    render_roll_pdf(labels, "50x30", workers=1)
    print(f"roll pdf per core: {count / (time.perf_counter() - start):,.0f} labels/s (50x30)")
    start = time.perf_counter()
    render_roll_zpl(labels, "50x30", workers=1)
    print(f"zpl per core: {count / (time.perf_counter() - start):,.0f} labels/s (50x30, 203 dpi)")
    if mode != "none":
        step = 1 if mode == "all" else 10
        expected = [label.qr_text for label in labels[::step]]
        _report("png", expected, _decode(pngs[::step]))
        _report("svg", expected, _decode([_svg_to_png(s) for s in svgs[::step]]))


def _big_sheet(labels: list[Label], mode: str, cores: int) -> None:
    start = time.perf_counter()
    pdf = render_sheet_pdf(labels, "a4")
    seconds = time.perf_counter() - start
    layout = layout_for("a4")
    pages = layout.pages(len(labels))
    print(
        f"pdf on {cores} cores: {len(labels):,} labels, {pages} A4 pages, {len(pdf) / 1e6:.1f} MB"
        f" in {seconds:.1f} s = {len(labels) / seconds:,.0f} labels/s"
    )
    if mode == "none":
        return
    chosen = list(range(1, pages + 1))[:: 1 if mode == "all" else 10]
    with ProcessPoolExecutor(cores) as pool:
        jobs = [pool.submit(_decode_pdf_pages, pdf, chosen[i::cores]) for i in range(cores)]
        decoded = [text for job in jobs for text in job.result()]
    per_page = layout.per_page
    expected = [
        labels[i].qr_text
        for page in chosen
        for i in range((page - 1) * per_page, min(len(labels), page * per_page))
    ]
    _report(f"pdf ({len(chosen)} pages)", expected, decoded)


def _timed(render: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    render()
    return count / (time.perf_counter() - start)


def figures(run: Run) -> list[Figure]:
    """Figure 6: labels per second on one core (PNG, SVG, PDF), target >= 300 each.

    Rendered in this process after a warm-up, from prepared labels (signing apart); a
    sample is decoded back with zxing-cpp (PNG; SVG rasterised when rsvg-convert is
    there), and a label that does not decode fails the run.
    """
    from bench.figures import Figure

    count = run.pick(200, 1000)
    labels = _labels(count, crypto.generate_private_key())
    render_pngs(labels[:20], workers=1)  # warm-up: fonts, per-version tables
    render_sheet_pdf(labels[:20], workers=1)
    pngs: list[bytes] = []
    rates = {
        "png": _timed(lambda: pngs.extend(render_pngs(labels, workers=1)), count),
        "svg": _timed(lambda: render_svgs(labels, workers=1), count),
        "pdf": _timed(lambda: render_sheet_pdf(labels, "a4", workers=1), count),
    }
    sample = labels[:: max(1, count // 20)]
    decoded = set(_decode(pngs[:: max(1, count // 20)]))
    missing = [label.qr_text for label in sample if label.qr_text not in decoded]
    if missing:
        raise SystemExit(f"labels: {len(missing)} sampled PNG labels did not decode")
    out = []
    for kind, rate in rates.items():
        print(f"  labels/{kind}/1-core: {rate:,.0f} labels/s")
        out.append(Figure.value_at_least(f"labels/{kind}/1-core", rate, "labels/s", 300))
    return out


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    parser = argparse.ArgumentParser(description="label rendering speed")
    parser.add_argument("--count", type=int, default=1000, help="labels per format, per core")
    parser.add_argument("--sheet", type=int, default=10_000, help="labels in the big PDF")
    parser.add_argument("--decode", choices=("all", "sample", "none"), default="all")
    args = parser.parse_args()
    cores = default_workers()
    print(
        f"machine: {cores} cores, Python {platform.python_version()}, qrcode "
        f"{version('qrcode')}, Pillow {version('pillow')}, reportlab {version('reportlab')}"
    )
    key = crypto.generate_private_key()
    start = time.perf_counter()
    labels = _labels(args.count, key)
    print(f"prepare (sign + claim code): {args.count / (time.perf_counter() - start):,.0f}/s")
    _per_core(labels, args.decode)
    _big_sheet(_labels(args.sheet, key), args.decode, cores)


if __name__ == "__main__":
    main()
