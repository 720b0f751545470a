"""The console in headless Debian chromium, logged in as the demo's brand admin, from a
real ``provenance demo`` server, at 1280 px, in English and Chinese (the browser's
Accept-Language): the demo's cloned unit is an alert with its evidence; the report with a
photo shows its text and photo and is triaged to confirmed (a ``flag`` by Acme's console
key, shown "by ... (console)" on the unit's chain); a lot recall from the console turns
the lot's units to recalled on the consumer page; unit search; the pages fit the width
and fetch nothing from elsewhere. Screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.console_demo import DESKTOP, FOREIGN, console_demo
from tests.e2e.test_cli import clean_env
from tests.e2e.test_page_browser import LOCALES, SHOTS, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
TABLET = {"width": 768, "height": 1024}
_FOREIGN = FOREIGN  # per page: requests to anywhere but the server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``provenance demo`` serving on a free port; its console logins."""
    tmp = tmp_path_factory.mktemp("console-demo")
    with console_demo(tmp, clean_env(PROVENANCE_HOME=str(tmp / "unused"))) as demo:
        yield demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium driven by playwright, one per module."""
    yield from launch_chromium()


def _signed_in(browser: Any, demo: dict[str, Any], lang: str) -> Any:
    context = browser.new_context(viewport=DESKTOP, locale=LOCALES[lang])
    page = context.new_page()
    foreign: list[str] = []
    page.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(demo["base"]) else None,
    )
    _FOREIGN[id(page)] = foreign
    url, password = demo["logins"]["acme-admin"]
    page.goto(url)
    assert page.url.endswith("/console/login")
    _shot(page, f"login-{lang}")
    page.fill("#username", "acme-admin")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo['base']}/console/")
    return page


def _shot(page: Any, name: str, fits: int = DESKTOP["width"]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= fits, name


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_console_pages(browser: Any, demo: dict[str, Any], lang: str) -> None:
    assert set(demo["logins"]) == {"acme-admin", "operator-admin"}, demo["out"]
    page = _signed_in(browser, demo, lang)
    words = {"en": ("Overview", "Alerts", "clone signal"), "zh-CN": ("概览", "告警", "克隆信号")}
    assert words[lang][0] in page.inner_text("h1")
    _shot(page, f"overview-{lang}")

    page.goto(f"{demo['base']}/console/alerts")
    table = page.inner_text("#alerts")
    assert words[lang][2] in table and "SN-000005" in table and "impossible-travel" in table
    assert "km" in table  # the evidence: how far apart the two scans were
    _shot(page, f"alerts-{lang}")
    page.set_viewport_size(TABLET)  # a tablet: the queue still fits, nothing scrolls sideways
    _shot(page, f"alerts-tablet-{lang}", TABLET["width"])
    page.set_viewport_size(DESKTOP)

    page.click("a[href^='/console/reports/']")
    assert "stitching is crooked" in page.inner_text("#report-text")
    # the click waits for the new page's HTML, not its pictures: the load event does
    page.wait_for_load_state("load")
    size = page.evaluate("document.querySelector('img.photo').naturalWidth")
    assert size == 320  # the photo loads
    _shot(page, f"report-{lang}")

    page.goto(f"{demo['base']}/console/units?q=L-RECALL")
    assert page.locator("#units tbody tr").count() == 5
    _shot(page, f"units-{lang}")
    page.goto(f"{demo['base']}/console/units/09506000134352/SN-000031")
    assert "recall" in page.inner_text("#chain")
    _shot(page, f"unit-{lang}")
    page.goto(f"{demo['base']}/console/partners")
    assert "swift-courier" in page.inner_text("#partners")
    _shot(page, f"partners-{lang}")
    assert _FOREIGN[id(page)] == []


def test_confirm_a_report_and_recall_a_lot(browser: Any, demo: dict[str, Any]) -> None:
    page = _signed_in(browser, demo, "en")
    page.goto(f"{demo['base']}/console/alerts?status=new")
    row = page.locator("tr[data-alert^='report:']").first
    report_link = row.locator("a[href^='/console/reports/']").get_attribute("href")
    page.goto(f"{demo['base']}{report_link}")
    page.select_option("select[name=action]", "confirm")
    page.fill("input[name=note]", "fake: crooked stitching")
    page.click("form.inline button[type=submit]")
    page.wait_for_url(f"{demo['base']}{report_link}")
    assert "confirmed" in page.inner_text("#report-status")
    assert "Flagged in the log" in page.inner_text("#flagged")
    _shot(page, "report-confirmed-en")
    page.goto(f"{demo['base']}/console/units/09506000134352/SN-000024")
    assert "Acme Footwear Ltd (console)" in page.inner_text("#chain")

    page.goto(f"{demo['base']}/console/units")
    form = page.locator("#recall-lot")
    form.locator("input[name=gtin]").fill("09506000134369")
    form.locator("input[name=lot]").fill("L-2026-11")
    form.locator("input[name=reason]").fill("zipper defect")
    form.locator("button").click()
    page.wait_for_url(re.compile(r".*done=recall_lot&n=10$"))
    assert "Recalled 10 units." in page.inner_text("main")
    _shot(page, "recall-lot-en")

    shopper = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    consumer = shopper.new_page()
    consumer.goto(f"{demo['base']}/01/09506000134369/21/JK-000003")
    assert "Recalled by the brand" in consumer.inner_text("body")
    _shot(consumer, "recalled-consumer-en", 390)


def test_access_without_a_session(demo: dict[str, Any]) -> None:
    answer = httpx.get(f"{demo['base']}/console/alerts", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
