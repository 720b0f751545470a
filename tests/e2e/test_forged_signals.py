"""Labels bound to their unit, and signals that need evidence, attacked over HTTP (issue 17).

Each attack is mounted against the app in process (``httpx.ASGITransport``: each client
connects from the address it names, as a socket peer would, so documentation and IPv6
networks can play the clients), served from the same environment as the real server, on
SQLite and PostgreSQL, and configured as an operator behind a CDN would be:
``PROVENANCE_TRUSTED_PROXIES`` names the proxy (10.9.9.9) and
``PROVENANCE_PLACE_HEADER=CF-IPCountry`` its geolocation header. The signal attacks are
mounted against the real server too, from loopback addresses
(tests/e2e/test_forged_signals_live.py).

Labels: a plain link without ``s`` is not ``genuine``; a wrong lot or expiry is refused;
parameters the label did not sign change nothing; a lot outside set 82 has its own error.
Signals: a typed ``place=`` never fires travel, nor does a geolocation header from anyone
but the proxy; rotating ``X-Forwarded-For``, owner cookies or addresses of one network
invents no scanners; one anonymous report is a note. And the positive cases: the proxy's
header does fire travel, eleven real networks do fire many-scanners, and independent reporters from three
networks over two days do turn a unit amber.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import httpx
import pytest

from api.context import owner_cookie
from ledger import claimcode, label
from ledger.gs1 import UnitId
from tests.e2e.conftest import DATABASES
from tests.e2e.server import InProcessServer, Served, start_in_process
from tests.e2e.test_signals_api import _append, codes, mint
from tests.factories import GTIN, key

PROBLEM = "urn:provenance-ledger:problem:"
JSON = {"Accept": "application/json"}
PROXY = "10.9.9.9"
GEO = "CF-IPCountry"
ENV = {"PROVENANCE_TRUSTED_PROXIES": f"{PROXY}/32", "PROVENANCE_PLACE_HEADER": GEO}
#: what WeChat appends to a shared link, and a campaign's tags
WECHAT = {"from": "singlemessage", "isappinstalled": "0", "utm_source": "wechat"}


@pytest.fixture(scope="module", params=DATABASES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """The seeded app behind a trusted proxy with a geolocation header."""
    tmp = tmp_path_factory.mktemp("forged")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/ledger.db"
    else:
        url = str(request.getfixturevalue("pg_url"))
    served = start_in_process(url, tmp, extra_env=ENV)
    yield served
    served.stop()


def signature(serial: str) -> str:
    """acme's (seed 2) label signature on ``serial``."""
    return label.sign_label(UnitId(gtin=GTIN, serial=serial), key(2))


def mint_with(server: Served, serial: str, lot: str, expiry: str) -> None:
    """Commission ``serial`` with a lot and an expiry."""
    code = claimcode.new_claim_code()
    salt, digest = claimcode.claim_commitment(code, claimcode.new_salt())
    unit = {"gtin": GTIN, "serial": serial}
    world = server.world.world
    _append(server, world.sign("commission", "acme", unit=unit, prev=None, lot=lot,
                               expiry=expiry, claim={"salt": salt, "hash": digest}))  # fmt: skip


