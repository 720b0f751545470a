"""The API docs page (``/docs``) needs no CDN (issue 21): Swagger UI's script, stylesheet
and icon come from this server, the CSP allows nothing else, and in headless chromium
the page draws every operation of the OpenAPI document while every request it makes
goes to this server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.server import LiveServer
from tests.e2e.test_page_browser import launch_chromium

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_the_docs_page_loads_everything_from_this_server(
    browser: Any, live_server: LiveServer
) -> None:
    page = httpx.get(f"{live_server.url}/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/static/") for s in sources), sources
    csp = page.headers["content-security-policy"]
    assert "http" not in csp and "script-src 'self' 'sha256-" in csp
    for name, media in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
        asset = httpx.get(f"{live_server.url}/docs/static/{name}")
        assert asset.status_code == 200 and media in asset.headers["content-type"]
    assert httpx.get(f"{live_server.url}/docs/static/../../app.py").status_code == 404

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        fetched: list[str] = []
        tab.on("request", lambda request: fetched.append(request.url))
        blocked: list[str] = []
        tab.on(
            "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
        )
        tab.goto(f"{live_server.url}/docs")
        tab.wait_for_selector(".opblock", timeout=30_000)
        shown = tab.locator(".opblock").count()
        paths = len(httpx.get(f"{live_server.url}/openapi.json").json()["paths"])
        assert shown >= paths > 20
        assert all(u.startswith(live_server.url) or u.startswith("data:") for u in fetched), fetched
        assert not blocked, blocked
    finally:
        context.close()
