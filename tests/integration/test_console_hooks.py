"""The console's webhooks, partner revoke and "where bought" (docs/CONSOLE.md).

- Webhooks deliver to a real HTTP receiver on 127.0.0.1 (allowed by the operator's
  setting, as an internal receiver would be) that checks each scheme's signature: the
  generic HMAC over timestamp and body, DingTalk's signed query, Feishu's signed body,
  WeCom's message; failures are retried with exponential back-off up to `MAX_TRIES`,
  redirects are not followed, a robot's error code is a failure.
- The address policy refuses each non-public class (v4, v6, IPv4-mapped, NAT64, 6to4,
  decimal/octal/hex hosts) and a name with any such address; the request goes to the
  address checked (a name the real DNS does not know is reached through it).
- The console key's ``revoke`` scope: it revokes an authorization, and cannot authorize,
  commission or rotate; without the scope the rules refuse the revoke.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import text

from ledger import entry
from ledger.errors import NotFoundError, ValidationError
from ledger.events import event_from_dict, format_time
from ledger.reqsig import ForbiddenError
from ledger.rules import SCOPE_KINDS
from ledger.rules.errors import KeyOutOfScopeError
from ledger.service import webhook_send
from ledger.service.console import ConsoleService
from ledger.service.webhook_targets import TargetPolicy, TargetRefusedError, check
from ledger.service.webhooks import BACKOFF_BASE, MAX_TRIES, WebhookService
from tests.factories import GTIN, key, public_b64
from tests.integration.signals_world import SignalWorld

LOCAL = TargetPolicy.from_env({"PROVENANCE_WEBHOOK_ALLOW_NETS": "127.0.0.1/32"})
_TABLES = (
    "console_users", "console_sessions", "console_triage", "console_keys",
    "console_webhooks", "console_webhook_seen", "console_deliveries",
)  # fmt: skip


class Receiver:
    """A local HTTP server that records each request and answers as told."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.answer: tuple[int, bytes, dict[str, str]] = (200, b"{}", {})
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.got.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, data, headers = receiver.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    with world.ledger.store.engines.writer.begin() as conn:
        for table in _TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    world.sign(
        1, "actor.register", "operator", subject="ship-co", role="courier", name="Ship Co",
        keys=[public_b64(3)],
    )  # fmt: skip
    world.sign(
        2, "authorize", "acme", partner="ship-co", role="courier", gtins=[], prefixes=["9506000"],
        not_before="2026-01-01T00:00:00Z", not_after="2099-01-01T00:00:00Z",
    )  # fmt: skip
    world.mint("SN-1")
    yield world
    world.ledger.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def login(console: ConsoleService, org: str, user: str, role: str):  # type: ignore[no-untyped-def]
    password = console.staff.add_user(org, user, role)
    return console.staff.login(user, password)[0]


def hooks_of(sw: SignalWorld, console: ConsoleService) -> WebhookService:
    return WebhookService(sw.ledger, console, policy=LOCAL, public_url="https://console.example")


# --- webhooks ---------------------------------------------------------------------------


