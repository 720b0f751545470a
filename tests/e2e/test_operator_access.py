"""The operator's console pages over HTTP (in process): without a session every
``/console/operator/*`` URL goes to the login page; a brand's staff get 403 on every one;
an ``onboarding`` user onboards but cannot blacklist; forms without their CSRF token, or
from another origin, are refused; oversized and mistyped uploads and script in text
fields are refused and change nothing; an onboarding over HTTP signs the document's
hash, stores the file and serves it back as an attachment only; the pending key
recoveries are listed (actor, key, when in effect, how to cancel) until cancelled or in
effect."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.app import create_app
from api.bodylimit import DOCUMENT_BODY
from ledger import codec, crypto
from ledger.entry import Leaf
from ledger.events import format_time
from ledger.service.console import ConsoleService
from ledger.service.licences import MAX_DOCUMENT
from ledger.service.settings import Settings
from tests.e2e.inprocess import InProcessApp
from tests.factories import key, public_b64, tampered
from tests.integration.signals_world import SignalWorld

BASE = "http://operator.test"
ORIGIN = {"Origin": BASE}
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\n%%EOF\n"
_ADDRESSES = itertools.count(1)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
GETS = [
    "/console/operator",
    "/console/operator/actors",
    "/console/operator/actors?q=acme",
    "/console/operator/health",
    "/console/operator/actors/acme/document",
]
POSTS = [
    "/console/operator/actors",
    "/console/operator/actors/acme/document",
    "/console/operator/blacklist",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sw = SignalWorld.open(f"sqlite:///{tmp_path_factory.mktemp('operator')}/ledger.db")
    console = ConsoleService(sw.ledger)
    passwords = {
        user: console.staff.add_user(org, user, role)
        for org, user, role in [
            ("acme", "acme-admin", "admin"),
            ("operator", "operator-admin", "admin"),
            ("operator", "operator-onboarding", "onboarding"),
        ]
    }
    settings = Settings.from_env({**os.environ, "PROVENANCE_PUBLIC_URL": BASE})
    app = InProcessApp(create_app(settings, ledger=sw.ledger), BASE).start()
    yield {"sw": sw, "app": app, "passwords": passwords}
    app.stop()
    sw.ledger.close()


def client(world: dict[str, Any], user: str | None = None) -> httpx.Client:
    c = world["app"].client(f"10.1.0.{next(_ADDRESSES)}", follow_redirects=False)
    if user is not None:
        form = {"username": user, "password": world["passwords"][user], "csrf_token": token(c)}
        answer = c.post("/console/login", data=form, headers=ORIGIN)
        assert answer.status_code == 303, answer.text
    return c


def token(c: httpx.Client, path: str = "/console/login") -> str:
    found = _TOKEN.search(c.get(path).text)
    assert found
    return found.group(1)


def state(world: dict[str, Any]) -> tuple[int, int]:
    """The log's size and the stored documents: what a refused request must not change."""
    sw = world["sw"]
    with sw.ledger.store.engines.writer.connect() as conn:
        rows = int(conn.execute(text("SELECT COUNT(*) FROM operator_documents")).scalar_one())
    return sw.ledger.head().size, rows


def onboarding(who: str, seed: int, csrf: str, **extra: str) -> dict[str, str]:
    fields = {
        "csrf_token": csrf, "subject": who, "role": "courier", "name": f"{who} Ltd",
        "keys": public_b64(seed), "prefixes": "", "checked": "yes",
    }  # fmt: skip
    return {**fields, **extra}


def test_without_a_session_every_operator_url_goes_to_the_login_page(
    world: dict[str, Any],
) -> None:
    c = client(world)
    for path in GETS:
        answer = c.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login"), path
    for path in POSTS:
        assert c.post(path, data={}, headers=ORIGIN).status_code == 303, path


def test_a_brands_staff_get_403_on_every_operator_url(world: dict[str, Any]) -> None:
    c = client(world, "acme-admin")
    before = state(world)
    for path in GETS:
        assert c.get(path).status_code == 403, path
    csrf = token(c, "/console/")
    for path in POSTS:
        files = {"document": ("l.pdf", PDF, "application/pdf")}
        form = {**onboarding("rival-co", 30, csrf), "reason": "x"}
        answer = c.post(path, data=form, files=files, headers=ORIGIN)
        assert answer.status_code == 403, path
        answer = c.post(path, data={"csrf_token": csrf, "subject": "acme", "reason": "x"},
                        headers=ORIGIN)  # fmt: skip
        assert answer.status_code in (403, 400), path  # the blacklist form; no upload: 400
    assert state(world) == before
    assert 'href="/console/operator/actors"' not in c.get("/console/").text


