"""Tests for the qr package without external tools: matrices against `qrcode`, the mask
penalty against a module-by-module reading of ISO/IEC 18004, label texts, sheet layout,
SVG geometry, the manifest's permissions, and the font lookup's error."""

from __future__ import annotations

import csv
import os
import re
import stat
from fractions import Fraction
from pathlib import Path

import pytest
import qrcode
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import claimcode, crypto
from ledger.errors import GS1Error, ValidationError
from ledger.gs1 import UnitId, parse_digital_link
from ledger.label import MAX_BASE_URL_LENGTH, verify_label
from qr import fonts
from qr import matrix as matrix_module
from qr.batch import parallel_map
from qr.codewords import RS_BLOCKS_M, codewords
from qr.errors import FontNotFoundError, LabelError, OutputExistsError
from qr.label import CLAIM_LINE, VERIFY_LINE, claim_uri, prepare_unit, prepare_units
from qr.manifest import COLUMNS, write_manifest, write_private_file
from qr.matrix import BYTE_CAPACITY_M, QRMatrix, encode, fit, penalty, version_for
from qr.png import render_png
from qr.segments import Mode
from qr.sheet import A4, LETTER, SheetLayout, layout_for
from qr.svg import label_fragment, path_data, render_svg
from tests.profiles import examples

BASE = "https://id.example.com"
KEY = crypto.private_key_from_seed(bytes([7]) * 32)
LONGEST = UnitId(gtin="09506000134352", serial="/%&+?" * 4)


def _qrcode_lines(data: bytes, version: int | None, mask: int | None) -> tuple[str, ...]:
    code = qrcode.QRCode(
        version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=mask
    )
    code.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE))
    code.make(fit=version is None)
    return tuple("".join("1" if m else "0" for m in row) for row in code.modules)


_QRCODE_MODES = {
    Mode.NUMERIC: qrcode.util.MODE_NUMBER,
    Mode.ALPHANUMERIC: qrcode.util.MODE_ALPHA_NUM,
    Mode.BYTE: qrcode.util.MODE_8BIT_BYTE,
}


def _qrcode_segment_lines(text: str, mask: int) -> tuple[int, tuple[str, ...]]:
    """`qrcode`'s symbol of the segments `fit` chose for ``text``, at its version."""
    segments, version = fit(text)
    code = qrcode.QRCode(
        version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=mask
    )
    for segment in segments:
        code.add_data(qrcode.util.QRData(segment.data, mode=_QRCODE_MODES[segment.mode]))
    code.make(fit=False)
    return version, tuple("".join("1" if m else "0" for m in row) for row in code.modules)


def _naive_penalty(lines: tuple[str, ...]) -> int:
    """ISO/IEC 18004:2015 section 7.8.3.1, read module by module."""
    n = len(lines)
    columns = ["".join(line[c] for line in lines) for c in range(n)]
    score = 0
    for line in [*lines, *columns]:
        for run in re.findall(r"0+|1+", line):
            if len(run) >= 5:
                score += 3 + len(run) - 5
        padded = "0000" + line + "0000"
        for i in range(4, n + 4):
            if padded[i : i + 7] == "1011101":
                score += 40 * (padded[i - 4 : i] == "0000")
                score += 40 * (padded[i + 7 : i + 11] == "0000")
    for r in range(n - 1):
        for c in range(n - 1):
            block = {lines[r][c], lines[r][c + 1], lines[r + 1][c], lines[r + 1][c + 1]}
            score += 3 * (len(block) == 1)
    dark = sum(line.count("1") for line in lines)
    deviation = abs(Fraction(100 * dark, n * n) - 50)
    return score + 10 * int(deviation // 5)


# --- codewords and matrices -----------------------------------------------------------


def test_block_table_and_capacities_match_qrcode() -> None:
    for version in range(1, 11):
        blocks = qrcode.base.rs_blocks(version, qrcode.constants.ERROR_CORRECT_M)
        ours = [(t, d) for count, t, d in RS_BLOCKS_M[version] for _ in range(count)]
        assert [(b.total_count, b.data_count) for b in blocks] == ours
        capacity = BYTE_CAPACITY_M[version - 1]
        for length in (capacity, capacity + 1):
            code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
            code.add_data(qrcode.util.QRData(b"x" * length, mode=qrcode.util.MODE_8BIT_BYTE))
            code.make()
            assert (code.version <= version) == (length == capacity)
        assert version_for(capacity) == version


@settings(max_examples=examples(120), deadline=None)
@given(data=st.binary(max_size=213))
def test_codewords_equal_qrcode(data: bytes) -> None:
    version = version_for(len(data))
    reference = qrcode.util.create_data(
        version,
        qrcode.constants.ERROR_CORRECT_M,
        [qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE)],
    )
    assert codewords(data, version) == list(reference)


