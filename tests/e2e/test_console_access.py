"""The console's access control over HTTP (in process): no session -> the login page;
a brand's staff never sees another brand's report or unit (403); an analyst cannot
recall; a form without its CSRF token, or from another origin, is refused and changes
nothing; ten wrong passwords lock the account; script typed into a field is shown as
text. A lot recall and a confirmed report append entries signed by the console key."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.ratelimit import make_limiter
from ledger import entry
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
    sw = SignalWorld.open(f"sqlite:///{tmp_path_factory.mktemp('console')}/ledger.db")
    sw.sign(
        1, "actor.register", "operator", subject="rival", role="brand", name="Rival",
        keys=[public_b64(8)], prefixes=["9506001"],
    )  # fmt: skip
    for n in range(1, 4):
        sw.sign(
            2, "commission", "acme", unit={"gtin": GTIN, "serial": f"L-{n}"}, prev=None, lot="L7"
        )
    sw.mint("SN-1")
    sw.mint("SN-2")
    console = ConsoleService(sw.ledger)
    console.keys.delegate_key("acme", key(2))
    passwords = {
        user: console.staff.add_user(org, user, role)
        for org, user, role in [
            ("acme", "acme-admin", "admin"),
            ("acme", "acme-analyst", "analyst"),
            ("acme", "acme-locked", "triager"),
            ("rival", "rival-admin", "admin"),
            ("operator", "operator-admin", "admin"),
        ]
    }
    report = sw.ledger.reports.report(
        GTIN, "SN-1", "counterfeit", text="<script>alert(1)</script> fake", client="c1"
    )
    # the forms post from BASE, so BASE is the public URL (an origin of its own: CSRF)
    settings = Settings.from_env({**os.environ, "PROVENANCE_PUBLIC_URL": BASE})
    app = InProcessApp(create_app(settings, ledger=sw.ledger), BASE).start()
    yield {"sw": sw, "app": app, "passwords": passwords, "report": report["id"]}
    app.stop()
    sw.ledger.close()


def client(world: dict[str, Any], user: str | None = None, address: str = "") -> httpx.Client:
    """A browser of its own address (sign-in attempts are limited per address)."""
    c = world["app"].client(address or f"10.0.0.{next(_ADDRESSES)}", follow_redirects=False)
    if user is not None:
        answer = login(c, user, world["passwords"][user])
        assert answer.status_code == 303, answer.text
    return c


def token(c: httpx.Client, path: str = "/console/login") -> str:
    page = c.get(path)
    found = _TOKEN.search(page.text)
    assert found, page.text
    return found.group(1)


def login(c: httpx.Client, user: str, password: str) -> Any:
    form = {"username": user, "password": password, "csrf_token": token(c)}
    return c.post("/console/login", data=form, headers=ORIGIN)


def test_without_a_session_every_page_goes_to_the_login_page(world: dict[str, Any]) -> None:
    c = client(world)
    for path in ["/console/", "/console/alerts", "/console/units?q=L7",
                 f"/console/reports/{world['report']}", f"/console/units/{GTIN}/SN-1",
                 "/console/export/alerts.csv"]:  # fmt: skip
        answer = c.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login"), path
    page = c.get("/console/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert c.post(f"/console/units/{GTIN}/SN-1/recall", data={}).status_code == 303


def test_sign_in_and_the_pages_answer(world: dict[str, Any]) -> None:
    c = client(world, "acme-admin")
    for path in ["/console/", "/console/alerts", "/console/units?q=L7",
                 f"/console/reports/{world['report']}", f"/console/units/{GTIN}/SN-1"]:  # fmt: skip
        page = c.get(path)
        assert page.status_code == 200, (path, page.text)
        assert "<script>" not in page.text  # the report's text is escaped
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; fake"
        in c.get(f"/console/reports/{world['report']}").text
    )
    zh = c.get("/console/alerts?lang=zh-CN")
    assert 'lang="zh-CN"' in zh.text and "告警" in zh.text
    csv = c.get("/console/export/alerts.csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and b"report:" in csv.content


def test_a_brand_never_sees_another_brands_report_or_unit(world: dict[str, Any]) -> None:
    c = client(world, "rival-admin")
    assert c.get(f"/console/reports/{world['report']}").status_code == 403
    assert c.get(f"/console/reports/{world['report']}/photo").status_code in (403, 404)
    assert c.get(f"/console/units/{GTIN}/SN-1").status_code == 403
    assert "No unit matches." in c.get("/console/units?q=SN-1").text
    assert "report:" not in c.get("/console/alerts").text
    size = world["sw"].ledger.head().size
    answer = c.post(
        f"/console/units/{GTIN}/SN-1/flag",
        data={"csrf_token": token(c, "/console/units"), "note": "x"},
        headers=ORIGIN,
    )
    assert answer.status_code == 403 and world["sw"].ledger.head().size == size


def test_an_analyst_cannot_recall(world: dict[str, Any]) -> None:
    c = client(world, "acme-analyst")
    size = world["sw"].ledger.head().size
    form = {"csrf_token": token(c, "/console/units"), "gtin": GTIN, "lot": "L7", "reason": "x"}
    assert c.post("/console/recall-lot", data=form, headers=ORIGIN).status_code == 403
    form = {"csrf_token": form["csrf_token"], "reason": "x"}
    answer = c.post(f"/console/units/{GTIN}/SN-2/recall", data=form, headers=ORIGIN)
    assert answer.status_code == 403
    assert world["sw"].ledger.head().size == size


def test_forms_without_their_csrf_token_are_refused(world: dict[str, Any]) -> None:
    c = client(world, "acme-admin")
    size = world["sw"].ledger.head().size
    good = token(c, "/console/units")
    path = f"/console/units/{GTIN}/SN-2/recall"
    for form, headers in [
        ({"reason": "x"}, ORIGIN),  # no token
        ({"reason": "x", "csrf_token": tampered(good)}, ORIGIN),  # forged
        ({"reason": "x", "csrf_token": good}, {"Origin": "http://evil.example"}),
        ({"reason": "x", "csrf_token": good}, {}),  # no origin at all
    ]:
        answer = c.post(path, data=form, headers=headers)
        assert answer.status_code == 403, form
    other = client(world, "acme-analyst")  # a token of another session does not fit
    answer = c.post(
        path, data={"reason": "x", "csrf_token": token(other, "/console/units")}, headers=ORIGIN
    )
    assert answer.status_code == 403
    assert c.post("/console/login", data={"username": "acme-admin", "password": "x"},
                  headers=ORIGIN).status_code == 403  # fmt: skip
    assert world["sw"].ledger.head().size == size


def test_ten_wrong_passwords_lock_the_account(world: dict[str, Any]) -> None:
    c = client(world)
    for _ in range(9):
        assert login(c, "acme-locked", "wrong").status_code == 401
    assert login(c, "acme-locked", "wrong").status_code == 429
    locked = login(c, "acme-locked", world["passwords"]["acme-locked"])
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "session" not in str(locked.cookies)


def test_a_lot_recall_and_a_confirmed_report_are_signed_by_the_console_key(
    world: dict[str, Any],
) -> None:
    sw, c = world["sw"], client(world, "acme-admin")
    console_key = ConsoleService(sw.ledger).keys.key_id("acme")
    form = {"csrf_token": token(c, "/console/units"), "gtin": GTIN, "lot": "L7", "reason": "glue"}
    answer = c.post("/console/recall-lot", data=form, headers=ORIGIN)
    assert answer.status_code == 303 and "done=recall_lot&n=3" in answer.headers["location"]
    assert all(sw.ledger.state().units[(GTIN, f"L-{n}")].recalled for n in range(1, 4))
    alert = f"report:{world['report']}"
    form = {"csrf_token": form["csrf_token"], "alert": alert, "action": "confirm", "note": "fake"}
    assert c.post("/console/alerts/action", data=form, headers=ORIGIN).status_code == 303
    page = c.get(f"/console/reports/{world['report']}")
    assert 'id="flagged"' in page.text
    head = sw.ledger.head().size - 1
    flag = entry.Leaf.from_bytes(sw.ledger.entry(head).leaf).signed
    assert (flag.event.kind, flag.key) == ("flag", console_key)
    assert "Acme (console)" in c.get(f"/console/units/{GTIN}/SN-1").text


def test_the_operator_sees_every_brand_but_signs_for_none(world: dict[str, Any]) -> None:
    c = client(world, "operator-admin")
    assert c.get(f"/console/reports/{world['report']}").status_code == 200
    assert c.get(f"/console/units/{GTIN}/SN-2").status_code == 200
    assert "report:" in c.get("/console/alerts").text
    assert c.get("/console/audit").status_code == 200
    size = world["sw"].ledger.head().size
    form = {"csrf_token": token(c, "/console/units"), "reason": "x"}
    answer = c.post(f"/console/units/{GTIN}/SN-2/recall", data=form, headers=ORIGIN)
    assert answer.status_code == 403 and world["sw"].ledger.head().size == size


def test_partners_and_the_audit_trail(world: dict[str, Any]) -> None:
    admin, analyst = client(world, "acme-admin"), client(world, "acme-analyst")
    assert admin.get("/console/partners").status_code == 200
    trail = admin.get("/console/audit")
    assert trail.status_code == 200 and "acme-analyst" in trail.text and "login" in trail.text
    assert analyst.get("/console/audit").status_code == 403
    assert 'href="/console/audit"' not in analyst.get("/console/").text


def test_sign_in_attempts_are_rate_limited_per_address(world: dict[str, Any]) -> None:
    state = world["app"].app.state
    kept, state.console_logins = (
        state.console_logins,
        make_limiter(1.0, 10, None, clock=lambda: 0.0),
    )
    try:  # time stands still: no attempt is refilled
        c = client(world, address="198.51.100.7")
        answers = [login(c, f"guess-{n}", "x") for n in range(11)]
        assert [a.status_code for a in answers] == [401] * 10 + [429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert client(world, "acme-admin").get("/console/").status_code == 200  # other address
    finally:
        state.console_logins = kept


def test_bad_input_is_a_clear_answer_and_changes_nothing(world: dict[str, Any]) -> None:
    c = client(world, "acme-admin")
    form = {
        "csrf_token": token(c, "/console/alerts"),
        "alert": "report:999999",
        "action": "acknowledge",
    }
    assert c.post("/console/alerts/action", data=form, headers=ORIGIN).status_code == 404
    form["alert"], form["action"] = "report:1", "explode"
    assert c.post("/console/alerts/action", data=form, headers=ORIGIN).status_code == 422
    huge = {**form, "note": "x" * 2_000_000}
    assert c.post("/console/alerts/action", data=huge, headers=ORIGIN).status_code == 413
    assert c.get("/console/units/123/SN-1").status_code == 422  # a malformed GTIN
    assert c.get(f"/console/units/{GTIN}/NOPE-404").status_code == 404
    assert c.get("/console/reports/999999").status_code == 404


def test_script_typed_into_a_note_is_shown_as_text(world: dict[str, Any]) -> None:
    sw, c = world["sw"], client(world, "acme-admin")
    sw.scan("SN-2", "CN-SH", "a")
    sw.clock.advance(minutes=60)
    sw.scan("SN-2", "US", "b")
    alerts = c.get("/console/alerts").text
    alert = re.search(r'data-alert="(signal:[^"]*SN-2[^"]*)"', alerts)
    assert alert, alerts
    form = {
        "csrf_token": token(c, "/console/alerts"),
        "alert": alert.group(1),
        "action": "note",
        "note": '<img src=x onerror="alert(1)">',
    }
    assert c.post("/console/alerts/action", data=form, headers=ORIGIN).status_code == 303
    page = c.get("/console/alerts").text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page and "<img src=x" not in page


def test_an_expired_session_goes_to_the_login_page(world: dict[str, Any]) -> None:
    sw, c = world["sw"], client(world, "acme-analyst")
    assert c.get("/console/").status_code == 200
    before = sw.clock.now
    sw.clock.advance(hours=8, minutes=1)
    try:
        answer = c.get("/console/")
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
    finally:
        sw.clock.now = before
