"""Security headers on every response (api/headers.py).

Every HTML answer (the unit page in each state, the notices answering the forms, the
API docs) carries a CSP without inline script whose one inline style is allowed by its
hash and matches the page, ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``,
``nosniff`` and ``Referrer-Policy: same-origin``; every other answer (JSON, text, a
report's photo, a problem, a 413 of the size limits) ``nosniff``, a CSP that allows
nothing and ``Referrer-Policy: no-referrer``. HSTS only over https: from a trusted TLS
proxy, never for a stranger's ``X-Forwarded-Proto``. In chromium, the page is styled
under its CSP and the browser reports no violation.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from api.headers import csp_hash, inline
from ledger import reqsig
from tests.e2e.forms import post_form
from tests.e2e.server import LiveServer, Served, start_in_process
from tests.e2e.test_page_browser import _open, browser
from tests.e2e.test_signals_api import mint
from tests.factories import GTIN, key

__all__ = ["browser"]

HTML = {"Accept": "text/html"}


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_page_headers(answer: httpx.Response) -> None:
    """The headers every HTML page must carry, and a CSP that fits the page."""
    where = f"{answer.request.method} {answer.request.url.path}"
    assert answer.headers["content-type"].startswith("text/html"), where
    assert answer.headers["x-content-type-options"] == "nosniff", where
    assert answer.headers["x-frame-options"] == "DENY", where
    assert answer.headers["referrer-policy"] == "same-origin", where
    assert "strict-transport-security" not in answer.headers, where  # plain http
    csp = _directives(answer.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"], where
    assert csp["base-uri"] == ["'none'"], where
    assert "'unsafe-inline'" not in answer.headers["content-security-policy"], where
    if answer.request.url.path != "/docs":
        assert "script-src" not in csp, where  # no script at all: default-src 'none'
        assert csp["form-action"] == ["'self'"], where
        assert "<script" not in answer.text, where
        styles = inline(answer.text, "style")
        assert styles and {csp_hash(s) for s in styles} <= set(csp["style-src"]), where
        assert not re.search(r"\sstyle=", answer.text), where  # no style attributes either
    else:
        scripts = inline(answer.text, "script")
        assert scripts and {csp_hash(s) for s in scripts} <= set(csp["script-src"]), where


def assert_plain_headers(answer: httpx.Response) -> None:
    """The headers of every answer that is not a page."""
    where = f"{answer.request.method} {answer.request.url.path} {answer.status_code}"
    assert answer.headers["x-content-type-options"] == "nosniff", where
    assert answer.headers["referrer-policy"] == "no-referrer", where
    csp = _directives(answer.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"], where


def test_every_page_carries_the_page_headers(asgi_server: Served) -> None:
    server = asgi_server
    code = mint(server, "HDR-CLAIM")
    for story in ("genuine", "sold", "recalled", "unknown"):
        gtin, serial = server.units[story]
        for lang in ("en", "zh-CN"):
            assert_page_headers(server.get(f"/01/{gtin}/21/{serial}?lang={lang}", headers=HTML))
    assert_page_headers(server.get(f"/01/{GTIN}/10/L1/21/SN-0001", headers=HTML))
    with server.client() as shopper:  # the notices answering the forms
        path = f"/v1/units/{GTIN}/HDR-CLAIM/claim"
        wrong = post_form(shopper, path, GTIN, "HDR-CLAIM", {"code": "WRONG-CODE-0000000000"})
        assert wrong.status_code == 422
        assert_page_headers(wrong)
        done = post_form(shopper, path, GTIN, "HDR-CLAIM", {"code": code})
        assert done.status_code == 201
        assert_page_headers(done)
        fields = {"gtin": GTIN, "serial": "HDR-CLAIM", "reason": "other"}
        filed = post_form(shopper, "/v1/reports", GTIN, "HDR-CLAIM", fields)
        assert filed.status_code == 201
        assert_page_headers(filed)
    assert_page_headers(server.get("/docs"))


def test_every_other_answer_is_nosniff_and_allows_nothing(asgi_server: Served) -> None:
    server = asgi_server
    mint(server, "HDR-PHOTO")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 200, 30)).save(buffer, "PNG")  # decoded and re-encoded
    png = buffer.getvalue()
    with server.client() as shopper:
        fields = {"gtin": GTIN, "serial": "HDR-PHOTO", "reason": "counterfeit"}
        filed = post_form(shopper, "/v1/reports", GTIN, "HDR-PHOTO", fields,
                          files={"photo": ("p.png", png, "image/png")})  # fmt: skip
        assert filed.status_code == 201, filed.text
    alerts = _signed(server, "/v1/brands/acme/alerts")
    report = next(r for r in alerts.json()["reports"] if r["unit"]["serial"] == "HDR-PHOTO")
    answers = [
        alerts,
        _signed(server, f"/v1/reports/{report['id']}/photo"),  # the shopper's photo
        server.get(f"/01/{GTIN}/21/SN-0001", headers={"Accept": "application/json"}),
        server.get("/v1/checkpoint"),
        server.get(f"/v1/units/{GTIN}/SN-0001/proof"),
        server.get("/openapi.json"),
        server.get("/healthz"),
        server.get("/nope"),  # a problem
        server.post("/v1/entries", content=b"{}"),  # 415
        server.post(  # 413 of the size limits, answered before any route
            "/v1/entries", content=b"x" * 70_000, headers={"Content-Type": "application/json"}
        ),
        server.get("/healthz", headers={f"x-h{i}": "v" for i in range(120)}),  # 431
    ]
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200, 200, 200, 200, 200, 200, 404, 415, 413, 431]
    for answer in answers:
        assert_plain_headers(answer)
    assert answers[1].headers["content-type"] in ("image/png", "image/jpeg", "image/webp")


def _signed(server: Served, path: str) -> httpx.Response:
    header = reqsig.sign_request(key(2), "GET", path, b"", datetime.now(UTC))
    return server.get(path, headers={"Authorization": header})


@pytest.fixture(scope="module")
def behind_tls(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app behind a TLS-terminating proxy on loopback (trusted)."""
    tmp = tmp_path_factory.mktemp("hsts")
    env = {"PROVENANCE_TRUSTED_PROXIES": "127.0.0.1/32"}
    server = start_in_process(f"sqlite:///{tmp}/ledger.db", tmp, extra_env=env)
    yield server
    server.stop()


def test_hsts_only_over_https(behind_tls: Served) -> None:
    server = behind_tls
    page = f"/01/{GTIN}/21/SN-0001"
    tls = {"X-Forwarded-Proto": "https", **HTML}
    over_tls = server.get(page, headers=tls)
    assert over_tls.headers["strict-transport-security"] == "max-age=31536000"
    assert server.get("/healthz", headers=tls).headers["strict-transport-security"]
    assert "strict-transport-security" not in server.get(page, headers=HTML).headers
    with server.client("127.0.0.9") as stranger:  # not a trusted proxy: its header is ignored
        spoofed = stranger.get(page, headers=tls)
    assert "strict-transport-security" not in spoofed.headers


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_the_page_is_styled_under_its_csp_in_chromium(
    browser: Any, live_server: LiveServer
) -> None:
    page = _open(browser, "en")
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    answer = page.goto(f"{live_server.url}/01/{GTIN}/21/SN-0001")
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(243, 244, 242)"  # _style.html applied: its hash matched
    radius = page.evaluate("getComputedStyle(document.querySelector('.verdict')).borderRadius")
    assert radius == "16px"
    violations = [m for m in messages if "Content Security Policy" in m]
    assert not violations, violations