@settings(max_examples=examples(60), deadline=None)
@given(
    text=st.text(max_size=70) | st.text(alphabet="0123456789ABCDEFXYZ $%*+-./:?=abc", max_size=200),
    mask=st.integers(0, 7),
)
def test_matrix_equals_qrcode_for_every_mask(text: str, mask: int) -> None:
    if len(text.encode()) > 213:
        return
    ours = encode(text, mask=mask)
    version, reference = _qrcode_segment_lines(text, mask)
    assert (ours.version, ours.lines) == (version, reference)
    # mixed segments are never longer than one byte-mode segment
    assert ours.version <= version_for(len(text.encode()))


def test_longest_byte_text_is_version_10_at_level_m() -> None:
    text = "h" * 213
    matrix = encode(text)
    assert matrix.version == 10 and matrix.size == 57
    assert matrix.lines == _qrcode_lines(text.encode(), 10, matrix.mask)
    with pytest.raises(ValidationError) as caught:
        encode(text + "h")
    assert caught.value.field == "data"


def test_longest_label_uri_is_version_10_at_level_m() -> None:
    base = "https://" + "r" * (MAX_BASE_URL_LENGTH - 16) + ".example"
    item = prepare_unit(base, LONGEST, KEY)
    assert len(item.uri) == 213
    assert encode(item.uri).version == 10  # the usual form, if a brand printed it
    assert encode(item.qr_uri).version == 8  # what the outer label holds (compact serial)


@pytest.mark.parametrize("serial", ["1", "A/B%&+?1", "/%&+?" * 4])
def test_chosen_mask_has_the_lowest_iso_penalty(serial: str) -> None:
    uri = prepare_unit(BASE, UnitId(gtin="09506000134352", serial=serial), KEY).uri
    scores = [_naive_penalty(encode(uri, mask=k).lines) for k in range(8)]
    assert [penalty(encode(uri, mask=k)) for k in range(8)] == scores
    assert encode(uri).mask == scores.index(min(scores))


def test_encode_refuses_bad_input() -> None:
    with pytest.raises(ValidationError):
        encode("x", mask=8)
    with pytest.raises(ValidationError):
        encode("\ud800")
    with pytest.raises(ValidationError):
        encode(b"bytes")  # type: ignore[arg-type]


def test_a_qrcode_with_another_layout_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = matrix_module._qrcode_symbol

    def shifted(data: bytes, version: int, mask: int) -> object:
        return real(data, version, mask if data.startswith(b" ") else (mask + 1) % 8)

    monkeypatch.setattr(matrix_module, "_qrcode_symbol", shifted)
    matrix_module._template.cache_clear()
    try:
        with pytest.raises(LabelError, match="lays out QR codes unexpectedly"):
            encode("x" * 100)
    finally:
        monkeypatch.undo()
        matrix_module._template.cache_clear()
    assert encode("x" * 100).version == version_for(100) == 6


def test_runs_cover_exactly_the_dark_modules() -> None:
    matrix = encode("https://id.example.com/01/09506000134352/21/1")
    rebuilt = [["0"] * matrix.size for _ in range(matrix.size)]
    for r, c, n in matrix.runs():
        rebuilt[r][c : c + n] = ["1"] * n
    assert tuple("".join(row) for row in rebuilt) == matrix.lines


# --- label texts ----------------------------------------------------------------------


