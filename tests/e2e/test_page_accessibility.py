"""The shopper's pages pass an automated accessibility audit (issue 22): axe-core, run in
headless Debian chromium on each page a shopper meets, in English and Chinese, finds no
serious or critical violation (contrast, names of controls, headings, landmarks, lang).

axe-core is the copy the ``axe-playwright-python`` test dependency ships (MPL 2.0); it is
injected into the page for the audit only (the pages themselves run no script). A page
with a known violation proves the audit runs and reports. Outside CI a missing chromium
skips with one line; in CI it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import LiveServer
from tests.e2e.test_page_browser import launch_chromium, signed_url

pytestmark = pytest.mark.e2e

#: the impacts axe-core ranks highest: none may remain
BLOCKING = {"serious", "critical"}


def _axe_source() -> str:
    try:
        import axe_playwright_python
    except ImportError:  # pragma: no cover - a test dependency
        pytest.skip("axe-playwright-python is not installed (pip install -e '.[test]')")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def audit(browser: Any, url: str, locale: str) -> list[tuple[str, str, int]]:
    """axe-core's violations on ``url`` as a phone in ``locale`` sees it: (rule, impact,
    nodes)."""
    context = browser.new_context(
        locale=locale, bypass_csp=True, viewport={"width": 390, "height": 844}
    )
    try:
        page = context.new_page()
        page.goto(url)
        page.evaluate(_axe_source())
        found = page.evaluate(
            "axe.run().then(r => r.violations.map(v => [v.id, v.impact, v.nodes.length]))"
        )
        return [(rule, impact, nodes) for rule, impact, nodes in found]
    finally:
        context.close()


def shopper_pages(live: LiveServer) -> dict[str, str]:
    """Every kind of page a shopper meets: each story, a forged label, the claim page, the
    home and how-to pages, an error page."""
    pages = {story: signed_url(live.url, *unit) for story, unit in live.units.items()}
    gtin, serial = live.units["genuine"]
    pages["forged-label"] = f"{live.url}/01/{gtin}/21/{serial}?s=" + "A" * 86
    pages["claim"] = signed_url(live.url, *live.units["sold"]) + "&claim="
    pages["home"] = f"{live.url}/"
    pages["how-to-check"] = f"{live.url}/how-to-check"
    pages["bad-gtin"] = f"{live.url}/01/12345678901234/21/X"
    return pages


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_every_shopper_page_passes_axe_core_in_both_languages(
    browser: Any, live_server: LiveServer
) -> None:
    failing = {}
    pages = shopper_pages(live_server)
    for name, url in pages.items():
        for locale in ("en-US", "zh-CN"):
            found = [v for v in audit(browser, url, locale) if v[1] in BLOCKING]
            if found:
                failing[f"{name}/{locale}"] = found
    assert len(pages) == 9 and not failing, failing


def test_the_audit_reports_a_page_that_fails_it(browser: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!doctype html><html lang="en"><body><main><h1>x</h1>'
        '<img src="x.png"><p style="color:#777;background:#888">low contrast</p>'
        '<form><input type="text"></form></main></body></html>'
    )
    rules = {rule for rule, impact, _ in audit(browser, bad.as_uri(), "en-US")
             if impact in BLOCKING}  # fmt: skip
    assert {"image-alt", "color-contrast", "label"} <= rules
