"""Every demo story, the claim page of the code inside the package, the error pages and
the forged-label page, in headless chromium on a 390x844 phone, in English and Chinese,
with JavaScript off, from a real server over the demo world (``provenance demo``).

For each: the headline (the ``h1``) says the story's words in the top half of the
screen, and the page shows the story's point (`WORDS`); the page fits the screen's
width and fetches nothing from elsewhere; a Chinese page shows no English sentence of
the page's own (`tests.unit.test_consumer_pages.english_in`); the claim page has its
code filled in and its button above the fold; error pages are HTML, not JSON.
Screenshots (viewport and full page) go to tests/artifacts/screenshots/demo/.
"""

# ruff: noqa: RUF001 - Chinese punctuation in the expected words

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.hammer.server import ServerProcess, free_port
from tests.e2e.test_page_browser import ARTIFACTS, PHONE, _fits, _open, launch_chromium
from tests.unit.test_consumer_pages import english_in

SHOTS = ARTIFACTS / "screenshots" / "demo"

#: demo story -> (English headline start, Chinese headline start)
HEADLINES = {
    "genuine, in the flagship store": ("Genuine", "正品"),
    "genuine, fresh from the factory": ("Genuine", "正品"),
    "sold in the shop (a second buyer should beware)": ("Sold on", "已于"),
    "delivered to an online buyer": ("Sold on", "已于"),
    "inspected and passed": ("Genuine", "正品"),
    "failed its inspection": ("Caution", "请注意"),
    "recalled lot L-RECALL": ("Recalled: do not use", "已召回：请勿使用"),
    "handled by a courier later blacklisted": ("Caution", "请注意"),
    "a jacket in the warehouse": ("Genuine", "正品"),
    "claimed by its buyer (seen by someone else)": ("Caution", "请注意"),
    "resold second-hand with its transfer code": ("Caution", "请注意"),
    "a cloned code scanned in two countries": ("Caution", "请注意"),
    "a label with a forged brand signature": (
        "This label was not printed by Acme",
        "此标签不是 Acme",
    ),
    "a serial that was never minted (counterfeit)": (
        "Not found: likely counterfeit",
        "未找到：可能是假冒产品",
    ),
}