def test_unit_labels() -> None:
    item = prepare_unit(BASE, UnitId(gtin="96385074", serial="A/B%&+?1"), KEY)
    assert verify_label(item.uri, KEY.public_key()).gtin == "00000096385074"
    outer = item.outer()
    assert outer.qr_text == item.qr_uri
    compact = verify_label(item.qr_uri, KEY.public_key())
    usual = verify_label(item.uri, KEY.public_key())
    assert (compact.unit_id(), compact.base_url) == (usual.unit_id(), usual.base_url)
    assert outer.lines == ("(01) 00000096385074", "(21) A/B%&+?1", VERIFY_LINE)
    inner = item.inner()
    assert inner.qr_text == item.claim_uri
    assert inner.lines == (item.claim_code, "(21) A/B%&+?1", CLAIM_LINE)
    assert claimcode.matches_commitment(item.claim_code, item.claim_salt, item.claim_hash)
    link, _, query = item.claim_uri.partition("?")
    assert parse_digital_link(link).unit_id() == item.unit
    assert query == f"claim={item.claim_code}"


def test_claim_uri() -> None:
    unit = UnitId(gtin="09506000134352", serial="A/B")
    uri = claim_uri(BASE, unit, "xy6y kd2y 7b5a 55x1 x")
    assert uri == f"{BASE}/01/09506000134352/21/A%2FB?claim=XY6Y-KD2Y-7B5A-55X1-X"
    with pytest.raises(ValidationError):
        claim_uri(BASE, unit, "XY6Y-KD2Y-7B5A-55X1-Y")
    with pytest.raises(GS1Error):
        claim_uri("https://" + "r" * MAX_BASE_URL_LENGTH, unit, "XY6Y-KD2Y-7B5A-55X1-X")
    with pytest.raises(GS1Error) as caught:
        claim_uri(BASE, ("09506000134352", "A/B"), "XY6Y-KD2Y-7B5A-55X1-X")  # type: ignore[arg-type]
    assert caught.value.field == "unit"


def test_each_unit_gets_its_own_claim_code() -> None:
    units = [UnitId(gtin="09506000134352", serial=f"S{i}") for i in range(50)]
    items = prepare_units(BASE, units, KEY, claim_base_url="https://claim.example.com")
    assert len({i.claim_code for i in items}) == 50
    assert len({i.claim_salt for i in items}) == 50
    assert all(i.claim_uri.startswith("https://claim.example.com/01/") for i in items)


# --- sheets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paper", "per_page", "counts"),
    [
        ("a4", 30, {0: 1, 1: 1, 30: 1, 31: 2, 60: 2, 61: 3, 1000: 34}),
        ("letter", 25, {1: 1, 25: 1, 26: 2, 50: 2, 51: 3, 1000: 40}),
    ],
)
def test_pages_per_batch(paper: str, per_page: int, counts: dict[int, int]) -> None:
    layout = layout_for(paper)
    assert layout.per_page == per_page
    for labels, pages in counts.items():
        assert layout.pages(labels) == pages


@pytest.mark.parametrize("paper", [A4, LETTER])
def test_cells_stay_on_the_page_and_do_not_overlap(paper: object) -> None:
    layout = layout_for(paper)  # type: ignore[arg-type]
    cells = [layout.cell(i) for i in range(layout.per_page * 2)]
    assert cells[layout.per_page].page == 1 and cells[layout.per_page - 1].page == 0
    for cell in cells:
        assert 0 < cell.x and cell.x + cell.width < layout.paper.width
        assert 0 < cell.y and cell.y + cell.height < layout.paper.height
    corners = {(c.page, round(c.x, 6), round(c.y, 6)) for c in cells}
    assert len(corners) == len(cells)


def test_layout_errors() -> None:
    with pytest.raises(ValidationError):
        layout_for("a3")
    with pytest.raises(ValidationError):
        SheetLayout(A4, cell_width=300)


# --- SVG geometry ---------------------------------------------------------------------