def test_a_report_is_delivered_signed_and_a_new_webhook_gets_only_new_alerts(
    sw: SignalWorld, receiver: Receiver
) -> None:
    console = ConsoleService(sw.ledger)
    admin = login(console, "acme", "acme-admin", "admin")
    hooks = hooks_of(sw, console)
    early = sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", client="c0")
    hook_id, secret = hooks.add(admin, "generic", receiver.url(), None)
    assert secret is not None and secret.startswith("whsec_")
    assert hooks.tick() == {"queued": 0, "delivered": 0, "failed": 0}  # the early report: old
    filed = sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", text="private", client="c1")
    assert hooks.tick() == {"queued": 1, "delivered": 1, "failed": 0}
    [got] = receiver.got
    stamp, body = got["headers"]["X-Provenance-Timestamp"], got["body"]
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert got["headers"]["X-Provenance-Signature"] == "v1=" + expected
    assert abs(int(stamp) - time.time()) < 300  # inside the receiver's replay window
    message = json.loads(body)
    assert message["event"] == "report.created" and message["alert"] == f"report:{filed['id']}"
    assert message["console"] == f"https://console.example/console/reports/{filed['id']}"
    assert got["headers"]["X-Provenance-Delivery"] == message["delivery"]
    assert "private" not in body.decode()  # the buyer's text stays on the server
    assert f"report:{early['id']}" not in body.decode()
    # a tampered body or another secret does not verify
    forged = hmac.new(b"whsec_other", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert "v1=" + forged != got["headers"]["X-Provenance-Signature"]
    assert hooks.tick()["queued"] == 0  # delivered once
    [row] = hooks.deliveries(admin)
    assert (row["status"], row["tries"], row["last_status"]) == ("delivered", 1, 200)
    # the secret and the URL are stored sealed; the page shows neither
    with sw.ledger.store.engines.writer.connect() as conn:
        sealed = conn.execute(text("SELECT sealed FROM console_webhooks")).scalar_one()
    assert secret.encode() not in bytes(sealed) and b"127.0.0.1" not in bytes(sealed)
    assert all("sealed" not in h and secret not in json.dumps(h) for h in hooks.hooks(admin))
    hooks.delete(admin, hook_id)
    assert hooks.hooks(admin) == []


def test_failures_are_retried_with_exponential_back_off_then_given_up(
    sw: SignalWorld, receiver: Receiver
) -> None:
    console = ConsoleService(sw.ledger)
    admin = login(console, "acme", "acme-admin", "admin")
    hooks = hooks_of(sw, console)
    hooks.add(admin, "generic", receiver.url(), None)
    receiver.answer = (500, b"down", {})
    sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", client="c1")
    assert hooks.tick()["queued"] == 1
    waits = []
    for tries in range(1, MAX_TRIES + 1):
        [row] = hooks.deliveries(admin)
        assert row["tries"] == tries and "HTTP 500" in row["last_error"]
        if tries == MAX_TRIES:
            assert row["status"] == "failed"
            break
        assert row["status"] == "pending"
        wait = BACKOFF_BASE * 2 ** (tries - 1)
        waits.append(wait)
        sw.clock.advance(seconds=wait - 1)
        assert hooks.tick()["delivered"] == 0 and len(receiver.got) == tries  # not yet due
        sw.clock.advance(seconds=1)
        hooks.tick()
    assert waits[:3] == [30, 60, 120] and len(receiver.got) == MAX_TRIES
    receiver.answer = (302, b"", {"Location": receiver.url("/elsewhere")})
    sw.ledger.reports.report(GTIN, "SN-1", "damaged", client="c2")
    hooks.tick()
    assert hooks.deliveries(admin)[0]["last_error"] == "a redirect, not followed"
    assert all(g["path"] == "/hook" for g in receiver.got)


def test_robot_schemes_are_signed_as_their_vendors_document(
    sw: SignalWorld, receiver: Receiver
) -> None:
    console = ConsoleService(sw.ledger)
    admin = login(console, "acme", "acme-admin", "admin")
    hooks = hooks_of(sw, console)
    hooks.add(admin, "dingtalk", receiver.url("/robot/send?access_token=tok"), "SECding")
    hooks.add(admin, "feishu", receiver.url("/open-apis/bot/v2/hook/abcdefghijkl"), "fsecret")
    hooks.add(admin, "wecom", receiver.url("/cgi-bin/webhook/send?key=wkey"), "ignored")
    receiver.answer = (200, b'{"errcode":0,"errmsg":"ok","code":0}', {})
    sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", client="c1")
    assert hooks.tick() == {"queued": 3, "delivered": 3, "failed": 0}
    by_path = {urlsplit(g["path"]).path: g for g in receiver.got}
    ding = by_path["/robot/send"]
    query = parse_qs(urlsplit(ding["path"]).query)
    stamp = query["timestamp"][0]
    assert abs(int(stamp) / 1000 - time.time()) < 60  # milliseconds
    mac = hmac.new(b"SECding", f"{stamp}\nSECding".encode(), hashlib.sha256).digest()
    assert unquote(query["sign"][0]) == base64.b64encode(mac).decode()
    assert query["access_token"] == ["tok"]
    assert json.loads(ding["body"])["msgtype"] == "text"
    feishu = json.loads(by_path["/open-apis/bot/v2/hook/abcdefghijkl"]["body"])
    key_text = f"{feishu['timestamp']}\nfsecret".encode()
    assert (
        feishu["sign"]
        == base64.b64encode(hmac.new(key_text, b"", hashlib.sha256).digest()).decode()
    )
    assert feishu["msg_type"] == "text" and "SN-1" in feishu["content"]["text"]
    wecom = json.loads(by_path["/cgi-bin/webhook/send"]["body"])
    assert wecom["msgtype"] == "text" and "克隆信号" not in wecom["text"]["content"]
    assert "消费者举报" in wecom["text"]["content"]
    assert [h["display"] for h in hooks.hooks(admin)][1].endswith("/hook/abcd…")
    # a robot's error code in a 200 answer is a failure, said in the log
    receiver.answer = (200, b'{"errcode":310000,"errmsg":"sign not match"}', {})
    sw.ledger.reports.report(GTIN, "SN-1", "damaged", client="c2")
    assert hooks.tick()["delivered"] == 0
    assert "310000" in hooks.deliveries(admin)[0]["last_error"]


def test_only_a_brand_admin_manages_webhooks_and_bad_input_changes_nothing(
    sw: SignalWorld, receiver: Receiver
) -> None:
    console = ConsoleService(sw.ledger)
    analyst = login(console, "acme", "acme-analyst", "analyst")
    admin = login(console, "acme", "acme-admin", "admin")
    hooks = hooks_of(sw, console)
    with pytest.raises(ForbiddenError):
        hooks.add(analyst, "generic", receiver.url(), None)
    with pytest.raises(ForbiddenError):
        hooks.hooks(analyst)
    with pytest.raises(ValidationError):
        hooks.add(admin, "slack", receiver.url(), None)
    with pytest.raises(ValidationError):
        hooks.add(admin, "feishu", receiver.url(), "x" * 201)
    with pytest.raises(TargetRefusedError):  # plain http outside the allowed networks
        WebhookService(sw.ledger, console, policy=TargetPolicy()).add(
            admin, "generic", "http://93.184.216.34/", None
        )
    with pytest.raises(NotFoundError):
        hooks.delete(admin, 999)
    assert hooks.hooks(admin) == []
    sw.sign(
        1, "actor.register", "operator", subject="rival", role="brand", name="Rival",
        keys=[public_b64(8)], prefixes=["9506001"],
    )  # fmt: skip
    rival = login(console, "rival", "rival-admin", "admin")
    hook_id, _ = hooks.add(admin, "generic", receiver.url(), None)
    with pytest.raises(NotFoundError):  # another brand's webhook is not found
        hooks.delete(rival, hook_id)
    assert hooks.hooks(rival) == [] and [h["id"] for h in hooks.hooks(admin)] == [hook_id]
    sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", client="c1")
    hooks.tick()
    assert hooks.deliveries(rival) == [] and len(hooks.deliveries(admin)) == 1


# --- the address policy -----------------------------------------------------------------

REFUSED = [
    "127.0.0.1", "127.8.9.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0",  # noqa: S104 - refused, not bound
    "224.0.0.251", "239.1.1.1", "240.0.0.1", "255.255.255.255",
    "192.0.2.1", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::",
    "2001:db8::1", "::127.0.0.1",
]  # fmt: skip
NUMERIC_HOSTS = ["2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "017700000001", "10.1"]


@pytest.mark.parametrize("address", REFUSED)
def test_each_non_public_address_is_refused_as_literal_and_as_a_resolved_name(
    address: str,
) -> None:
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(TargetRefusedError):
        check(f"https://{literal}/hook", TargetPolicy())
    with pytest.raises(TargetRefusedError):
        check("https://hooks.example/x", TargetPolicy(), lambda _h, _p: [address])
    with pytest.raises(TargetRefusedError):  # one bad address among good ones is enough
        check("https://hooks.example/x", TargetPolicy(), lambda _h, _p: ["8.8.8.8", address])


@pytest.mark.parametrize("host", NUMERIC_HOSTS)
def test_decimal_octal_and_hex_hosts_are_read_as_the_resolver_reads_them(host: str) -> None:
    with pytest.raises(TargetRefusedError):
        check(f"https://{host}/hook", TargetPolicy())


@pytest.mark.parametrize(
    "url",
    ["ftp://8.8.8.8/", "https://user:pw@8.8.8.8/", "https:///x", "https://8.8.8.8:99999/",
     "https://8.8.8.8/a b", "file:///etc/passwd", "https://8.8.8.8/" + "a" * 2001],
)  # fmt: skip
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetRefusedError):
        check(url, TargetPolicy())


def test_public_addresses_pass_and_the_operator_can_allow_a_network() -> None:
    assert str(check("https://8.8.8.8/h", TargetPolicy()).address) == "8.8.8.8"
    found = check("https://hooks.example/h?a=1", TargetPolicy(), lambda _h, _p: ["2606:4700::1"])
    assert (str(found.address), found.path, found.port) == ("2606:4700::1", "/h?a=1", 443)
    allowed = TargetPolicy.from_env({"PROVENANCE_WEBHOOK_ALLOW_NETS": "10.20.0.0/16, ::1/128"})
    assert str(check("http://10.20.3.4:8080/h", allowed).address) == "10.20.3.4"
    assert str(check("http://[::1]/h", allowed).address) == "::1"
    with pytest.raises(TargetRefusedError):
        check("http://10.21.0.1/h", allowed)
    with pytest.raises(ValidationError):
        TargetPolicy.from_env({"PROVENANCE_WEBHOOK_ALLOW_NETS": "not-a-net"})


def test_the_request_goes_to_the_address_checked_not_a_second_lookup(
    receiver: Receiver,
) -> None:
    """``hooks.invalid`` resolves nowhere in real DNS: the request reaches the receiver
    only through the address the check resolved it to, with the name as ``Host``."""
    target = check(
        f"http://hooks.invalid:{receiver.port}/pinned", LOCAL, lambda _h, _p: ["127.0.0.1"]
    )
    outcome = webhook_send.post(target, "generic", target.path, {"X-T": "1"}, b"{}")
    assert outcome.ok, outcome
    [got] = receiver.got
    assert got["path"] == "/pinned" and got["headers"]["Host"] == f"hooks.invalid:{receiver.port}"


def test_a_slow_receiver_times_out_and_a_huge_answer_is_cut(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = check(receiver.url(), LOCAL)
    receiver.answer = (200, b"x" * (webhook_send.MAX_RESPONSE * 4), {})
    assert webhook_send.post(target, "generic", target.path, {}, b"{}").ok
    monkeypatch.setattr(webhook_send, "TIMEOUT", 0.3)
    silent = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # never answers
    try:
        port = silent.server_address[1]
        stuck = check(f"http://127.0.0.1:{port}/", LOCAL)
        started = time.monotonic()
        outcome = webhook_send.post(stuck, "generic", "/", {}, b"{}")
        assert not outcome.ok and "Timeout" in (outcome.error or "")
        assert time.monotonic() - started < 3
    finally:
        silent.server_close()


# --- the console key's revoke scope ------------------------------------------------------


def test_revoke_scope_is_authorization_revoke_alone() -> None:
    assert SCOPE_KINDS["revoke"] == frozenset({"authorization.revoke"})


def test_the_console_key_with_revoke_scope_revokes_but_cannot_grant_mint_or_rotate(
    sw: SignalWorld,
) -> None:
    console = ConsoleService(sw.ledger)
    admin = login(console, "acme", "acme-admin", "admin")
    analyst = login(console, "acme", "acme-analyst", "analyst")
    [auth] = console.partners(admin)
    key_id = console.keys.delegate_key("acme", key(2), revoke=True)
    assert {"key_id": key_id, "scope": ["flag", "recall", "revoke"], "console": True} in (
        console.keys.key_scopes("acme")
    )
    size = sw.ledger.head().size
    with pytest.raises(ForbiddenError):
        console.revoke_authorization(analyst, auth["id"], "no")
    with pytest.raises(NotFoundError):
        console.revoke_authorization(admin, "A" * 43, "no such")
    assert sw.ledger.head().size == size
    index = console.revoke_authorization(admin, auth["id"], "contract ended")
    signed = entry.Leaf.from_bytes(sw.ledger.entry(index).leaf).signed
    assert (signed.event.kind, signed.key) == ("authorization.revoke", key_id)
    [after] = console.partners(admin)
    assert (after["state"], after["by_console"], after["brand_name"]) == ("revoked", True, "Acme")
    signer = console.keys.signer("acme")
    size = sw.ledger.head().size
    for kind, fields in [
        ("authorize", {"partner": "ship-co", "role": "courier", "gtins": [GTIN], "prefixes": [],
                       "not_before": "2026-01-01T00:00:00Z", "not_after": "2099-01-01T00:00:00Z"}),
        ("commission", {"unit": {"gtin": GTIN, "serial": "FAKE-1"}, "prev": None}),
        ("key.rotate", {"subject": "acme", "add": [public_b64(9)], "remove": []}),
    ]:  # fmt: skip
        event = event_from_dict(
            {"kind": kind, "actor": "acme", "time": format_time(sw.clock.now), **fields}
        )
        with pytest.raises(KeyOutOfScopeError):
            sw.ledger.append(entry.sign_event(event, signer, log=sw.ledger.origin))
    assert sw.ledger.head().size == size


def test_without_the_revoke_scope_the_rules_refuse_the_console_keys_revoke(
    sw: SignalWorld,
) -> None:
    console = ConsoleService(sw.ledger)
    admin = login(console, "acme", "acme-admin", "admin")
    console.keys.delegate_key("acme", key(2))  # flag and recall only
    [auth] = console.partners(admin)
    size = sw.ledger.head().size
    with pytest.raises(KeyOutOfScopeError):
        console.revoke_authorization(admin, auth["id"], "contract ended")
    assert sw.ledger.head().size == size and console.partners(admin)[0]["state"] == "active"


# --- where bought -----------------------------------------------------------------------


def test_where_bought_is_stored_capped_and_refuses_bidi_controls(sw: SignalWorld) -> None:
    console = ConsoleService(sw.ledger)
    admin = login(console, "acme", "acme-admin", "admin")
    filed = sw.ledger.reports.report(
        GTIN, "SN-1", "counterfeit", where="  https://shop.example/item/42  ", client="c1"
    )
    assert console.report(admin, int(filed["id"]))["report"]["where_bought"] == (
        "https://shop.example/item/42"
    )
    before = len(sw.ledger.reports.alerts("acme")["reports"])
    for bad in ["shop\u202egnp.exe", "a\u2066b", "line\nbreak", "zero\u200bwidth", "x" * 301]:
        with pytest.raises(ValidationError) as refused:
            sw.ledger.reports.report(GTIN, "SN-1", "counterfeit", where=bad, client="c2")
        assert refused.value.field == "where"
    assert len(sw.ledger.reports.alerts("acme")["reports"]) == before
    assert sw.ledger.reports.alerts("acme")["reports"][0]["where"] == "https://shop.example/item/42"