def test_onboarding_over_http_signs_the_hash_and_serves_the_file_as_an_attachment(
    world: dict[str, Any],
) -> None:
    sw, c = world["sw"], client(world, "operator-admin")
    csrf = token(c, "/console/operator/actors")
    files = {"document": ("Licence 2026.pdf", PDF, "application/pdf")}
    answer = c.post("/console/operator/actors", data=onboarding("swift", 31, csrf), files=files,
                    headers=ORIGIN)  # fmt: skip
    assert answer.status_code == 303, answer.text
    assert "done=onboard" in answer.headers["location"]
    registered = Leaf.from_bytes(sw.ledger.entry(sw.ledger.head().size - 1).leaf).signed.event
    assert registered.documents == codec.b64url_encode(hashlib.sha256(PDF).digest())  # type: ignore[attr-defined]
    page = c.get(answer.headers["location"])
    assert "Registered: log index" in page.text and 'data-actor="swift"' in page.text
    assert "Licence 2026.pdf" in page.text
    served = c.get("/console/operator/actors/swift/document")
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == 'attachment; filename="Licence 2026.pdf"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    zh = c.get("/console/operator/actors?lang=zh-CN")
    assert "参与方" in zh.text and "物流商" in zh.text
    health = c.get("/console/operator/health")
    assert health.status_code == 200 and "No witness is configured." in health.text
    assert "script-src" not in health.headers["content-security-policy"]


def test_forms_without_their_csrf_token_or_from_elsewhere_change_nothing(
    world: dict[str, Any],
) -> None:
    c = client(world, "operator-admin")
    good = token(c, "/console/operator/actors")
    before = state(world)
    files = {"document": ("l.pdf", PDF, "application/pdf")}
    for csrf, headers in [
        ("", ORIGIN),
        (tampered(good), ORIGIN),
        (good, {"Origin": "http://evil.example"}),
        (good, {}),
    ]:
        form = onboarding("csrf-co", 32, csrf)
        answer = c.post("/console/operator/actors", data=form, files=files, headers=headers)
        assert answer.status_code == 403, (csrf[:4], headers)
        form = {"csrf_token": csrf, "subject": "acme", "reason": "x"}
        answer = c.post("/console/operator/blacklist", data=form, headers=headers)
        assert answer.status_code == 403
    assert state(world) == before


def test_oversized_mistyped_and_scripted_uploads_change_nothing(world: dict[str, Any]) -> None:
    c = client(world, "operator-admin")
    csrf = token(c, "/console/operator/actors")
    before = state(world)
    cases: list[tuple[dict[str, str], tuple[str, bytes, str], int]] = [
        ({}, ("big.pdf", PDF + b"\0" * MAX_DOCUMENT, "application/pdf"), 413),
        ({}, ("huge.pdf", b"\0" * (DOCUMENT_BODY + 1), "application/pdf"), 413),
        ({}, ("page.html", b"<html><script>alert(1)</script></html>", "text/html"), 415),
        ({}, ("licence.pdf", b"<script>alert(1)</script>", "application/pdf"), 415),
        ({}, ("licence.html", PDF, "text/html"), 415),
        ({"name": "<script>alert(1)</script>"}, ("l.pdf", PDF, "application/pdf"), 422),
        ({"subject": "<img src=x onerror=alert(1)>"}, ("l.pdf", PDF, "application/pdf"), 422),
        ({"checked": ""}, ("l.pdf", PDF, "application/pdf"), 422),
    ]
    for extra, upload, status in cases:
        form = onboarding("bad-co", 33, csrf, **extra)
        answer = c.post("/console/operator/actors", data=form, files={"document": upload},
                        headers=ORIGIN)  # fmt: skip
        assert answer.status_code == status, (extra, upload[0], answer.text[:300])
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
    assert state(world) == before


def test_onboarding_staff_onboard_but_cannot_blacklist(world: dict[str, Any]) -> None:
    sw, c = world["sw"], client(world, "operator-onboarding")
    page = c.get("/console/operator/actors")
    assert page.status_code == 200 and 'id="onboard"' in page.text
    assert 'action="/console/operator/blacklist"' not in page.text
    csrf = token(c, "/console/operator/actors")
    files = {"document": ("l.pdf", PDF, "application/pdf")}
    answer = c.post("/console/operator/actors", data=onboarding("depot", 34, csrf), files=files,
                    headers=ORIGIN)  # fmt: skip
    assert answer.status_code == 303
    size = sw.ledger.head().size
    form = {"csrf_token": csrf, "subject": "depot", "reason": "relabelling"}
    assert c.post("/console/operator/blacklist", data=form, headers=ORIGIN).status_code == 403
    assert sw.ledger.head().size == size
    admin = client(world, "operator-admin")
    form = {"csrf_token": token(admin, "/console/operator/actors"), "subject": "depot",
            "reason": "relabelling goods", "since": "2026-11-01T00:00"}  # fmt: skip
    answer = admin.post("/console/operator/blacklist", data=form, headers=ORIGIN)
    assert answer.status_code == 303 and "done=blacklist" in answer.headers["location"]
    row = admin.get("/console/operator/actors?q=depot").text
    assert "blacklisted" in row and "relabelling goods" in row
    assert "2026-11-01T00:00:00.000Z" in row


