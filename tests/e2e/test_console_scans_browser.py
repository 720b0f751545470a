"""The console's scans page in headless Debian chromium, logged in as the demo's brand
admin on a real ``provenance demo`` server, at 1280 px, in English and Chinese: the
tables hold the demo's scans, the bundled ECharts draws every chart that has data (a
canvas each) and the maps of first-scan regions (the world's countries and China's
provinces, filled: ink in their boxes, the darkest class among it) with no CSP
violation and nothing fetched from elsewhere, and the page fits the width.
Screenshots: tests/artifacts/screenshots/console-scans-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_console_browser import _FOREIGN, _shot, _signed_in, browser, demo

__all__ = ["browser", "demo"]  # the fixtures, shared with the console's browser test

_WATCH_CSP = """window.__csp = [];
document.addEventListener("securitypolicyviolation",
  e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""
#: a map box's canvas: its pixels, those with any ink, and those of the darkest class
#: (#2f6fc4, scans.css .lv5, the fill of the region with the most units)
_INK = """box => {
  const c = document.querySelector(box + " canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let ink = 0, darkest = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0) ink++;
    if (d[i] === 0x2f && d[i + 1] === 0x6f && d[i + 2] === 0xc4) darkest++;
  }
  return {pixels: d.length / 4, ink: ink, darkest: darkest};
}"""
_INKED = "box => (" + _INK + ")(box).darkest > 20"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_scans_page(browser: Any, demo: dict[str, Any], lang: str) -> None:
    page = _signed_in(browser, demo, lang)
    # CSP violations as the page sees them (init scripts are not subject to the CSP)
    page.add_init_script(_WATCH_CSP)
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
    assert drawn >= 4, drawn  # per day, product, lot, region
    for box in ("#map-world", "#map-china"):  # the demo's first scans: Shanghai, Guangdong
        page.wait_for_selector(f"{box}.drawn canvas")
        page.wait_for_function(_INKED, arg=box)
        ink = page.evaluate(_INK, box)
        assert ink["ink"] > ink["pixels"] // 10, (box, ink)  # shapes, not a blank box
        assert ink["darkest"] > 20, (box, ink)  # a region filled with the top class
    assert page.evaluate("window.__csp") == []
    assert page.locator("#first-regions tbody tr").count() >= 1  # the table stays
    if lang == "en":
        _the_wheel_scrolls_until_the_map_is_clicked(page)
    _shot(page, f"scans-{lang}")
    assert _FOREIGN[id(page)] == []


def _the_wheel_scrolls_until_the_map_is_clicked(page: Any) -> None:
    """Over a map the wheel scrolls the page; a click gives the map the wheel (zoom, no
    scroll); leaving the map gives it back."""
    box = page.locator("#map-world")
    box.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, -100)")
    where = box.bounding_box()
    x, y = where["x"] + where["width"] / 2, where["y"] + where["height"] / 2
    scrolled = lambda: page.evaluate("() => window.scrollY")  # noqa: E731
    page.mouse.move(x, y)
    before = scrolled()
    page.mouse.wheel(0, 120)
    page.wait_for_function("y => window.scrollY > y", arg=before)  # not taken by the map
    where = box.bounding_box()
    x, y = where["x"] + where["width"] / 2, where["y"] + where["height"] / 2
    page.mouse.click(x, y)
    assert "roaming" in (box.get_attribute("class") or "")
    before = scrolled()
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(300)
    assert scrolled() == before  # the map zoomed instead
    page.mouse.move(5, 5)  # out of the map: it lets go
    assert "roaming" not in (box.get_attribute("class") or "")
