"""The console's settings page and partner revoke over HTTP (in process): only a
brand's admin sees settings and revokes; every form without its CSRF token, or from
another origin, is refused and changes nothing; a generic webhook's secret is shown
once; a webhook to a loopback address is refused (the operator allowed none here); the
revoke is signed by the console key and the page says "by Acme (console)"; the report
page shows where the buyer bought, escaped and isolated; the brand monitor's feed on the
settings page shows an operator's key recovery of the brand."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.app import create_app
from ledger import crypto, entry
from ledger.events import format_time
from ledger.service.console import ConsoleService
from ledger.service.settings import Settings
from tests.e2e.inprocess import InProcessApp
from tests.factories import GTIN, key, public_b64, tampered
from tests.integration.signals_world import SignalWorld

BASE = "http://console.test"
ORIGIN = {"Origin": BASE}
_ADDRESSES = itertools.count(1)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sw = SignalWorld.open(f"sqlite:///{tmp_path_factory.mktemp('settings')}/ledger.db")
    sw.sign(
        1, "actor.register", "operator", subject="ship-co", role="courier", name="Ship Co",
        keys=[public_b64(3)],
    )  # fmt: skip
    sw.sign(
        2, "authorize", "acme", partner="ship-co", role="courier", gtins=[], prefixes=["9506000"],
        not_before="2026-01-01T00:00:00Z", not_after="2099-01-01T00:00:00Z",
    )  # fmt: skip
    sw.mint("SN-1")
    console = ConsoleService(sw.ledger)
    console.keys.delegate_key("acme", key(2), revoke=True)
    passwords = {
        user: console.staff.add_user(org, user, role)
        for org, user, role in [
            ("acme", "acme-admin", "admin"),
            ("acme", "acme-analyst", "analyst"),
        ]
    }
    report = sw.ledger.reports.report(
        GTIN, "SN-1", "counterfeit", where="<b>Shop</b> تجربة 42", client="c1"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROVENANCE_WEBHOOK_ALLOW_NETS"}
    settings = Settings.from_env({**env, "PROVENANCE_PUBLIC_URL": BASE})
    app = InProcessApp(create_app(settings, ledger=sw.ledger), BASE).start()
    yield {"sw": sw, "app": app, "passwords": passwords, "report": report["id"]}
    app.stop()
    sw.ledger.close()


def client(world: dict[str, Any], user: str) -> httpx.Client:
    c = world["app"].client(f"10.1.0.{next(_ADDRESSES)}", follow_redirects=False)
    form = {"username": user, "password": world["passwords"][user], "csrf_token": token(c)}
    assert c.post("/console/login", data=form, headers=ORIGIN).status_code == 303
    return c


def token(c: httpx.Client, path: str = "/console/login") -> str:
    found = _TOKEN.search(c.get(path).text)
    assert found
    return found.group(1)


def test_only_the_admin_sees_settings_and_the_revoke_button(world: dict[str, Any]) -> None:
    analyst = client(world, "acme-analyst")
    assert analyst.get("/console/settings").status_code == 403
    assert "/console/settings" not in analyst.get("/console/").text
    assert "/console/partners/revoke" not in analyst.get("/console/partners").text
    form = {"csrf_token": token(analyst, "/console/partners"), "kind": "generic",
            "url": "https://8.8.8.8/h"}  # fmt: skip
    assert analyst.post("/console/settings/webhooks", data=form, headers=ORIGIN).status_code == 403
    admin = client(world, "acme-admin")
    page = admin.get("/console/settings")
    assert page.status_code == 200 and 'id="add-hook"' in page.text
    assert "flag, recall, revoke" in page.text  # the console key's scope, from the log
    assert 'id="monitor-clean"' in page.text or 'id="monitor"' in page.text
    assert "设置" in admin.get("/console/settings?lang=zh-CN").text
    assert "/console/partners/revoke" in admin.get("/console/partners").text


def test_webhook_forms_need_their_token_and_a_public_target(world: dict[str, Any]) -> None:
    c = client(world, "acme-admin")
    good = token(c, "/console/settings")
    form = {"kind": "generic", "url": "https://8.8.8.8/hook"}
    for data, headers in [
        (form, ORIGIN),  # no token
        ({**form, "csrf_token": tampered(good)}, ORIGIN),  # forged
        ({**form, "csrf_token": good}, {"Origin": "http://evil.example"}),
    ]:
        assert c.post("/console/settings/webhooks", data=data, headers=headers).status_code == 403
    assert 'id="no-hooks"' in c.get("/console/settings").text
    for url in ["http://127.0.0.1:8000/x", "https://169.254.169.254/", "https://[::1]/",
                "https://2130706433/", "https://[::ffff:10.0.0.1]/"]:  # fmt: skip
        refused = c.post(
            "/console/settings/webhooks",
            data={"kind": "generic", "url": url, "csrf_token": good},
            headers=ORIGIN,
        )
        assert refused.status_code == 422, (url, refused.text)
    assert 'id="no-hooks"' in c.get("/console/settings").text
    added = c.post("/console/settings/webhooks", data={**form, "csrf_token": good}, headers=ORIGIN)
    assert added.status_code == 201
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", added.text)
    assert secret is not None
    again = c.get("/console/settings").text
    assert secret.group(0) not in again and "https://8.8.8.8/hook" in again
    hook_id = re.search(r"/console/settings/webhooks/(\d+)/delete", again)
    assert hook_id is not None
    path = f"/console/settings/webhooks/{hook_id.group(1)}/delete"
    assert c.post(path, data={}, headers=ORIGIN).status_code == 403
    deleted = c.post(path, data={"csrf_token": good}, headers=ORIGIN)
    assert deleted.status_code == 303 and "done=webhook_deleted" in deleted.headers["location"]
    assert 'id="no-hooks"' in c.get("/console/settings").text


def test_a_partner_is_revoked_by_the_console_key(world: dict[str, Any]) -> None:
    c = client(world, "acme-admin")
    sw = world["sw"]
    page = c.get("/console/partners").text
    auth = re.search(r'name="authorization" value="([^"]+)"', page)
    assert auth is not None
    size = sw.ledger.head().size
    form = {"authorization": auth.group(1), "reason": "contract ended"}
    assert c.post("/console/partners/revoke", data=form, headers=ORIGIN).status_code == 403
    assert sw.ledger.head().size == size
    form["csrf_token"] = token(c, "/console/partners")
    done = c.post("/console/partners/revoke", data=form, headers=ORIGIN)
    assert done.status_code == 303 and "done=revoke" in done.headers["location"]
    signed = entry.Leaf.from_bytes(sw.ledger.entry(size).leaf).signed
    assert signed.event.kind == "authorization.revoke"
    assert signed.key == ConsoleService(sw.ledger).keys.key_id("acme")
    after = c.get(done.headers["location"]).text
    assert "Acme (console)" in after and "Authorization revoked" in after
    zh = c.get("/console/partners?lang=zh-CN").text
    assert "Acme\uff08控制台\uff09" in zh  # the full-width parentheses of zh-CN
    again = c.post("/console/partners/revoke", data=form, headers=ORIGIN)  # already revoked
    assert again.status_code == 409 and sw.ledger.head().size == size + 1
    # the brand monitor lists what the scoped console key signed, apart from its alarms
    settings = c.get("/console/settings").text
    notices = settings.split('id="monitor-notices"', 1)[1]
    assert f"<tr><td>{size}</td><td><code>scoped-key-signature</code></td>" in notices


def test_where_bought_is_shown_escaped_and_isolated(world: dict[str, Any]) -> None:
    c = client(world, "acme-admin")
    page = c.get(f"/console/reports/{world['report']}").text
    assert '<td id="report-where"><bdi>&lt;b&gt;Shop&lt;/b&gt; تجربة 42</bdi></td>' in page
    answer = (
        world["app"]
        .client("10.2.0.1")
        .post(
            "/v1/reports",
            json={"gtin": GTIN, "serial": "SN-1", "reason": "seller", "where": "evil\u202emoc.x"},
        )
    )
    assert answer.status_code == 422 and answer.json()["type"].endswith(":validation")


def test_the_monitor_feed_shows_an_operators_key_recovery(world: dict[str, Any]) -> None:
    """The settings page's monitor section is the feed of `provenance monitor --as acme`:
    the operator's ``key.recover`` of acme appears in it as ``key-recovery``, with the
    entry's index, kind and signer, once it is logged and not before."""
    c, sw = client(world, "acme-admin"), world["sw"]
    before = c.get("/console/settings").text
    assert "key-recovery" not in before and 'id="no-recoveries"' in before
    index = sw.ledger.head().size
    effective = format_time(sw.clock.now + timedelta(days=7, minutes=5))
    sw.sign(1, "key.recover", "operator", subject="acme", key=public_b64(52), effective=effective)
    page = c.get("/console/settings").text
    rows = re.findall(
        r"<tr><td>(\d+)</td><td><code>([a-z-]+)</code></td><td>([a-z.]+)</td><td>([a-z-]+)</td>"
        r"<td>([^<]*)</td></tr>",
        page,
    )
    assert (str(index), "key-recovery", "key.recover", "operator",
            "operator started a key recovery of acme") in rows  # fmt: skip
    assert 'id="monitor-clean"' not in page
    # the brand's own page lists the pending recovery, and how to cancel it
    recovered = crypto.key_id(key(52).public_key())
    assert (
        f'<tr data-recovery="{recovered}"><td><code>{recovered}</code></td><td>{index}</td>' in page
    )
    assert f"cancel-recovery acme --key-id={recovered} --as acme" in page
    assert 'id="no-recoveries"' not in page
    chinese = c.get("/console/settings?lang=zh-CN").text
    assert f"共 {sw.ledger.head().size} 条" in chinese and "贵品牌待生效的密钥恢复" in chinese