#: demo story -> (English words, Chinese words) the page must show: the story's point,
#: in the shopper's language, with the names the brand gave (Chinese product names)
WORDS = {
    "genuine, in the flagship store": ("Where: Guangdong, China", "地点：中国广东"),
    "genuine, fresh from the factory": ("Acme Runner 42", "Acme Runner 42 跑鞋"),
    "sold in the shop (a second buyer should beware)": (
        "Just bought it? Claim it now",
        "刚买下？请马上用包装内的认领码认领",
    ),
    "delivered to an online buyer": (
        "Delivered to the buyer by Acme Online Shop",
        "由 Acme Online Shop 交付买家",
    ),
    "inspected and passed": ("1 passed, 0 failed", "1 次合格，0 次不合格"),
    "failed its inspection": (
        "Failed its latest inspection",
        "最近一次检验未通过",
    ),
    "recalled lot L-RECALL": (
        "Contact Acme Footwear Ltd (400-820-4242",
        "请联系 Acme Footwear Ltd（400-820-4242",
    ),
    "handled by a courier later blacklisted": (
        "Held by a revoked company",
        "持有方已被撤销资格",
    ),
    "a jacket in the warehouse": ("Acme Trail Jacket", "Acme 越野夹克"),
    "claimed by its buyer (seen by someone else)": (
        "since then 2 other people checked this code (your check included)",
        "此后另有 2 人查询过此码（含您的查询）",
    ),
    "resold second-hand with its transfer code": (
        "Already claimed by a buyer",
        "已被买家认领",
    ),
    "a cloned code scanned in two countries": (
        "Checked in places too far apart",
        "查询地点相距过远",
    ),
    "a label with a forged brand signature": (
        "The real SN-000024 is with Acme Central Warehouse.",
        "序列号为 SN-000024 的正品目前在 Acme Central Warehouse 处。",
    ),
    "a serial that was never minted (counterfeit)": ("The code you checked", "您查询的码"),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium driven by playwright, one per module."""
    yield from launch_chromium()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``provenance demo --no-serve`` in a fresh folder, then its server on a free port."""
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    home = folder / "home"
    provenance = str(Path(sys.executable).with_name("provenance"))
    command = [provenance, "--json", "demo", "--no-serve"]
    done = subprocess.run(
        [*command, "--port", str(port), "--home", str(home)],
        cwd=folder,
        capture_output=True,
        timeout=300,
        check=True,
    )
    built = json.loads(done.stdout)
    env = {
        **os.environ,
        "PROVENANCE_HOME": str(home),
        "PROVENANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": built["database"],
        "PROVENANCE_RATE": "1000",
        "PROVENANCE_BURST": "5000",
    }
    server = ServerProcess(env, port=port)
    server.start()
    try:
        server.wait_ready()
        with (folder / "labels" / "manifest.csv").open(encoding="utf-8") as f:
            manifest = {row["unit"].rsplit("/", 1)[1]: row for row in csv.DictReader(f)}
        yield {"url": server.url, "stories": built["stories"], "manifest": manifest}
    finally:
        server.kill()


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # artifacts never go into git
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.screenshot(path=str(SHOTS / f"{name}-full.png"), full_page=True)


def _visit(browser: Any, url: str, lang: str, base: str) -> tuple[Any, Any, list[str]]:
    page = _open(browser, lang)
    fetched: list[str] = []
    page.on("request", lambda request, seen=fetched: seen.append(request.url))
    response = page.goto(url)
    assert all(u.startswith(base) for u in fetched), fetched
    return page, response, fetched


def _slug(story: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in story).strip("-")[:40]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_demo_story_in_chromium(browser: Any, demo: dict[str, Any], lang: str) -> None:
    for item in demo["stories"]:
        story, url = item["story"], item["url"]
        page, response, _ = _visit(browser, url, lang, demo["url"])
        where = f"{story}/{lang}"
        assert response is not None and response.status == 200, where
        headline = page.locator("h1").inner_text().strip()
        expected = HEADLINES[story][lang == "zh-CN"]
        assert headline.startswith(expected), (where, headline)
        box = page.locator("h1").bounding_box()  # the verdict is the first thing seen
        assert box is not None and box["y"] + box["height"] <= PHONE["height"] / 2, where
        body = " ".join(page.locator("body").inner_text().split())
        assert WORDS[story][lang == "zh-CN"] in body, (where, body[:600])
        assert _fits(page), f"{where} scrolls sideways"
        assert page.locator("script").count() == 0
        if lang == "zh-CN":
            assert not english_in(page.locator("body").inner_text()), where
        if story.startswith("a label with a forged"):
            assert page.locator("#claim").count() == 0, "the real unit's claim form"
            assert page.locator(".tl").count() == 0, "the real unit's history"
            assert "SN-000024" in page.locator(".verdict").inner_text()
        if story.startswith("sold in the shop"):
            cta = page.locator(".cta").bounding_box()
            assert cta is not None and cta["y"] + cta["height"] <= PHONE["height"], where
        _shoot(page, f"story-{_slug(story)}-{lang}")
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_inner_code_opens_the_claim_page_filled_in(
    browser: Any, demo: dict[str, Any], lang: str
) -> None:
    # sold in the shop / delivered to an online buyer, not yet claimed
    row = demo["manifest"]["SN-000003" if lang == "en" else "SN-000013"]
    page, response, _ = _visit(browser, row["claim_uri"], lang, demo["url"])
    assert response is not None and response.status == 200
    title = "Claim your item" if lang == "en" else "认领您的商品"
    assert page.locator("h1").inner_text().strip() == title
    assert page.locator("#claim-code").input_value() == row["claim_code"]
    button = page.locator("form button").first.bounding_box()
    assert button is not None and button["y"] + button["height"] <= PHONE["height"]
    if lang == "zh-CN":
        assert not english_in(page.locator("body").inner_text())
    _shoot(page, f"claim-page-{lang}")
    if lang == "en":  # a typo, then the claim: the error in words, the typed code kept
        typo = row["claim_code"][:-1] + ("0" if row["claim_code"][-1] != "0" else "1")
        page.fill("#claim-code", typo)
        page.locator("form button").first.click()
        page.wait_for_load_state()
        assert "typo" in page.locator(".err").inner_text()
        assert page.locator("#claim-code").input_value() == typo
        _shoot(page, "claim-error-en")
        page.fill("#claim-code", row["claim_code"])
        page.locator("form button").first.click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text().strip() == "Claimed: this item is yours"
        _shoot(page, "claim-done-en")
    page.context.close()


ERRORS = {
    "bad-gtin": (
        "/01/09506000134353/21/SN-000001",
        422,
        "This code cannot be read",
        "无法识别此码",
    ),
    "unknown-path": ("/nowhere", 404, "Page not found", "页面不存在"),
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_error_pages_and_the_home_page_are_html(
    browser: Any, demo: dict[str, Any], lang: str
) -> None:
    for name, (path, status, english, chinese) in ERRORS.items():
        page, response, _ = _visit(browser, demo["url"] + path, lang, demo["url"])
        assert response is not None and response.status == status, name
        assert response.headers["content-type"].startswith("text/html"), name
        assert page.locator("h1").inner_text().strip() == (english if lang == "en" else chinese)
        if lang == "zh-CN":
            assert not english_in(page.locator("body").inner_text()), name
        _shoot(page, f"error-{name}-{lang}")
        page.context.close()
    page, response, _ = _visit(browser, demo["url"] + "/", lang, demo["url"])
    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text().strip() in ("How to check a product", "如何查验商品")
    _shoot(page, f"home-{lang}")
    page.context.close()
    api = httpx.get(demo["url"] + "/01/09506000134353/21/SN-000001", timeout=30)
    assert api.headers["content-type"] == "application/problem+json"  # API clients: JSON


def test_pages_stay_under_50_kb_without_script(demo: dict[str, Any]) -> None:
    for item in demo["stories"]:
        for lang in ("en", "zh-CN"):
            headers = {"Accept": "text/html", "Accept-Language": lang}
            page = httpx.get(item["url"], headers=headers, timeout=30)
            assert len(page.content) < 50_000, (item["story"], len(page.content))
            assert b"<script" not in page.content
