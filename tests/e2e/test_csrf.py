"""Cross-site request forgery against the page's forms, and bodies of the wrong media
type against the JSON routes (api/csrf.py, api/jsonbody.py).

The attack of issue 16: a malicious page makes each visitor's browser post the claim
form (ten wrong codes lock the unit for the visitor's address) or the report form, or
``fetch`` the JSON claim with ``text/plain`` (no CORS preflight). Each variant is
refused with 403 ``csrf`` (or 415 ``unsupported-media-type``) and counted nowhere: after
more forged attempts than the lockout allows, the owner's right code still claims the
unit. The good cases pass: the page's own form, a same-origin Referer without Origin,
``application/json; charset=utf-8``, a configured public origin, https behind a trusted
proxy. Last, the attack in chromium: a page on another origin posting the claim form.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.csrf import CsrfGuard, derive_key, origin_of, parse_origins
from ledger import crypto
from ledger.errors import ValidationError
from ledger.service.settings import Settings
from tests.e2e.forms import origin, page_token, post_form
from tests.e2e.server import LiveServer, Served, start_in_process
from tests.e2e.test_page_browser import _open, browser
from tests.e2e.test_signals_api import mint
from tests.factories import GTIN, key
from tests.profiles import examples

__all__ = ["browser"]  # the fixture, shared with the page tests

PROBLEM = "urn:provenance-ledger:problem:"
#: the key the test servers' CSRF tokens are made with (their operator key is key(1))
KEY = derive_key(crypto.private_key_to_pem(key(1)))


def _refused(answer: httpx.Response, code: str = "csrf", status: int = 403) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == PROBLEM + code


def _claim_path(serial: str) -> str:
    return f"/v1/units/{GTIN}/{serial}/claim"


def _forge(
    client: httpx.Client, serial: str, code: str, headers: Any, token: str | None
) -> httpx.Response:
    """Post the claim form with exactly ``headers`` (a list of pairs or a dict) and
    ``token`` (None: no field)."""
    data = {"code": code, "lang": "en", **({"csrf": token} if token is not None else {})}
    return client.post(_claim_path(serial), data=data, headers=headers)


def test_the_page_gives_a_cookie_and_a_token_to_its_forms(asgi_server: Served) -> None:
    server = asgi_server
    mint(server, "CSRF-PAGE")
    with server.client() as browser_:
        page = browser_.get(f"/01/{GTIN}/21/CSRF-PAGE", headers={"Accept": "text/html"})
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("pl_csrf=") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Secure" not in cookie  # plain http here
        assert page.text.count('name="csrf"') == 2  # the claim and the report form
        again = browser_.get(f"/01/{GTIN}/21/CSRF-PAGE", headers={"Accept": "text/html"})
        assert "set-cookie" not in again.headers  # the nonce is kept, tabs agree
    json_view = server.get(f"/01/{GTIN}/21/CSRF-PAGE", headers={"Accept": "application/json"})
    assert "set-cookie" not in json_view.headers


def test_forged_claim_forms_are_refused_before_anything_is_counted(asgi_server: Served) -> None:
    server = asgi_server
    code = mint(server, "CSRF-CLAIM")
    wrong = "WRONG-CODE-0000000000"
    with server.client() as victim, server.client() as attacker:
        token = page_token(victim, GTIN, "CSRF-CLAIM")
        other_token = page_token(attacker, GTIN, "CSRF-CLAIM")  # another browser's
        other_unit = page_token(victim, GTIN, "SN-0001")
        own = origin(victim)
        nonce = victim.cookies["pl_csrf"]
        guard = CsrfGuard(KEY)
        issued, mac = token.split(".")
        tampered = issued + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
        attacks: list[tuple[str, Any, str | None]] = [
            ("a foreign Origin", {"Origin": "https://evil.example"}, token),
            ("Origin null", {"Origin": "null"}, token),
            ("neither Origin nor Referer", {}, token),
            ("a foreign Referer", {"Referer": "https://evil.example/x"}, token),
            ("a look-alike host", {"Origin": "http://testserver.evil.example"}, token),
            ("userinfo", {"Origin": "http://evil.example@testserver"}, token),
            ("another scheme", {"Origin": "https://testserver"}, token),
            ("another port", {"Origin": "http://testserver:8080"}, token),
            ("a broken IPv6 origin", {"Origin": "http://[::1"}, token),
            ("a script URL", {"Origin": "javascript:alert(1)"}, token),
            ("an empty Origin", {"Origin": ""}, token),
            ("a huge Origin", {"Origin": "http://" + "a" * 5000}, token),
            ("two Origins", [("Origin", own), ("Origin", "https://evil.example")], token),
            ("two Referers", [("Referer", own + "/"), ("Referer", own + "/")], token),
            ("no token", {"Origin": own}, None),
            ("an empty token", {"Origin": own}, ""),
            ("a garbage token", {"Origin": own}, "not-a-token"),
            ("another unit's token", {"Origin": own}, other_unit),
            ("another browser's token", {"Origin": own}, other_token),
            ("a tampered token", {"Origin": own}, tampered),
            (
                "a stale token",
                {"Origin": own},
                guard.token(nonce, GTIN, "CSRF-CLAIM", now=time.time() - 3 * 86400),
            ),
            (
                "a token from the future",
                {"Origin": own},
                guard.token(nonce, GTIN, "CSRF-CLAIM", now=time.time() + 3600),
            ),
            (
                "a token made with another key",
                {"Origin": own},
                CsrfGuard(derive_key(b"other")).token(nonce, GTIN, "CSRF-CLAIM"),
            ),
        ]
        for name, headers, forged in attacks:
            answer = _forge(victim, "CSRF-CLAIM", wrong, headers, forged)
            assert answer.status_code == 403, (name, answer.text)
            _refused(answer)
        # the token without the browser's cookie; a cookie planted by the attacker
        with server.client() as bare:
            _refused(_forge(bare, "CSRF-CLAIM", wrong, {"Origin": own}, token))
            bare.cookies.set("pl_csrf", attacker.cookies["pl_csrf"])
            _refused(_forge(bare, "CSRF-CLAIM", wrong, {"Origin": own}, token))
        # 26 forged attempts, none counted: the owner's form still claims the unit
        done = post_form(victim, _claim_path("CSRF-CLAIM"), GTIN, "CSRF-CLAIM", {"code": code})
    assert done.status_code == 201, done.text
    assert "transfer" in done.text.lower() or "Claimed" in done.text


def test_a_same_origin_referer_stands_in_for_a_missing_origin(asgi_server: Served) -> None:
    server = asgi_server
    code = mint(server, "CSRF-REFERER")
    with server.client() as browser_:
        token = page_token(browser_, GTIN, "CSRF-REFERER")
        page = origin(browser_) + f"/01/{GTIN}/21/CSRF-REFERER?lang=en"
        answer = _forge(browser_, "CSRF-REFERER", code, {"Referer": page}, token)
    assert answer.status_code == 201, answer.text


def test_a_forged_report_form_files_nothing(asgi_server: Served) -> None:
    server = asgi_server
    mint(server, "CSRF-REPORT")
    fields = {"gtin": GTIN, "serial": "CSRF-REPORT", "reason": "counterfeit", "text": "x"}
    with server.client() as victim:
        token = page_token(victim, GTIN, "CSRF-REPORT")
        for headers, forged in (
            ({"Origin": "https://evil.example"}, token),
            ({"Origin": origin(victim)}, None),
            ({"Origin": origin(victim)}, page_token(victim, GTIN, "SN-0001")),
        ):
            data = {**fields, **({"csrf": forged} if forged is not None else {})}
            _refused(victim.post("/v1/reports", data=data, headers=headers))
        view = victim.get(f"/01/{GTIN}/21/CSRF-REPORT", headers={"Accept": "application/json"})
        assert "reported" not in [r["code"] for r in view.json()["reasons"]]
        filed = post_form(victim, "/v1/reports", GTIN, "CSRF-REPORT", fields)
        assert filed.status_code == 201, filed.text


def _size(server: Served) -> int:
    return int(server.get("/v1/checkpoint").text.split("\n")[1])


def test_json_routes_refuse_other_media_types_before_reading(asgi_server: Served) -> None:
    server = asgi_server
    code = mint(server, "CSRF-PLAIN")
    body = '{"code": "WRONG-CODE-0000000000"}'
    for _ in range(12):  # a cross-site fetch needs no preflight with text/plain
        plain = server.post(
            _claim_path("CSRF-PLAIN"), content=body, headers={"Content-Type": "text/plain"}
        )
        _refused(plain, "unsupported-media-type", 415)
    before = _size(server)
    signed = server.world.world.on_unit("inspect", "acme", serial="SN-0001", result="pass")
    event = httpx.Request("POST", "/", json=signed.to_dict()).content
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "application/jsonx"},
        {"Content-Type": "text/json"},
        {},
        [("Content-Type", "application/json"), ("Content-Type", "text/plain")],
    ):
        answer = server.post("/v1/entries", content=event, headers=headers)
        _refused(answer, "unsupported-media-type", 415)
    for path in ("/v1/entries:batch", "/v1/epcis/capture", "/v1/reports", "/v1/reports/1/resolve"):
        _refused(server.post(path, content=b"{}", headers={"Content-Type": "text/plain"}),
                 "unsupported-media-type", 415)  # fmt: skip
    assert _size(server) == before  # nothing was appended
    # the good cases: JSON with a charset parameter, in any case
    appended = server.post(
        "/v1/entries", content=event, headers={"Content-Type": "Application/JSON; charset=utf-8"}
    )
    assert appended.status_code == 201, appended.text
    server.world.world.accept(signed)
    claimed = server.post(
        _claim_path("CSRF-PLAIN"),
        content=f'{{"code": "{code}"}}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert claimed.status_code == 201, claimed.text  # the twelve were never counted


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server with a public origin configured and loopback trusted as its TLS proxy."""
    tmp = tmp_path_factory.mktemp("csrf-configured")
    env = {
        "PROVENANCE_PUBLIC_ORIGINS": "https://verify.example.com, https://scan.example.cn:8443",
        "PROVENANCE_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    server = start_in_process(f"sqlite:///{tmp}/ledger.db", tmp, extra_env=env)
    yield server
    server.stop()


def test_configured_origins_and_https_behind_a_trusted_proxy(configured: Served) -> None:
    server = configured
    code = mint(server, "CSRF-TLS")
    tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with server.client() as shopper:
        page = shopper.get(f"/01/{GTIN}/21/CSRF-TLS", headers={"Accept": "text/html", **tls})
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-pl_csrf=") and "Secure" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie
        nonce = cookie.split(";")[0].split("=", 1)[1]
        shopper.cookies.set("__Host-pl_csrf", nonce)
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        for foreign in (
            "http://testserver",
            "https://testserver",
            "https://verify.example.com.evil",
        ):
            _refused(_forge(shopper, "CSRF-TLS", code, {"Origin": foreign, **tls}, token))
        # the plain cookie name does not stand in for the __Host- one over https
        with server.client() as plain:
            plain.cookies.set("pl_csrf", nonce)
            _refused(_forge(plain, "CSRF-TLS", code, {"Origin": "https://verify.example.com", **tls}, token))  # fmt: skip
        good = _forge(shopper, "CSRF-TLS", code, {"Origin": "https://scan.example.cn:8443", **tls}, token)  # fmt: skip
    assert good.status_code == 201, good.text
    assert "Secure" in good.headers["set-cookie"]  # the owner cookie too
    # from a peer that is not a trusted proxy, X-Forwarded-Proto is ignored: plain http
    with server.client("127.0.0.7") as stranger:
        page = stranger.get(f"/01/{GTIN}/21/CSRF-TLS", headers={"Accept": "text/html", **tls})
        assert page.headers["set-cookie"].startswith("pl_csrf=")
        assert "Secure" not in page.headers["set-cookie"]


@pytest.mark.parametrize(
    "value",
    ["ftp://x.example", "https://a.example/path", "https://a.example?q", "a.example", "null"],
)
def test_a_malformed_public_origin_stops_the_server(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_origins([value])
    assert raised.value.field == "PROVENANCE_PUBLIC_ORIGINS"
    settings_ = Settings.from_env(
        {"PROVENANCE_PUBLIC_ORIGINS": value, "PROVENANCE_HOME": str(tmp_path)}
    )
    with pytest.raises(ValidationError):
        create_app(settings_)


def test_origins_are_compared_in_one_serialization() -> None:
    assert origin_of("HTTP://Example.COM:80") == "http://example.com"
    assert origin_of("https://example.com:443/page?x#y") == "https://example.com"
    assert origin_of("http://[::1]:8000") == "http://[::1]:8000"
    assert parse_origins(["https://a.example/", "https://a.example"]) == {"https://a.example"}
    for bad in ("null", "", "http://", "file:///etc", "http://a b", "http://é.example",
                "http://u:p@a.example", "http:// a.example", "http://a.example:99999"):  # fmt: skip
        assert origin_of(bad) is None, bad


@settings(max_examples=examples(300))
@given(st.text(max_size=80) | st.from_regex(r"https?://[a-z0-9.:\[\]@/-]{0,40}", fullmatch=True))
def test_any_origin_header_parses_to_an_origin_or_nothing(value: str) -> None:
    """Whatever a client sends never raises, and what is accepted is a fixed point: one
    spelling per origin, so a look-alike cannot compare equal by accident."""
    found = origin_of(value)
    if found is not None:
        assert origin_of(found) == found
        assert found.startswith(("http://", "https://")) and "@" not in found


# --- the attack in a browser ---------------------------------------------------------------


class _Attacker(http.server.BaseHTTPRequestHandler):
    """A page on another origin whose form posts a claim to the victim's server."""

    target = ""

    def do_GET(self) -> None:
        page = (
            '<!doctype html><form method="post" action="' + self.target + '">'
            '<input name="code" value="WRONG-CODE-0000000000"><input name="lang" value="en">'
            '<input name="csrf" value="1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA">'
            "<button>win a prize</button></form>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_a_cross_site_form_in_chromium_is_refused(browser: Any, live_server: LiveServer) -> None:
    code = mint(live_server, "CSRF-BROWSER")
    _Attacker.target = live_server.url + _claim_path("CSRF-BROWSER")
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page = _open(browser, "en")
        page.goto(f"{live_server.url}/01/{GTIN}/21/CSRF-BROWSER")  # the victim's cookie
        for _ in range(11):  # more than the lockout allows
            page.goto(f"http://localhost:{evil.server_port}/")
            with page.expect_navigation():
                page.get_by_role("button", name="win a prize").click()
            # the refusal, as the shopper's page in words (the csrf problem's page)
            assert "This form has expired" in page.content()
        page.goto(f"{live_server.url}/01/{GTIN}/21/CSRF-BROWSER")
        page.fill("#claim-code", code)
        page.get_by_role("button", name="Claim").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text().strip() == "Claimed: this item is yours"
    finally:
        evil.shutdown()
        evil.server_close()


def test_a_rebound_host_is_not_the_servers_own_origin(asgi_server: Served) -> None:
    """DNS rebinding: a page on rebound.example, whose name now resolves to this server,
    posts with ``Host`` and ``Origin`` both its own. Without configured origins the
    server trusted the Host header and took the form as its own; now it is refused."""
    server = asgi_server
    mint(server, "CSRF-REBIND")
    with server.client() as victim:
        token = page_token(victim, GTIN, "CSRF-REBIND")
        rebound = {"Host": "rebound.example", "Origin": "http://rebound.example"}
        _refused(_forge(victim, "CSRF-REBIND", "WRONG-CODE-0000000000", rebound, token))
        # the page's own origin (PROVENANCE_PUBLIC_URL) still passes
        own = _forge(
            victim, "CSRF-REBIND", "WRONG-CODE-0000000000", {"Origin": origin(victim)}, token
        )
        assert own.status_code != 403, own.text


def _request(server: tuple[str, int] | None, host: str) -> Any:
    from starlette.requests import Request

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "scheme": "http",
        "headers": [(b"host", host.encode())],
        "server": server,
    }
    return Request(scope)


def test_without_configured_origins_the_public_url_and_the_bound_address_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("api.csrf.is_https", lambda request: False)
    guard = CsrfGuard(KEY, public_url="https://verify.example.com")
    demo = guard.allowed(_request(("127.0.0.1", 8000), "evil.example"))
    assert demo == {
        "https://verify.example.com",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
    }
    lan = guard.allowed(_request(("10.0.0.5", 8000), "evil.example:8000"))
    assert lan == {"https://verify.example.com", "http://10.0.0.5:8000"}
    v6 = guard.allowed(_request(("::1", 8000), "evil.example"))
    assert "http://[::1]:8000" in v6 and "http://localhost:8000" in v6
    assert guard.allowed(_request(None, "evil.example")) == {"https://verify.example.com"}
    configured = CsrfGuard(KEY, origins=frozenset({"https://a.example"}))
    assert configured.allowed(_request(("127.0.0.1", 8000), "x")) == {"https://a.example"}
