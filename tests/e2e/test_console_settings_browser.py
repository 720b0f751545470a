"""The console's settings page and partner revoke in headless Debian chromium, against a
real ``provenance demo`` server, logged in as the demo's brand admin, in English and
Chinese at 1280 px: a generic webhook is added (its secret shown once), a buyer's report
filed afterwards is delivered to a local receiver that checks the HMAC (the operator
allows 127.0.0.1 through ``PROVENANCE_WEBHOOK_ALLOW_NETS``), the delivery log says
delivered; the console key's scope and the monitor's findings are listed; a partner is
revoked from /console/partners and the page says "by Acme Footwear Ltd (console)".
Screenshots go to tests/artifacts/screenshots/console-settings-*.png."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e.console_demo import FOREIGN as _FOREIGN
from tests.e2e.console_demo import console_demo, sign_in
from tests.e2e.test_cli import clean_env
from tests.e2e.test_console_browser import _shot
from tests.e2e.test_page_browser import launch_chromium


class Receiver:
    """A local webhook receiver that records every request."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.got.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``provenance demo`` on a free port, webhooks to 127.0.0.1 allowed."""
    tmp = tmp_path_factory.mktemp("settings-demo")
    env = clean_env(
        PROVENANCE_HOME=str(tmp / "unused"), PROVENANCE_WEBHOOK_ALLOW_NETS="127.0.0.1/32"
    )
    with console_demo(tmp, env) as demo:
        yield demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def _signed_in(browser: Any, demo: dict[str, Any], lang: str) -> Any:
    return sign_in(browser, demo, lang)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_settings_webhook_delivery_and_partner_revoke(
    browser: Any, demo: dict[str, Any], receiver: Receiver, lang: str
) -> None:
    assert "acme-admin" in demo["logins"], demo["out"]
    page = _signed_in(browser, demo, lang)
    words = {
        "en": ("Settings", "Delivery log", "delivered"),
        "zh-CN": ("设置", "投递记录", "已送达"),
    }
    page.click("a[href='/console/settings']")
    page.wait_for_url(f"{demo['base']}/console/settings")
    assert words[lang][0] in page.inner_text("h1")
    assert "flag, recall, revoke" in page.inner_text("#keys")
    _shot(page, f"settings-empty-{lang}")

    page.select_option("#hook-kind", "generic")
    page.fill("#hook-url", f"{receiver.url}/{lang}")  # each language's webhook its own path
    page.click("#add-hook button[type=submit]")
    secret = page.inner_text("#new-secret pre").strip()
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret)
    _shot(page, f"settings-secret-{lang}")

    mine = f"/hook/{lang}"
    before = sum(1 for g in receiver.got if g[0] == mine)
    filed = httpx.post(
        f"{demo['base']}/v1/reports",
        json={"gtin": "09506000134352", "serial": "SN-000010", "reason": "seller",
              "where": "Shop 7, 华强北"},
    )  # fmt: skip
    assert filed.status_code == 201, filed.text
    for _ in range(150):  # the worker looks every 5 s
        if sum(1 for g in receiver.got if g[0] == mine) > before:
            break
        time.sleep(0.1)
    _path, headers, body = [g for g in receiver.got if g[0] == mine][-1]
    stamp = headers["X-Provenance-Timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Provenance-Signature"] == "v1=" + mac
    assert f'"report:{filed.json()["id"]}"' in body.decode()
    time.sleep(0.5)  # the worker records the outcome after the answer
    page.goto(f"{demo['base']}/console/settings")
    assert secret not in page.content()  # shown once
    assert words[lang][1] in page.inner_text("main")
    assert words[lang][2] in page.inner_text("#deliveries")
    _shot(page, f"settings-{lang}")

    page.goto(f"{demo['base']}/console/partners")
    forms = page.locator("form.revoke")
    count = forms.count()
    assert count >= 1
    forms.first.locator("input[name=reason]").fill("contract ended")
    forms.first.locator("button").click()
    page.wait_for_url(re.compile(r".*/console/partners\?done=revoke&n=\d+$"))
    by = "Acme Footwear Ltd (console)" if lang == "en" else "Acme Footwear Ltd\uff08控制台\uff09"
    assert by in page.inner_text("#partners")
    assert page.locator("form.revoke").count() == count - 1
    _shot(page, f"partners-revoked-{lang}")
    page.goto(f"{demo['base']}/console/reports/{filed.json()['id']}")
    assert "Shop 7, 华强北" in page.inner_text("#report-where")
    _shot(page, f"report-where-{lang}")
    assert _FOREIGN[id(page)] == []
