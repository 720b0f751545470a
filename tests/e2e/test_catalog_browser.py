"""/console/products and /console/batches in headless Debian chromium, logged in as the
demo's brand admin of a real ``provenance demo`` server, in English and Chinese; a
picture uploaded in the console, signed by the brand's key with the CLI over HTTP
(``provenance product image`` checks the stored bytes, ``product register --image``
signs their hash), then shown on the shopper's phone page (390 x 844); a print batch
voided from the console reads as voided on the shopper's page. Screenshots go to
tests/artifacts/screenshots/ (console-products-*, console-batches-*, product-image-*)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.test_cli import clean_env
from tests.e2e.test_console_browser import _shot, _signed_in
from tests.e2e.test_console_browser import demo as demo  # the module's own demo server
from tests.e2e.test_page_browser import PHONE, SHOTS, launch_chromium

SHOE = "09506000134352"
JACKET = "09506000134369"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium driven by playwright, one per module."""
    yield from launch_chromium()


def _picture(path: Path) -> Path:
    """A shoe-ish test picture with EXIF (which the server strips)."""
    image = Image.new("RGB", (1600, 1200), (236, 236, 230))
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((200, 600, 1400, 900), 120, fill=(30, 80, 170))
    draw.rectangle((200, 860, 1400, 940), fill=(250, 250, 250))
    draw.ellipse((300, 640, 420, 700), fill=(250, 250, 250))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    path.write_bytes(out.getvalue())
    return path


