"""The console's scans page in headless Debian chromium, logged in as the demo's brand
admin on a real ``provenance demo`` server, at 1280 px, in English and Chinese: the
tables hold the demo's scans, the bundled ECharts draws every chart that has data (a
canvas each) with no CSP violation and nothing fetched from elsewhere, and the page
fits the width. Screenshots: tests/artifacts/screenshots/console-scans-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_console_browser import _FOREIGN, _shot, _signed_in, browser, demo

__all__ = ["browser", "demo"]  # the fixtures, shared with the console's browser test


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_scans_page(browser: Any, demo: dict[str, Any], lang: str) -> None:
    page = _signed_in(browser, demo, lang)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.click("a[href='/console/scans']")
    page.wait_for_url(f"{demo['base']}/console/scans")
    title = {"en": "Scans", "zh-CN": "扫码分析"}[lang]
    assert title in page.inner_text("h1")
    total = int(page.inner_text("#total"))
    assert total > 0  # the demo's stories scan their units
    assert "09506000134352" in page.inner_text("#per-product")
    assert page.locator("#per-region tbody tr").count() >= 1
    page.wait_for_selector("#chart-day canvas")
    drawn = page.locator(".chart.drawn canvas").count()
    assert drawn >= 4, drawn  # per day, product, lot, region (and first regions)
    assert problems == [], problems
    _shot(page, f"scans-{lang}")
    assert _FOREIGN[id(page)] == []
