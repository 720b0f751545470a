"""The page's claim and report forms, and each signal verdict with its reasons, in
headless chromium with JavaScript off, in English and Chinese.

A buyer claims a unit through the page's form and sees the one-time transfer code, then
the unit as theirs (owner cookie); a stranger sees the same unit as claimed and scanned
by others; a reported unit (reported through the page's form, with a photo: one report
is a note under review, the verdict stays genuine) and an invented serial of a probed
GTIN each show their reason. (Travel needs a trusted geolocation header:
tests/e2e/test_forged_signals.py; a ``?place=`` hint never fires it.) Screenshots go to tests/artifacts/screenshots/signals-*.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import LiveServer
from tests.e2e.test_page_browser import ARTIFACTS, SHOTS, _fits, _open, browser, signed_url
from tests.e2e.test_signals_api import mint, other_client
from tests.factories import GTIN
from tests.unit.test_photo_reencode import bomb_png

__all__ = ["browser"]  # the fixture, shared with the page tests

#: story -> language -> (headline, reason title that must be visible)
EXPECTED = {
    "owned": {"en": ("Genuine", "Yours"), "zh-CN": ("正品", "您的商品")},
    "claimed": {
        "en": ("Caution", "Checked by others after it was claimed"),
        "zh-CN": ("请注意", "被认领后仍有他人查询"),
    },
    "reported": {
        "en": ("Genuine", "A report is under review"),
        "zh-CN": ("正品", "有举报正在核查中"),
    },
    "probing": {
        "en": ("Not found: likely counterfeit", "Invented codes of this product are being checked"),
        "zh-CN": ("未找到：可能是假冒产品", "有人在查询编造的序列号"),  # noqa: RUF001
    },
}
PNG = bomb_png(8, 8)  # a real (tiny) PNG: photos are decoded and re-encoded on intake


def _shoot(page: Any, story: str, lang: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    page.screenshot(path=str(SHOTS / f"signals-{story}-{lang}.png"), full_page=True)


def _check(page: Any, story: str, lang: str) -> None:
    headline, reason = EXPECTED[story][lang]
    where = f"{story}/{lang}"
    assert page.locator("html").get_attribute("lang") == lang, where
    assert page.locator("h1").inner_text().strip() == headline, where
    assert page.locator(".reasons").get_by_text(reason).first.is_visible(), where
    assert _fits(page), f"{where} scrolls sideways at 390 px"
    _shoot(page, story, lang)


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_signal_verdicts_and_forms_in_chromium(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    def at(serial: str) -> str:
        return signed_url(live_server.url, GTIN, serial)

    code = mint(live_server, "PAGE-CLAIM")
    for lang in ("en", "zh-CN"):  # the claim form, without JavaScript
        owner = _open(browser, lang)
        owner.goto(at("PAGE-CLAIM"))
        if lang == "en":
            owner.fill("#claim-code", code.lower())
            owner.get_by_role("button", name="Claim").click()
            owner.wait_for_load_state()
            assert owner.locator("h1").inner_text().strip() == "Claimed: this item is yours"
            transfer = owner.locator(".secret").inner_text().strip()
            assert len(transfer) == 21
            _shoot(owner, "claim-done", lang)
            owner.get_by_role("link", name="Back to the item").click()
            owner.wait_for_load_state()
            _check(owner, "owned", lang)
            state = owner.context.storage_state()
        owner.context.close()
    for lang in ("en", "zh-CN"):  # the owner's cookie, in the other language
        context = browser.new_context(storage_state=state, locale=lang, java_script_enabled=False,
                                      viewport={"width": 390, "height": 844})  # fmt: skip
        page = context.new_page()
        page.goto(at("PAGE-CLAIM") + f"&lang={lang}")
        _check(page, "owned", lang)
        context.close()
    with other_client(live_server, "127.0.0.3") as stranger:
        stranger.get(f"/01/{GTIN}/21/PAGE-CLAIM")

    mint(live_server, "PAGE-REPORT")
    reporter = _open(browser, "en")
    reporter.goto(at("PAGE-REPORT"))
    reporter.select_option("#report-reason", "counterfeit")
    reporter.fill("#report-text", "the logo is printed crooked")
    reporter.fill("#report-where", "Stall 12, Luohu market")  # where bought (docs/CONSOLE.md)
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    reporter.set_input_files("#report-photo", str(photo))
    reporter.get_by_role("button", name="Send report").click()
    reporter.wait_for_load_state()
    assert reporter.locator("h1").inner_text().strip() == "Thank you: your report was sent"
    _shoot(reporter, "report-done", "en")
    reporter.context.close()

    for i in range(20):
        httpx.get(at(f"PAGE-FAKE-{i:02d}"))

    serials = {"claimed": "PAGE-CLAIM", "reported": "PAGE-REPORT", "probing": "PAGE-FAKE-07"}
    for story, serial in serials.items():
        for lang in ("en", "zh-CN"):
            page = _open(browser, lang)
            page.goto(at(serial))
            _check(page, story, lang)
            page.context.close()