def _modules_from_svg(document: str, size: int) -> tuple[str, ...]:
    d = re.search(r'<path fill="#000" shape-rendering="crispEdges" d="([^"]*)"', document)
    assert d is not None
    grid = [["0"] * size for _ in range(size)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", d.group(1)):
        for c in range(int(x) - 4, int(x) - 4 + int(w)):
            assert grid[int(y) - 4][c] == "0"
            grid[int(y) - 4][c] = "1"
    assert len(re.sub(r"M\d+ \d+h(\d+)v1h-\1z", "", d.group(1))) == 0
    return tuple("".join(row) for row in grid)


def test_svg_path_draws_exactly_the_matrix() -> None:
    item = prepare_unit(BASE, LONGEST, KEY)
    document = render_svg(item.outer()).decode()
    matrix = encode(item.qr_uri)
    assert _modules_from_svg(document, matrix.size) == matrix.lines
    assert "(21) /%&amp;+?/%&amp;+?/%&amp;+?/%&amp;+?" in document  # escaped text
    assert VERIFY_LINE in document
    assert matrix.version == 8  # a serial of 20 escaped characters
    assert re.search(r'width="28.500mm"', document)  # (49 + 8) modules of 0.5 mm


def test_png_size_errors() -> None:
    label = prepare_unit(BASE, LONGEST, KEY).outer()
    for bad in ({"module_px": 0}, {"module_px": 65}, {"compress_level": 10}):
        with pytest.raises(ValidationError) as caught:
            render_png(label, **bad)  # type: ignore[arg-type]
        assert caught.value.field in bad


def test_svg_fragment_and_module_size_errors() -> None:
    matrix = QRMatrix(version=1, mask=0, lines=("1" * 21,) * 21)
    fragment = label_fragment(prepare_unit(BASE, LONGEST, KEY).outer(), matrix)
    assert fragment.width == 29
    assert path_data(matrix).count("M") == 21
    with pytest.raises(ValidationError):
        render_svg(prepare_unit(BASE, LONGEST, KEY).outer(), module_mm=0)


# --- manifest -------------------------------------------------------------------------


def test_manifest_is_owner_only_and_complete(tmp_path: Path) -> None:
    items = prepare_units(BASE, [LONGEST, UnitId(gtin="96385074", serial="=1+2")], KEY)
    old = os.umask(0)  # even with an empty umask the file is 0600
    try:
        path = write_manifest(tmp_path / "manifest.csv", items)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1] == [LONGEST.path(), items[0].uri, items[0].claim_code, items[0].claim_uri]
    assert rows[2][0] == "/01/00000096385074/21/%3D1%2B2"  # never starts with = + - @
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_manifest_never_overwrites_or_follows_links(tmp_path: Path) -> None:
    existing = tmp_path / "exists.csv"
    existing.write_text("keep")
    with pytest.raises(OutputExistsError):
        write_manifest(existing, [])
    assert existing.read_text() == "keep"
    target = tmp_path / "target"
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with pytest.raises(OutputExistsError):
        write_manifest(link, [])
    assert not target.exists()


def test_manifest_in_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(LabelError) as caught:
        write_manifest(tmp_path / "missing" / "m.csv", [])
    assert caught.value.field == "path"


def test_manifest_write_failure_leaves_no_file(tmp_path: Path) -> None:
    def broken() -> object:
        yield prepare_unit(BASE, LONGEST, KEY)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_manifest(tmp_path / "m.csv", broken())  # type: ignore[arg-type]
    assert not (tmp_path / "m.csv").exists()


# --- fonts and the process pool -------------------------------------------------------


def test_font_error_is_clear(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "fake.ttf"
    fake.write_text("not a font")
    monkeypatch.setenv(fonts.ENV_VAR, str(fake))
    fonts.find_cjk_font.cache_clear()
    try:
        with pytest.raises(FontNotFoundError, match=fonts.ENV_VAR):
            fonts.find_cjk_font()
        monkeypatch.delenv(fonts.ENV_VAR)
        monkeypatch.setattr(fonts, "KNOWN_FONTS", ())
        monkeypatch.setattr(fonts, "_fc_match", lambda: None)
        fonts.find_cjk_font.cache_clear()
        with pytest.raises(FontNotFoundError, match="fonts-wqy-microhei"):
            fonts.find_cjk_font()
    finally:
        fonts.find_cjk_font.cache_clear()


def test_parallel_map_keeps_order_and_checks_workers() -> None:
    items = list(range(200))
    assert parallel_map(abs, [-i for i in items], workers=2) == items
    with pytest.raises(ValidationError):
        parallel_map(abs, items, workers=0)


def test_private_file_is_owner_only_exclusive_and_never_follows_links(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = write_private_file(tmp_path / "claim-labels.pdf", b"%PDF-1.4 codes")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"%PDF-1.4 codes"
    with pytest.raises(OutputExistsError):
        write_private_file(path, b"again")
    assert path.read_bytes() == b"%PDF-1.4 codes"
    target = tmp_path / "elsewhere"
    (tmp_path / "link.pdf").symlink_to(target)
    with pytest.raises(OutputExistsError):
        write_private_file(tmp_path / "link.pdf", b"x")
    assert not target.exists()