def test_a_stored_document_altered_afterwards_is_refused_not_served(
    world: dict[str, Any],
) -> None:
    sw, c = world["sw"], client(world, "operator-admin")
    licence = PDF + b"% altered-later\n%%EOF\n"
    files = {"document": ("l.pdf", licence, "application/pdf")}
    form = onboarding("altered-co", 35, token(c, "/console/operator/actors"))
    assert c.post("/console/operator/actors", data=form, files=files,
                  headers=ORIGIN).status_code == 303  # fmt: skip
    digest = codec.b64url_encode(hashlib.sha256(licence).digest())
    with sw.ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE operator_documents SET data = :d WHERE digest = :k"),
            {"d": licence.replace(b"altered", b"ALTERED"), "k": digest},
        )
    answer = c.get("/console/operator/actors/altered-co/document")
    assert answer.status_code == 409 and "ALTERED" not in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def _recovery_row(page: str, key_id: str) -> str:
    found = re.search(rf'<tr data-recovery="{re.escape(key_id)}">(.*?)</tr>', page, re.S)
    assert found, key_id
    return found.group(1)


def test_pending_key_recoveries_are_listed_until_cancelled_or_in_effect(
    world: dict[str, Any],
) -> None:
    sw, c = world["sw"], client(world, "operator-admin")
    assert 'id="no-recoveries"' in c.get("/console/operator/actors").text
    sw.sign(1, "actor.register", "operator", subject="lost-co", role="courier",
            name="Lost Co", keys=[public_b64(63)])  # fmt: skip
    soon = format_time(sw.clock.now + timedelta(days=7, minutes=5))
    later = format_time(sw.clock.now + timedelta(days=8))
    acme_index = sw.ledger.head().size
    sw.sign(1, "key.recover", "operator", subject="acme", key=public_b64(60), effective=soon)
    sw.sign(1, "key.recover", "operator", subject="lost-co", key=public_b64(61), effective=later)
    acme_key, lost_key = (crypto.key_id(key(s).public_key()) for s in (60, 61))

    page = c.get("/console/operator/actors?q=nothing-matches").text  # listed whatever q
    assert 'id="no-recoveries"' not in page
    assert page.index(f'data-recovery="{acme_key}"') < page.index(f'data-recovery="{lost_key}"')
    row = _recovery_row(page, acme_key)
    assert "<code>acme</code><br>Acme" in row and f"<td>{acme_index}</td>" in row
    assert f'<time datetime="{soon}">{soon}</time>' in row
    assert f'title="{public_b64(60)}"' in row
    cancel = f"provenance actor cancel-recovery acme --key-id={acme_key} --as acme --key KEY.pem"
    assert cancel in row and "acme signs the cancellation with one of its own full keys" in row
    acme_row = c.get("/console/operator/actors?q=acme").text  # and beside the key itself
    assert f"recovered, in effect from {soon}" in acme_row
    zh = c.get("/console/operator/actors?lang=zh-CN").text
    assert "待生效的密钥恢复" in zh
    assert "由 acme 使用其自有的完整密钥签署撤销" in _recovery_row(zh, acme_key)
    # the brand's staff never see the operator's pages
    assert client(world, "acme-admin").get("/console/operator/actors").status_code == 403

    sw.sign(2, "key.recover.cancel", "acme", subject="acme", key=acme_key)
    page = c.get("/console/operator/actors").text
    assert f'data-recovery="{acme_key}"' not in page and f'data-recovery="{lost_key}"' in page
    assert [r["key_id"] for r in sw.ledger.actor_view("lost-co")["recoveries"]] == [lost_key]
    sw.clock.advance(days=8, seconds=1)  # lost-co's new key is in effect: nothing pending
    c = client(world, "operator-admin")  # (the session did not last the week)
    assert 'id="no-recoveries"' in c.get("/console/operator/actors").text
    assert sw.ledger.actor_view("lost-co")["recoveries"] == []