def _cli(demo: dict[str, Any], *args: str) -> dict[str, Any]:
    """Run ``provenance --server BASE --json ARGS`` as the demo's brand; its JSON."""
    home = Path(demo["home"])
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--server", demo["base"], "--json", *args,
         "--as", "acme", "--key", str(home / "keys" / "acme.pem")],
        env=clean_env(PROVENANCE_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _story(demo: dict[str, Any], serial: str) -> str:
    """The demo's story URL (its signed label) of ``serial``."""
    found = re.search(rf"(http://\S+/21/{serial}\?s=\S+)", demo["out"])
    assert found, demo["out"]
    return found.group(1)


@pytest.fixture(scope="module")
def home(demo: dict[str, Any]) -> dict[str, Any]:
    """The demo's folder (its keys), found from its database line."""
    found = re.search(r"demo log in sqlite:///(\S+)/ledger\.db", demo["out"])
    assert found, demo["out"]
    return {**demo, "home": found.group(1)}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_products_and_batches_pages(browser: Any, home: dict[str, Any], lang: str) -> None:
    page = _signed_in(browser, home, lang)
    page.goto(f"{home['base']}/console/products")
    table = page.inner_text("#products")
    assert SHOE in table and JACKET in table and "Acme Trail Jacket" in table
    assert "40" in table.split() and "10" in table.split()  # units minted per product
    assert {"en": "Products", "zh-CN": "商品目录"}[lang] in page.inner_text("h1")
    _shot(page, f"products-{lang}")
    page.goto(f"{home['base']}/console/batches")
    rows = page.locator("#batches tbody tr")
    assert rows.count() == 3  # L-2026-11 shoes, L-RECALL shoes, L-2026-11 jackets
    assert "L-RECALL" in page.inner_text("#batches")
    assert {"en": "Void batch", "zh-CN": "作废批次"}[lang] in page.inner_text("#batches")
    _shot(page, f"batches-{lang}")


def test_a_picture_uploaded_signed_and_shown_to_the_shopper(
    browser: Any, home: dict[str, Any], tmp_path: Path
) -> None:
    page = _signed_in(browser, home, "en")
    page.goto(f"{home['base']}/console/products")
    shoe = _picture(tmp_path / "shoe.jpg")
    row = page.locator("#products tbody tr", has_text=SHOE)
    row.locator("input[type=file]").set_input_files(str(shoe))
    row.locator("button").click()
    page.wait_for_selector("#uploaded")
    page.wait_for_load_state("load")  # its pictures too, not only its HTML
    shown_hash = page.inner_text("#image-hash")
    assert f"--image {shown_hash} --as acme" in page.inner_text("#sign-command")
    assert page.evaluate("document.querySelector('#uploaded img').naturalWidth") == 800
    _shot(page, "products-uploaded-en")

    # the brand, with its own key, from its own machine: upload (the same file gives
    # the same stored bytes), check, sign
    stored = _cli(home, "product", "image", SHOE, str(shoe), "--preview", str(tmp_path / "p.jpg"))
    assert stored["hash"] == shown_hash and b"SecretCam" not in (tmp_path / "p.jpg").read_bytes()
    _cli(home, "product", "register", SHOE, "--name", "Acme Runner 42 (shoe)",
         "--name-zh", "Acme 跑鞋 42", "--support", "400-820-8820", "--image", stored["hash"])  # fmt: skip
    page.goto(f"{home['base']}/console/products")
    assert (
        page.evaluate(
            f"document.querySelector('img[src=\"/console/products/{SHOE}/image\"]').naturalWidth"
        )
        == 800
    )
    _shot(page, "products-signed-en")

    for lang, locale in (("en", "en-US"), ("zh-CN", "zh-CN")):
        phone = browser.new_context(viewport=PHONE, locale=locale).new_page()
        answer = phone.goto(_story(home, "SN-000036"))  # its signed label: genuine
        assert len(answer.body()) < 50_000  # the page before its picture
        picture = phone.locator("img.product")
        picture.scroll_into_view_if_needed()
        picture.evaluate("i => i.complete || new Promise(done => i.onload = i.onerror = done)")
        assert picture.evaluate("i => i.complete && i.naturalWidth") == 800
        assert picture.get_attribute("src") == f"/v1/products/{SHOE}/image/{shown_hash}"
        box = picture.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        phone.screenshot(path=str(SHOTS / f"product-image-{lang}.png"), full_page=True)


def test_a_batch_reprinted_from_its_unit_list_with_the_brands_key(
    browser: Any, home: dict[str, Any], tmp_path: Path
) -> None:
    page = _signed_in(browser, home, "en")
    page.goto(f"{home['base']}/console/batches")
    row = page.locator("#batches tbody tr", has_text="L-RECALL")
    href = row.locator("a[download]").get_attribute("href")
    units = page.request.get(f"{home['base']}{href}").text()
    assert units.splitlines() == [f"{SHOE}/SN-{n:06d}" for n in range(31, 36)]
    listed = tmp_path / "units.txt"
    listed.write_text(units, encoding="utf-8")
    out = tmp_path / "reprint"
    done = _cli(home, "label", "--units-file", str(listed), "--lot", "L-RECALL",
                "--product-name", "Acme Runner 42", "--out", str(out))  # fmt: skip
    assert len(done["uris"]) == 5 and all("?s=" in u for u in done["uris"])
    assert (out / "outer-labels.pdf").read_bytes().startswith(b"%PDF")
    # the reprinted labels verify as the brand's on the shopper's page
    phone = browser.new_context(viewport=PHONE, locale="en-US").new_page()
    phone.goto(done["uris"][0])
    assert "SN-000031" in phone.inner_text("body")
    assert "The brand's signature on this label checks out" in phone.inner_text("body")


def test_a_voided_batch_reads_as_voided_on_the_shoppers_page(
    browser: Any, home: dict[str, Any]
) -> None:
    page = _signed_in(browser, home, "en")
    page.goto(f"{home['base']}/console/batches")
    row = page.locator("#batches tbody tr", has_text=JACKET)
    assert row.locator("a[download]").get_attribute("href").endswith("/units.txt")
    row.locator("input[name=note]").fill("sheet printed with the wrong lot")
    row.locator("button.danger").click()
    page.wait_for_url(re.compile(r".*done=void&n=10$"))
    assert "Voided: 10 units recalled." in page.inner_text("main")
    assert "voided" in page.locator("#batches tbody tr", has_text=JACKET).inner_text()
    _shot(page, "batches-voided-en")
    for lang, locale, words in (
        ("en", "en-US", "The brand voided the print batch of this label"),
        ("zh-CN", "zh-CN", "品牌方已作废该标签所属的印刷批次"),
    ):
        phone = browser.new_context(viewport=PHONE, locale=locale).new_page()
        phone.goto(_story(home, "JK-000001"))
        assert words in phone.inner_text("body")
        phone.screenshot(path=str(SHOTS / f"batch-voided-consumer-{lang}.png"), full_page=True)
