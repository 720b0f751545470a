"""The operator's console pages in headless Debian chromium, logged in as the demo's
``operator-admin``, from a real ``provenance demo`` server that trusts two witnesses
(one of which cosigns once, with the real ``provenance witness`` command), in English
and Chinese at 1280 px: the log's health with its witnesses and high-water mark; the
actor list with the demo's blacklisted courier; onboarding a courier with a licence PDF
through the form (its hash shown, the file served back); blacklisting it through the
form; an operator's key recovery of acme (signed with ``provenance actor recover``)
listed as pending with its time and how acme cancels it. A brand admin gets 403.
Screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import codec, crypto, note
from ledger.events import format_time
from ledger.service.config import write_key_file
from tests.e2e.console_demo import DESKTOP, FOREIGN, console_demo, sign_in
from tests.e2e.test_cli import clean_env
from tests.e2e.test_console_browser import TABLET
from tests.e2e.test_page_browser import SHOTS, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def _witness_key(path: Path, name: str) -> str:
    signer = note.Signer(name, Ed25519PrivateKey.generate(), note.ALG_COSIGNATURE_V1)
    write_key_file(path, (signer.to_text() + "\n").encode())
    return signer.verifier.to_text()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``provenance demo`` trusting witnesses w1 and w2; w1 cosigns once."""
    tmp = tmp_path_factory.mktemp("operator-demo")
    keys = [_witness_key(tmp / f"w{n}.key", f"witness.example/w{n}") for n in (1, 2)]
    env = clean_env(PROVENANCE_HOME=str(tmp / "unused"), PROVENANCE_WITNESSES=" ".join(keys))
    with console_demo(tmp, env) as demo:
        log_key = httpx.get(f"{demo['base']}/v1/log/key").text.strip()
        cosigned = subprocess.run(
            [sys.executable, "-m", "cli", "witness", "--server", demo["base"], "--key",
             str(tmp / "w1.key"), "--log-key", log_key],
            cwd=tmp, env=clean_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert cosigned.returncode == 0, cosigned.stdout + cosigned.stderr
        yield {**demo, "tmp": tmp}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium driven by playwright, one per module."""
    yield from launch_chromium()


@pytest.fixture(scope="module")
def recovery(demo: dict[str, Any]) -> dict[str, str]:
    """An operator's ``key.recover`` of acme, signed with the demo's operator key by the
    real CLI over HTTP, in effect a week (and a bit) from now: its key id and time."""
    new = crypto.generate_private_key().public_key()
    effective = format_time(datetime.now(UTC) + timedelta(days=7, minutes=10))
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--server", demo["base"], "actor", "recover", "acme",
         "--public-key", crypto.public_key_to_b64(new), "--effective", effective,
         "--key", str(demo["tmp"] / "provenance-demo" / "operator.pem")],
        cwd=demo["tmp"], env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return {"key_id": crypto.key_id(new), "effective": effective}


def _signed_in(browser: Any, demo: dict[str, Any], lang: str, user: str = "operator-admin") -> Any:
    page = sign_in(browser, demo, lang, user)
    page.foreign = FOREIGN[id(page)]
    return page


def _shot(page: Any, name: str, fits: int = DESKTOP["width"]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-operator-{name}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= fits, name


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_log_health_page(browser: Any, demo: dict[str, Any], lang: str) -> None:
    page = _signed_in(browser, demo, lang)
    page.click("a[href='/console/operator/health']")
    page.wait_for_url(f"{demo['base']}/console/operator/health")
    w1 = page.inner_text("tr[data-witness='witness.example/w1']")
    w2 = page.inner_text("tr[data-witness='witness.example/w2']")
    size = int(page.inner_text("[id^='size-']"))
    assert str(size) in w1 and {"en": "current", "zh-CN": "已同步"}[lang] in w1
    assert {"en": "never", "zh-CN": "从未"}[lang] in w2 and str(size) in w2  # behind by all
    mark = {"en": "equals the log", "zh-CN": "与日志一致"}[lang]
    assert mark in page.inner_text("main")  # the demo's high-water file holds its size
    _shot(page, f"health-{lang}")
    assert page.foreign == []


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_onboard_with_a_licence_and_blacklist(
    browser: Any, demo: dict[str, Any], lang: str
) -> None:
    page = _signed_in(browser, demo, lang)
    page.click("a[href='/console/operator/actors']")
    page.wait_for_url(f"{demo['base']}/console/operator/actors")
    shady = page.inner_text("tr[data-actor='shady-courier']")
    assert "blacklisted: caught relabelling goods" in shady
    assert {"en": "blacklisted", "zh-CN": "已列入黑名单"}[lang] in shady
    assert "9506000" in page.inner_text("tr[data-actor='acme']")
    _shot(page, f"actors-{lang}")

    subject = f"new-courier-{lang.lower()}"
    licence = demo["tmp"] / f"licence-{lang}.pdf"
    licence.write_bytes(PDF + lang.encode())  # one file per run: two hashes
    public = crypto.public_key_to_b64(crypto.generate_private_key().public_key())
    form = page.locator("#onboard")
    form.locator("input[name=subject]").fill(subject)
    form.locator("select[name=role]").select_option("courier")
    form.locator("input[name=name]").fill(f"New Courier {lang} 快递")
    form.locator("textarea[name=keys]").fill(public)
    form.locator("input[name=document]").set_input_files(str(licence))
    form.locator("input[name=checked]").check()
    _shot(page, f"onboard-form-{lang}")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/console/operator/actors?done=onboard*")
    row = page.locator(f"tr[data-actor='{subject}']")
    digest = codec.b64url_encode(hashlib.sha256(licence.read_bytes()).digest())
    assert row.locator("code[title]").get_attribute("title") == f"SHA-256 {digest}"
    assert f"licence-{lang}.pdf" in row.inner_text()
    _shot(page, f"onboarded-{lang}")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    served = httpx.get(
        f"{demo['base']}/console/operator/actors/{subject}/document", cookies=cookies
    )
    assert served.status_code == 200 and served.content == licence.read_bytes()

    row.locator("summary").click()
    row.locator("input[name=reason]").fill("licence withdrawn by the authority")
    row.locator("input[name=since]").fill("2026-11-01T09:00")
    row.locator("button.danger").click()
    page.wait_for_url("**/console/operator/actors?done=blacklist*")
    status = page.inner_text(f"tr[data-actor='{subject}'] td.status")
    assert "licence withdrawn by the authority" in status and "2026-11-01T09:00:00.000Z" in status
    _shot(page, f"blacklisted-{lang}")
    page.set_viewport_size(TABLET)
    _shot(page, f"actors-tablet-{lang}", TABLET["width"])
    assert page.foreign == []


def test_a_brand_admin_is_refused(browser: Any, demo: dict[str, Any]) -> None:
    page = _signed_in(browser, demo, "en", "acme-admin")
    assert "/console/operator/actors" not in page.content()
    answer = page.goto(f"{demo['base']}/console/operator/actors")
    assert answer is not None and answer.status == 403
    _shot(page, "refused-brand-en")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_pending_key_recovery_is_shown(
    browser: Any, demo: dict[str, Any], recovery: dict[str, str], lang: str
) -> None:
    page = _signed_in(browser, demo, lang)
    page.click("a[href='/console/operator/actors']")
    # is_visible does not wait: without this it can look at the page the click left
    page.wait_for_url(f"{demo['base']}/console/operator/actors")
    title = {"en": "Pending key recoveries", "zh-CN": "待生效的密钥恢复"}[lang]
    assert page.locator("h2", has_text=title).is_visible()
    row = page.locator(f"tr[data-recovery='{recovery['key_id']}']")
    text = row.inner_text()
    assert "acme" in text and recovery["effective"] in text
    assert f"provenance actor cancel-recovery acme --key-id={recovery['key_id']}" in text
    hint = {"en": "acme signs the cancellation", "zh-CN": "由 acme 使用其自有的完整密钥"}[lang]
    assert hint in text
    row.scroll_into_view_if_needed()
    _shot(page, f"recoveries-{lang}")
    page.set_viewport_size(TABLET)
    assert recovery["key_id"] in row.inner_text()
    _shot(page, f"recoveries-tablet-{lang}", TABLET["width"])
    assert page.foreign == []
