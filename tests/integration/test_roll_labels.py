"""Roll labels for thermal printers (issue 22): every label of a batch, on every roll
format, as PDF (rasterised by pdftoppm at 100 dpi) and as ZPL (its graphic fields
decompressed back into images), decodes with zxing-cpp to exactly its QR text; outer
codes at version 7 or below for a 12-character host; PDF page size, metadata and
embedded fonts as a print shop checks them; the claim labels' files owner-only."""

from __future__ import annotations

import re
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ledger import crypto
from ledger.errors import ValidationError
from ledger.gs1 import UnitId
from qr import fonts
from qr.batch import render_roll_pdf, render_roll_zpl, render_sheet_pdf
from qr.errors import FontNotFoundError
from qr.label import Label, UnitLabels, prepare_units
from qr.manifest import write_private_file
from qr.roll import ROLLS, Roll, roll_for
from qr.zpl import compress_row
from tests.integration.test_qr_render import _decode, _rasterise_pdf, _require, _tool

KEY = crypto.private_key_from_seed(bytes([11]) * 32)
HOST12 = "https://id.acme12.cn"
CREATED = datetime(2026, 12, 3, 9, 30, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def zxing() -> ModuleType:
    try:
        import zxingcpp
    except ImportError:
        zxingcpp = None
    _require(zxingcpp is not None, "zxing-cpp is not installed (pip install zxing-cpp)")
    assert zxingcpp is not None
    return zxingcpp


@pytest.fixture(scope="module")
def cjk_font() -> None:
    try:
        fonts.find_cjk_font()
    except FontNotFoundError as e:
        _require(False, f"no Chinese font for label text ({e.message})")


@pytest.fixture(scope="module")
def pdftoppm() -> str:
    return _tool("pdftoppm", "poppler-utils")


@pytest.fixture(scope="module")
def batch() -> list[UnitLabels]:
    """30 units under a 12-character host with 16-character serials."""
    units = [UnitId(gtin="09506000134352", serial=f"SN-{n:013d}") for n in range(30)]
    return prepare_units(HOST12, units, KEY)


def _with_lot(label: Label) -> Label:
    return Label(label.qr_text, ("Acme Runner 42", "(10) L2026-12", *label.lines))


# --- ZPL read back --------------------------------------------------------------------


def _expand(data: str, per_row: int) -> list[str]:
    """Undo ZPL's ASCII compression as a printer does: hex digits (a count letter
    before one repeats it) fill rows of ``2 * per_row`` digits; ``,`` fills the rest of
    the row with 0, ``!`` with F; ``:`` at a row's start repeats the row before."""
    width = 2 * per_row
    rows: list[str] = []
    row = ""
    count = 0
    for ch in data:
        if ch == ":" and not row:
            rows.append(rows[-1])
            continue
        if "G" <= ch <= "Y":
            count += ord(ch) - ord("G") + 1
            continue
        if "g" <= ch <= "z":
            count += 20 * (ord(ch) - ord("g") + 1)
            continue
        if ch in ",!":
            row += ("0" if ch == "," else "F") * (width - len(row))
        else:
            assert ch in "0123456789ABCDEF", ch
            row += ch * (count or 1)
            count = 0
        assert len(row) <= width
        if len(row) == width:
            rows.append(row)
            row = ""
    assert not row and not count
    return rows


def _zpl_images(document: bytes) -> list[Image.Image]:
    """Every ``^GFA`` graphic field of a ZPL document, as an image (dots printed black)."""
    images = []
    for fmt in document.decode("ascii").split("^XZ\n")[:-1]:
        assert fmt.startswith("^XA\n")
        width = int(re.search(r"\^PW(\d+)", fmt).group(1))  # type: ignore[union-attr]
        height = int(re.search(r"\^LL(\d+)", fmt).group(1))  # type: ignore[union-attr]
        found = re.search(r"\^GFA,(\d+),(\d+),(\d+),([^\^]*)\^FS", fmt)
        assert found is not None
        total, _, per_row, data = found.groups()
        per_row_n = int(per_row)
        assert int(total) == per_row_n * height and per_row_n == (width + 7) // 8
        rows = _expand(data, per_row_n)
        assert len(rows) == height
        raw = bytes.fromhex("".join(rows))
        bits = Image.frombytes("1", (per_row_n * 8, height), raw).crop((0, 0, width, height))
        images.append(bits.point(lambda v: 0 if v else 255).convert("L"))
    return images


@settings(max_examples=200, deadline=None)
@given(row=st.lists(st.sampled_from("00000F8A"), min_size=1, max_size=160).map("".join))
def test_zpl_row_compression_round_trips(row: str) -> None:
    if len(row) % 2:
        row += "0"
    packed = compress_row(row)
    assert ":" not in packed and len(packed) <= len(row) + 1
    assert _expand(packed, len(row) // 2) == [row]
    assert _expand(packed + ":" + packed, len(row) // 2) == [row, row, row]


# --- every label decodes ---------------------------------------------------------------


@pytest.mark.usefixtures("cjk_font")
@pytest.mark.parametrize("roll", sorted(ROLLS))
def test_every_roll_label_decodes_at_100_dpi(
    zxing: ModuleType, pdftoppm: str, tmp_path: Path, batch: list[UnitLabels], roll: str
) -> None:
    for labels in ([_with_lot(b.outer()) for b in batch], [b.inner() for b in batch]):
        document = render_roll_pdf(labels, roll, workers=1)
        images = _rasterise_pdf(pdftoppm, document, tmp_path, dpi=100)
        assert len(images) == len(labels)  # one page per label
        for image, label in zip(images, labels, strict=True):
            found = _decode(zxing, image)
            assert [c.text for c in found] == [label.qr_text]
            if label.qr_text.startswith("HTTPS://"):
                assert int(found[0].extra["Version"]) <= 7 and found[0].ec_level == "M"


@pytest.mark.usefixtures("cjk_font")
@pytest.mark.parametrize(("roll", "dpi"), [("50x30", 203), ("40x25", 203), ("40x25", 300)])
def test_every_zpl_label_decodes_at_printer_dots_and_100_dpi(
    zxing: ModuleType, batch: list[UnitLabels], roll: str, dpi: int
) -> None:
    labels = [_with_lot(b.outer()) for b in batch[:10]] + [b.inner() for b in batch[:10]]
    document = render_roll_zpl(labels, roll, dpi=dpi, workers=1)
    images = _zpl_images(document)
    size = roll_for(roll)
    for image, label in zip(images, labels, strict=True):
        assert image.size == (round(size.width * dpi / 25.4), round(size.height * dpi / 25.4))
        assert [c.text for c in _decode(zxing, image)] == [label.qr_text]
        scale = 100 / dpi  # a proof of the same label at 100 dpi (Lanczos, as viewers
        # scale; a box filter at 203 -> 100 dpi loses 30 of 60: 4 dots are 1.97 pixels)
        small = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
        assert [c.text for c in _decode(zxing, small)] == [label.qr_text]


@pytest.mark.usefixtures("cjk_font")
def test_zpl_and_roll_refuse_bad_input(batch: list[UnitLabels]) -> None:
    labels = [batch[0].outer()]
    with pytest.raises(ValidationError) as caught:
        render_roll_zpl(labels, "50x30", dpi=250, workers=1)
    assert caught.value.field == "dpi"
    for bad in ("60x40", "", None):
        with pytest.raises(ValidationError) as caught:
            render_roll_pdf(labels, bad, workers=1)  # type: ignore[arg-type]
        assert caught.value.field == "roll"
    with pytest.raises(ValidationError):
        Roll("tall", 20.0, 40.0)


# --- what a print shop checks in the PDF -----------------------------------------------


def _pdfinfo(pdftoppm: str, path: Path) -> str:
    tool = Path(pdftoppm).parent / "pdfinfo"
    return subprocess.run([tool, path], capture_output=True, text=True, check=True).stdout


def _embedded(pdftoppm: str, path: Path) -> list[str]:
    tool = Path(pdftoppm).parent / "pdffonts"
    lines = subprocess.run([tool, path], capture_output=True, text=True, check=True).stdout
    return lines.splitlines()[2:]


@pytest.mark.usefixtures("cjk_font")
@pytest.mark.parametrize("kind", ["roll", "sheet"])
def test_pdf_metadata_creation_date_page_size_and_embedded_fonts(
    pdftoppm: str, tmp_path: Path, batch: list[UnitLabels], kind: str
) -> None:
    labels = [_with_lot(b.outer()) for b in batch[:3]]
    title = "Acme Runner 42 · lot L2026-12 · outer labels"
    if kind == "roll":
        document = render_roll_pdf(
            labels, "40x25", workers=1, title=title, author="Acme Ltd", created=CREATED
        )
    else:
        document = render_sheet_pdf(
            labels, "a4", workers=1, title=title, author="Acme Ltd", created=CREATED
        )
    path = tmp_path / "labels.pdf"
    path.write_bytes(document)
    info = _pdfinfo(pdftoppm, path)
    assert re.search(rf"^Title:\s+{re.escape(title)}$", info, re.M)
    assert re.search(r"^Author:\s+Acme Ltd$", info, re.M)
    assert re.search(r"^CreationDate:\s+Thu Dec\s+3 09:30:00 2026", info, re.M), info
    assert "anonymous" not in info and "unspecified" not in info and "2000" not in info
    if kind == "roll":
        assert re.search(r"^Pages:\s+3$", info, re.M)
        # 40 x 25 mm = 113.39 x 70.87 pt
        assert re.search(r"^Page size:\s+113\.386 x 70\.866\d* pts", info, re.M), info
    fonts = _embedded(pdftoppm, path)
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts
    assert not any("Helvetica" in line for line in fonts)


@pytest.mark.usefixtures("cjk_font")
def test_one_product_and_lot_per_sheet_with_its_header(
    zxing: ModuleType, pdftoppm: str, tmp_path: Path, batch: list[UnitLabels]
) -> None:
    first = [b.outer(product="Acme Runner 42", lot="L1") for b in batch[:3]]
    second = [b.outer(product="Acme Jacket", lot="L2") for b in batch[3:5]]
    headings = ["Acme Runner 42 · lot L1"] * 3 + ["Acme Jacket · lot L2"] * 2
    document = render_sheet_pdf([*first, *second], "a4", workers=1, headings=headings)
    path = tmp_path / "labels.pdf"
    path.write_bytes(document)
    tool = Path(pdftoppm).parent / "pdftotext"
    pages = subprocess.run(
        [tool, path, "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    assert "Acme Runner 42 · lot L1 · page 1 of 1" in pages[0] and "Jacket" not in pages[0]
    assert "Acme Jacket · lot L2 · page 1 of 1" in pages[1] and "Runner" not in pages[1]
    assert "(10) L2" in pages[1] and "(21) SN-0000000000003" in pages[1]
    images = _rasterise_pdf(pdftoppm, document, tmp_path, dpi=100)
    found = [sorted(c.text for c in _decode(zxing, image)) for image in images]
    assert found == [sorted(x.qr_text for x in first), sorted(x.qr_text for x in second)]
    with pytest.raises(ValidationError) as caught:
        render_sheet_pdf(first, "a4", workers=1, headings=headings)
    assert caught.value.field == "headings"


@pytest.mark.usefixtures("cjk_font")
def test_claim_label_files_are_owner_only(tmp_path: Path, batch: list[UnitLabels]) -> None:
    inner = [b.inner() for b in batch[:2]]
    for name, data in (
        ("claim-labels-50x30.pdf", render_roll_pdf(inner, "50x30", workers=1)),
        ("claim-labels.zpl", render_roll_zpl(inner, "50x30", workers=1)),
    ):
        path = write_private_file(tmp_path / name, data)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes() == data