def scan(
    server: Served,
    path: str,
    params: dict[str, str] | None = None,
    *,
    address: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> httpx.Response:
    """One resolver hit from ``address`` (the connection's peer): the page, which is
    counted as a check, then its JSON, which is not."""
    with server.client(address, cookies=cookies) as client:
        client.get(path, params=params, headers={**(headers or {}), "Accept": "text/html"})
        return client.get(path, params=params, headers={**JSON, **(headers or {})})


def view(server: Served, serial: str, **kw: Any) -> Any:
    """Scan ``serial``'s signed label; the unit view."""
    params = {"s": signature(serial), **kw.pop("params", {})}
    response = scan(server, f"/01/{GTIN}/21/{serial}", params, **kw)
    assert response.status_code == 200, response.text
    return response.json()


# --- labels bound to the unit ---------------------------------------------------------------


def test_a_plain_link_without_s_is_not_genuine(server: InProcessServer) -> None:
    mint(server, "FORGE-PLAIN")
    plain = scan(server, f"/01/{GTIN}/21/FORGE-PLAIN").json()
    assert plain["verdict"] == "caution" and codes(plain) == ["label-unsigned"]
    assert plain["unit"]["label"] == "unsigned"
    words = plain["reasons"][0]["text"]
    assert words["en"]["title"] == "Label not signed" and words["zh-CN"]["title"]
    page = server.get(f"/01/{GTIN}/21/FORGE-PLAIN", headers={"Accept": "text/html"})
    assert "Caution" in page.text and "Label not signed" in page.text
    signed = view(server, "FORGE-PLAIN")  # the label the brand printed
    assert signed["verdict"] == "genuine" and signed["unit"]["label"] == "valid"
    # an API query about the unit shows no label at all: no label reason
    api = server.get(f"/v1/units/{GTIN}/FORGE-PLAIN").json()
    assert api["verdict"] == "genuine" and api["unit"]["label"] == "absent"


def test_a_wrong_lot_or_expiry_is_refused_the_right_ones_pass(server: InProcessServer) -> None:
    mint_with(server, "FORGE-LOT", lot="L2026-11", expiry="281130")
    right = scan(server, f"/01/{GTIN}/10/L2026-11/21/FORGE-LOT",
                 {"17": "281130", "s": signature("FORGE-LOT")}).json()  # fmt: skip
    assert right["verdict"] == "genuine", right["reasons"]
    wrong_lot = scan(server, f"/01/{GTIN}/10/L2025-01/21/FORGE-LOT",
                     {"s": signature("FORGE-LOT")}).json()  # fmt: skip
    assert wrong_lot["verdict"] == "invalid" and codes(wrong_lot) == ["label-mismatch"]
    assert wrong_lot["reasons"][0]["evidence"] == {
        "field": "lot",
        "label": "L2025-01",
        "unit": "L2026-11",
    }
    assert wrong_lot["unit"]["label"] == "mismatch"
    wrong_expiry = scan(server, f"/01/{GTIN}/21/FORGE-LOT",
                        {"17": "301231", "s": signature("FORGE-LOT")}).json()  # fmt: skip
    assert wrong_expiry["verdict"] == "invalid" and codes(wrong_expiry) == ["label-mismatch"]
    assert wrong_expiry["reasons"][0]["evidence"]["field"] == "expiry"
    # a lot on a unit commissioned without one: the label was not printed for it
    mint(server, "FORGE-NOLOT")
    invented = scan(server, f"/01/{GTIN}/10/L1/21/FORGE-NOLOT",
                    {"s": signature("FORGE-NOLOT")}).json()  # fmt: skip
    assert invented["verdict"] == "invalid" and codes(invented) == ["label-mismatch"]
    page = server.get(f"/01/{GTIN}/10/L1/21/FORGE-NOLOT",
                      params={"s": signature("FORGE-NOLOT"), "lang": "zh-CN"},
                      headers={"Accept": "text/html"})  # fmt: skip
    assert "标签与该商品不符" in page.text


def test_wechat_and_campaign_parameters_change_nothing(server: InProcessServer) -> None:
    mint(server, "FORGE-WECHAT")
    plain = view(server, "FORGE-WECHAT")
    shared = view(server, "FORGE-WECHAT", params=WECHAT)
    assert shared["verdict"] == plain["verdict"] == "genuine"
    assert codes(shared) == codes(plain) == ["verified"]
    assert shared["unit"]["label"] == "valid"
    # nor do they rescue an unsigned link
    unsigned = scan(server, f"/01/{GTIN}/21/FORGE-WECHAT", WECHAT).json()
    assert codes(unsigned) == ["label-unsigned"]
    page = server.get(f"/01/{GTIN}/21/FORGE-WECHAT",
                      params={"s": signature("FORGE-WECHAT"), **WECHAT},
                      headers={"Accept": "text/html"})  # fmt: skip
    assert page.status_code == 200 and "Genuine" in page.text
    twice = scan(server, f"/01/{GTIN}/21/FORGE-WECHAT?s={signature('FORGE-WECHAT')}&s=x")
    assert twice.status_code == 422 and twice.json()["type"] == PROBLEM + "gs1"


@pytest.mark.parametrize("lot", ["L%0A1", "%E4%B8%AD", "L%231", "L" * 21])
def test_a_lot_outside_set_82_has_its_own_error(server: InProcessServer, lot: str) -> None:
    answer = scan(server, f"/01/{GTIN}/10/{lot}/21/SN-0001", {"s": signature("SN-0001")})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == PROBLEM + "bad-lot"


# --- signals that need evidence ---------------------------------------------------------------


def test_a_typed_place_is_a_hint_and_never_fires_travel(server: InProcessServer) -> None:
    mint(server, "FORGE-PLACE")
    view(server, "FORGE-PLACE", params={"place": "CN"})
    travelled = view(server, "FORGE-PLACE", params={"place": "US"})
    assert travelled["verdict"] == "genuine" and codes(travelled) == ["verified"]
    assert travelled["scans"]["first"]["place"] == "CN"
    assert travelled["scans"]["first"]["place_source"] == "hint"
    page = server.get(f"/01/{GTIN}/21/FORGE-PLACE", params={"s": signature("FORGE-PLACE")},
                      headers={"Accept": "text/html"})  # fmt: skip
    assert "China (the scanner&#39;s own word, not verified)" in page.text


def test_a_geolocation_header_from_a_stranger_is_ignored(server: InProcessServer) -> None:
    mint(server, "FORGE-GEO")
    view(server, "FORGE-GEO", address="203.0.113.5", headers={GEO: "CN"})
    moved = view(server, "FORGE-GEO", address="203.0.113.5", headers={GEO: "US"})
    assert moved["verdict"] == "genuine" and codes(moved) == ["verified"]
    assert moved["scans"]["first"]["place"] is None  # not even kept as a hint


def test_the_trusted_proxys_header_does_fire_travel(server: InProcessServer) -> None:
    mint(server, "FORGE-TRAVEL")
    view(server, "FORGE-TRAVEL", address=PROXY,
         headers={GEO: "CN", "X-Forwarded-For": "198.51.100.7"})  # fmt: skip
    moved = view(server, "FORGE-TRAVEL", address=PROXY,
                 headers={GEO: "US", "X-Forwarded-For": "192.0.2.44"})  # fmt: skip
    assert moved["verdict"] == "caution" and codes(moved) == ["impossible-travel"]
    evidence = moved["reasons"][0]["evidence"]
    assert evidence["from"] == {"at": evidence["from"]["at"], "place": "CN", "source": "header"}
    assert evidence["to"]["place"] == "US" and evidence["to"]["source"] == "header"
    assert evidence["scans"] == 2 and evidence["clients"] == 2 and evidence["km"] > 10_000


def test_rotating_x_forwarded_for_invents_no_scanners(server: InProcessServer) -> None:
    mint(server, "FORGE-XFF")
    for i in range(11):  # from an untrusted peer, the header is the client's own word
        seen = view(server, "FORGE-XFF", address="203.0.113.9",
                    headers={"X-Forwarded-For": f"198.51.100.{i}"})  # fmt: skip
    assert seen["verdict"] == "genuine" and codes(seen) == ["verified"]


def test_rotating_owner_cookies_invents_no_scanners(server: InProcessServer) -> None:
    mint(server, "FORGE-COOKIE")
    name = owner_cookie(GTIN, "FORGE-COOKIE")
    for _ in range(11):
        seen = view(server, "FORGE-COOKIE", address="203.0.113.10",
                    cookies={name: secrets.token_urlsafe(16)})  # fmt: skip
    assert seen["verdict"] == "genuine" and codes(seen) == ["verified"]
    assert not seen["owner"]


@pytest.mark.parametrize(
    "addresses",
    [
        [f"2001:db8:7:{i:x}::{i + 1:x}" for i in range(12)],  # one IPv6 /48, twelve /64s
        [f"203.0.113.{100 + i}" for i in range(12)],  # one IPv4 /24
    ],
)
def test_addresses_drawn_from_one_network_are_one_scanner(
    server: InProcessServer, addresses: list[str]
) -> None:
    serial = f"FORGE-NET-{addresses[0][:4].strip(':.')}"
    mint(server, serial)
    for address in addresses:
        seen = view(server, serial, address=address)
    assert seen["verdict"] == "genuine" and codes(seen) == ["verified"]


def test_eleven_real_networks_do_fire_many_scanners(server: InProcessServer) -> None:
    mint(server, "FORGE-MANY")
    for i in range(11):
        seen = view(server, "FORGE-MANY", address=f"198.18.{i}.1")
    assert seen["verdict"] == "caution" and codes(seen) == ["many-scanners"]
    evidence = seen["reasons"][0]["evidence"]
    assert (evidence["scanners"], evidence["clients"], evidence["networks"]) == (11, 11, 11)
    assert evidence["scans"] == 11 and evidence["limit"] == 10
    assert evidence["from"] <= evidence["to"]


# --- reports ---------------------------------------------------------------------------------


def report(server: Served, serial: str, address: str) -> None:
    with server.client(address) as client:
        sent = client.post("/v1/reports", json={"gtin": GTIN, "serial": serial,
                                                "reason": "counterfeit"})  # fmt: skip
    assert sent.status_code == 201, sent.text


def yesterday() -> Any:
    """A stand-in for ``datetime`` in ledger.service.ledger whose now() is a day ago."""

    class Yesterday(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz or UTC) - timedelta(days=1)

    return mock.patch("ledger.service.ledger.datetime", Yesterday)


def test_one_anonymous_report_is_a_note_not_a_caution(server: InProcessServer) -> None:
    mint(server, "FORGE-REPORT")
    report(server, "FORGE-REPORT", "203.0.113.20")
    seen = view(server, "FORGE-REPORT")
    assert seen["verdict"] == "genuine"
    assert codes(seen) == ["report-under-review", "verified"]
    note = seen["reasons"][0]
    assert note["evidence"]["open"] == 1 and note["evidence"]["networks"] == 1
    assert note["text"]["zh-CN"]["title"] == "有举报正在核查中"
    page = server.get(f"/01/{GTIN}/21/FORGE-REPORT", params={"s": signature("FORGE-REPORT")},
                      headers={"Accept": "text/html"})  # fmt: skip
    assert "Genuine" in page.text and "A report is under review" in page.text


def test_a_flood_from_one_network_over_two_days_stays_a_note(server: InProcessServer) -> None:
    mint(server, "FORGE-FLOOD")
    with yesterday():
        report(server, "FORGE-FLOOD", "203.0.113.30")
    for host in range(31, 40):  # nine more clients, one /24
        report(server, "FORGE-FLOOD", f"203.0.113.{host}")
    seen = view(server, "FORGE-FLOOD")
    assert seen["verdict"] == "genuine" and codes(seen)[0] == "report-under-review"
    evidence = seen["reasons"][0]["evidence"]
    assert (evidence["open"], evidence["clients"], evidence["networks"]) == (10, 10, 1)
    assert evidence["days"] == 2


def test_independent_reporters_over_two_days_do_flag(server: InProcessServer) -> None:
    mint(server, "FORGE-AGREE")
    with yesterday():
        report(server, "FORGE-AGREE", "198.51.100.40")
    report(server, "FORGE-AGREE", "192.0.2.40")
    seen = view(server, "FORGE-AGREE")  # two networks: not yet
    assert seen["verdict"] == "genuine" and codes(seen)[0] == "report-under-review"
    report(server, "FORGE-AGREE", "2001:db8:40::1")  # a third network (IPv6 /48)
    seen = view(server, "FORGE-AGREE")
    assert seen["verdict"] == "caution" and codes(seen) == ["reported"]
    evidence = seen["reasons"][0]["evidence"]
    assert (evidence["networks"], evidence["days"], evidence["min_reporters"]) == (3, 2, 3)
    assert evidence["first"] < evidence["last"]


def test_reports_on_one_day_from_three_networks_wait_for_a_second_day(
    server: InProcessServer,
) -> None:
    mint(server, "FORGE-ONEDAY")
    for address in ("198.51.100.50", "192.0.2.50", "203.0.113.50"):
        report(server, "FORGE-ONEDAY", address)
    seen = view(server, "FORGE-ONEDAY")
    assert seen["verdict"] == "genuine" and codes(seen)[0] == "report-under-review"
    assert seen["reasons"][0]["evidence"]["networks"] == 3
