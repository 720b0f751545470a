"""Signals that strangers cannot fake, mounted against the real server (issue 17).

The server is uvicorn (``--no-proxy-headers``: the peer is the socket's) on SQLite and
PostgreSQL, configured as an operator behind a CDN would be: ``PROVENANCE_TRUSTED_PROXIES``
names the proxy and ``PROVENANCE_PLACE_HEADER=CF-IPCountry`` its geolocation header. Each
client connects from its own loopback address (the whole of 127.0.0.0/8 answers on
Linux), so the server sees a socket peer per client, as it would on the internet: the
proxy is 127.9.9.9, strangers are other 127.x.y.z, a network is a /24 of them. (IPv6
networks cannot be played over loopback: their /48 case runs in process, in
tests/e2e/test_forged_signals.py, whose helpers these tests share.)

The attacks, each seen to change nothing: the same geolocation header sent by a stranger
(no place, no ``impossible-travel``), eleven random owner cookies from one client, eleven
``X-Forwarded-For`` values from one client, twelve addresses of one network (no
``many-scanners``), and one anonymous report (a note; the verdict stays ``genuine``). The
controls show the signals do fire on this server when the evidence is real: the proxy's
header fires travel, eleven networks fire many-scanners.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from api.context import owner_cookie
from tests.e2e.conftest import DATABASES, _database
from tests.e2e.server import LiveServer, start
from tests.e2e.test_forged_signals import GEO, report, signature, view
from tests.e2e.test_signals_api import codes, mint
from tests.factories import GTIN

PROXY = "127.9.9.9"
STRANGER = "127.0.113.5"
ENV = {"PROVENANCE_TRUSTED_PROXIES": f"{PROXY}/32", "PROVENANCE_PLACE_HEADER": GEO}


@pytest.fixture(scope="module", params=DATABASES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The seeded real server behind a trusted proxy with a geolocation header."""
    tmp = tmp_path_factory.mktemp("forged-live")
    served = start(_database(request, tmp), tmp, extra_env=ENV)
    yield served
    served.stop()


def test_a_strangers_geolocation_header_is_ignored(server: LiveServer) -> None:
    mint(server, "LIVE-GEO")
    view(server, "LIVE-GEO", address=STRANGER, headers={GEO: "CN"})
    moved = view(server, "LIVE-GEO", address=STRANGER, headers={GEO: "US"})
    assert moved["verdict"] == "genuine" and codes(moved) == ["verified"]
    assert moved["scans"]["first"]["place"] is None  # not even kept as a hint


def test_the_same_header_from_the_trusted_proxy_fires_travel(server: LiveServer) -> None:
    mint(server, "LIVE-TRAVEL")
    view(server, "LIVE-TRAVEL", address=PROXY,
         headers={GEO: "CN", "X-Forwarded-For": "198.51.100.7"})  # fmt: skip
    moved = view(server, "LIVE-TRAVEL", address=PROXY,
                 headers={GEO: "US", "X-Forwarded-For": "192.0.2.44"})  # fmt: skip
    assert moved["verdict"] == "caution" and codes(moved) == ["impossible-travel"]
    evidence = moved["reasons"][0]["evidence"]
    assert evidence["from"]["place"] == "CN" and evidence["from"]["source"] == "header"
    assert evidence["to"]["place"] == "US" and evidence["to"]["source"] == "header"
    assert evidence["clients"] == 2


def test_random_owner_cookies_from_one_client_invent_no_scanners(server: LiveServer) -> None:
    mint(server, "LIVE-COOKIE")
    name = owner_cookie(GTIN, "LIVE-COOKIE")
    for _ in range(11):
        seen = view(server, "LIVE-COOKIE", address="127.0.113.10",
                    cookies={name: secrets.token_urlsafe(16)})  # fmt: skip
    assert seen["verdict"] == "genuine" and codes(seen) == ["verified"]
    assert not seen["owner"]


def test_rotating_x_forwarded_for_from_one_client_invents_no_scanners(
    server: LiveServer,
) -> None:
    mint(server, "LIVE-XFF")
    for i in range(11):  # from a peer that is not the proxy, the header is its own word
        seen = view(server, "LIVE-XFF", address="127.0.113.11",
                    headers={"X-Forwarded-For": f"198.51.{i}.1"})  # fmt: skip
    assert seen["verdict"] == "genuine" and codes(seen) == ["verified"]


def test_one_client_spread_over_one_networks_addresses_is_one_scanner(
    server: LiveServer,
) -> None:
    mint(server, "LIVE-NET")
    for host in range(100, 112):  # twelve addresses of 127.0.7.0/24
        seen = view(server, "LIVE-NET", address=f"127.0.7.{host}")
    assert seen["verdict"] == "genuine" and codes(seen) == ["verified"]


def test_eleven_networks_do_fire_many_scanners(server: LiveServer) -> None:
    mint(server, "LIVE-MANY")
    for i in range(11):
        seen = view(server, "LIVE-MANY", address=f"127.18.{i}.1")
    assert seen["verdict"] == "caution" and codes(seen) == ["many-scanners"]
    evidence = seen["reasons"][0]["evidence"]
    assert (evidence["scanners"], evidence["clients"], evidence["networks"]) == (11, 11, 11)


def test_one_anonymous_report_is_a_note_not_a_caution(server: LiveServer) -> None:
    mint(server, "LIVE-REPORT")
    report(server, "LIVE-REPORT", "127.0.113.20")  # gtin, serial, reason: nothing more
    seen = view(server, "LIVE-REPORT")
    assert seen["verdict"] == "genuine"
    assert codes(seen) == ["report-under-review", "verified"]
    assert seen["reasons"][0]["evidence"]["open"] == 1
    page = server.get(f"/01/{GTIN}/21/LIVE-REPORT", params={"s": signature("LIVE-REPORT")},
                      headers={"Accept": "text/html"})  # fmt: skip
    assert "Genuine" in page.text and "A report is under review" in page.text
