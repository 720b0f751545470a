"""The consumer page in headless Debian chromium at phone width, from a real server.

For a genuine, a sold, a recalled and an unknown unit, in English and Chinese (chosen by
the browser's Accept-Language), with JavaScript off: the visible verdict is right, the
page fits a 390 px and a 360 px wide screen without sideways scrolling (and the GTIN
stays on one line), nothing is fetched from anywhere but the server, and the language
link switches the page.
Screenshots go to tests/artifacts/screenshots/. Outside CI a missing chromium skips
with one line; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import label
from ledger.gs1 import UnitId
from tests.e2e.server import LiveServer
from tests.factories import key

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
LOCALES = {"en": "en-US", "zh-CN": "zh-CN"}

#: story -> language -> (the headline, a line that must be visible with it)
EXPECTED = {
    "genuine": {
        "en": ("Genuine", "Made by Acme"),
        "zh-CN": ("正品", "由 Acme 生产登记"),
    },
    "sold": {  # the real buyer's first scan: neutral, dated, claim it now
        "en": ("Sold on", "Just bought it? Claim it now"),
        "zh-CN": ("已于", "刚买下？"),  # noqa: RUF001
    },
    "recalled": {
        "en": ("Recalled: do not use", "Recalled by the brand"),
        "zh-CN": ("已召回：请勿使用", "品牌方已召回"),  # noqa: RUF001
    },
    "unknown": {
        "en": ("Not found: likely counterfeit", "Do not buy it."),
        "zh-CN": ("未找到：可能是假冒产品", "请勿购买。"),  # noqa: RUF001 - Chinese colon
    },
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser tests")
    pytest.skip(f"{reason}; install it (apt-get install chromium) to run the browser tests")


def launch_chromium() -> Iterator[Any]:
    """Headless Debian chromium driven by playwright (skips, or fails under CI, without it);
    each browser test module's ``browser`` fixture yields from it."""
    if not CHROMIUM.exists():
        _unavailable(f"no chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium driven by playwright, one per module."""
    yield from launch_chromium()


def _open(browser: Any, lang: str, width: int = PHONE["width"]) -> Any:
    """A phone-sized page with JavaScript off that speaks ``lang``."""
    context = browser.new_context(
        viewport={"width": width, "height": PHONE["height"]},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=LOCALES[lang],
        java_script_enabled=False,
    )
    return context.new_page()


def _fits(page: Any) -> bool:
    """No sideways scrolling: the document is no wider than the screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    return bool(width <= page.viewport_size["width"])


def signed_url(base: str, gtin: str, serial: str) -> str:
    """The label URI acme (seed 2) prints on a unit: a scan without ``s`` is a caution
    (``label-unsigned``), so the stories scan signed labels."""
    return label.signed_label_uri(base, UnitId(gtin=gtin, serial=serial), key(2))


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_page_in_chromium_at_phone_width(browser: Any, live_server: LiveServer) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # artifacts never go into git
    for story, by_lang in EXPECTED.items():
        gtin, serial = live_server.units[story]
        url = signed_url(live_server.url, gtin, serial)
        for lang, (headline, line) in by_lang.items():
            page = _open(browser, lang)
            fetched: list[str] = []
            page.on("request", lambda request, seen=fetched: seen.append(request.url))
            response = page.goto(url)
            where = f"{story}/{lang}"
            assert response is not None and response.status == 200, where
            assert page.locator("html").get_attribute("lang") == lang, where
            assert page.locator("h1").inner_text().strip().startswith(headline), where
            assert page.get_by_text(line).first.is_visible(), where
            scan = page.locator(".scan p").first
            # English first, then Chinese: the second language's check is the second
            checked = "This is the first check" if lang == "en" else "此码已被查询 2 次"
            assert scan.is_visible() and checked in scan.inner_text(), (where, scan.inner_text())
            assert _fits(page), f"{where} scrolls sideways at 390 px"
            assert all(u.startswith(live_server.url) for u in fetched), (where, fetched)
            page.screenshot(path=str(SHOTS / f"{story}-{lang}.png"), full_page=True)
            page.set_viewport_size({"width": 360, "height": PHONE["height"]})
            assert _fits(page), f"{where} scrolls sideways at 360 px"
            box = page.get_by_text(gtin, exact=True).first.bounding_box()
            assert box is not None and box["height"] < 32, f"{where}: the GTIN wraps at 360 px"
            page.context.close()


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_language_link_switches_without_javascript(browser: Any, live_server: LiveServer) -> None:
    gtin, serial = live_server.units["sold"]
    page = _open(browser, "zh-CN")
    page.goto(signed_url(live_server.url, gtin, serial))
    assert page.locator("h1").inner_text().strip().startswith("已于")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().strip().startswith("Sold on")
    assert "lang=en" in page.url
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().strip().startswith("已于")
    page.context.close()
