"""Whom a request comes from (api.context.client_address): the socket peer, unless the
peer is a trusted proxy; then ``X-Forwarded-For`` read from the right. The attacker sends
the header; the tests check that it is believed only from a trusted peer, and that no
malformed value is ever believed or crashes anything."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from api.context import client_address, is_https
from api.forwarded import MAX_FORWARDED_HOPS, resolve_client
from ledger.errors import ValidationError
from ledger.service.settings import Settings, parse_proxies
from tests.profiles import examples

LOOPBACK = parse_proxies("127.0.0.1/32")
PROXIES = parse_proxies("127.0.0.1/32, 10.0.0.0/8 fd00::/8")


def test_no_trusted_proxies_means_the_peer_whatever_the_header() -> None:
    assert resolve_client("127.0.0.1", ["1.2.3.4"], ()) == "127.0.0.1"
    assert resolve_client("127.0.0.1", ["1.2.3.4, 5.6.7.8"], ()) == "127.0.0.1"


def test_an_untrusted_peer_is_the_client_whatever_the_header() -> None:
    """A stranger connecting directly cannot claim to be someone else."""
    assert resolve_client("203.0.113.9", ["1.2.3.4"], PROXIES) == "203.0.113.9"
    assert resolve_client("203.0.113.9", ["10.0.0.1"], PROXIES) == "203.0.113.9"


def test_a_trusted_peer_forwards_the_nearest_untrusted_hop() -> None:
    assert resolve_client("127.0.0.1", ["198.51.100.7"], LOOPBACK) == "198.51.100.7"
    # the client's own (forged) entries lie to the left of what the proxy appended
    assert resolve_client("127.0.0.1", ["6.6.6.6, 198.51.100.7"], LOOPBACK) == "198.51.100.7"
    # several trusted hops (a CDN edge, then the reverse proxy) are skipped
    assert resolve_client("127.0.0.1", ["6.6.6.6, 198.51.100.7, 10.1.2.3"], PROXIES) == (
        "198.51.100.7"
    )
    # several header lines are one list, in the order received
    assert resolve_client("127.0.0.1", ["6.6.6.6", "198.51.100.7, 10.1.2.3"], PROXIES) == (
        "198.51.100.7"
    )


def test_every_hop_trusted_gives_the_farthest() -> None:
    assert resolve_client("127.0.0.1", ["10.9.9.9, 10.1.1.1"], PROXIES) == "10.9.9.9"


def test_no_header_from_a_trusted_peer_is_the_peer() -> None:
    assert resolve_client("127.0.0.1", [], LOOPBACK) == "127.0.0.1"


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        ",",
        "unknown",
        "garbage",
        "1.2.3.4:5678",
        "[2001:db8::1]",
        "[2001:db8::1]:443",
        "fe80::1%eth0",
        "1.2.3",
        "01.2.3.4",
        "1.2.3.4.5",
        "_hidden",
        "example.com",
        "\uff11.\uff12.\uff13.\uff14",  # full-width digits
        "1.2.3.4\x00",
        "9" * 10_000,
        "for=1.2.3.4",
    ],
)
def test_a_malformed_nearest_hop_is_never_believed(value: str) -> None:
    """The walk stops at the malformed hop: the client is the trusted hop before it."""
    assert resolve_client("127.0.0.1", [value], LOOPBACK) == "127.0.0.1"
    assert resolve_client("127.0.0.1", [f"1.2.3.4, {value}"], LOOPBACK) == "127.0.0.1"
    assert resolve_client("127.0.0.1", [f"1.2.3.4, {value}, 10.0.0.2"], PROXIES) == "10.0.0.2"


def test_a_malformed_hop_beyond_the_client_does_not_matter() -> None:
    assert resolve_client("127.0.0.1", ["garbage, 198.51.100.7"], LOOPBACK) == "198.51.100.7"


def test_a_chain_longer_than_the_limit_stops_at_the_limit() -> None:
    hops = ", ".join(["10.0.0.1"] * (MAX_FORWARDED_HOPS + 50) + ["10.0.0.2"])
    assert resolve_client("127.0.0.1", ["1.2.3.4, " + hops], PROXIES) == "10.0.0.1"


def test_one_host_has_one_identity() -> None:
    """Spellings of one address (IPv4-mapped IPv6, upper-case or uncompressed IPv6) are
    one client, so respelling does not buy a fresh rate-limit bucket."""
    assert resolve_client("127.0.0.1", ["::ffff:198.51.100.7"], LOOPBACK) == "198.51.100.7"
    spellings = ["2001:DB8::1", "2001:db8:0:0:0:0:0:1", "2001:0db8::0001"]
    assert {resolve_client("127.0.0.1", [s], LOOPBACK) for s in spellings} == {"2001:db8::1"}
    # a trusted peer seen as an IPv4-mapped IPv6 address (a dual-stack socket) is trusted
    assert resolve_client("::ffff:127.0.0.1", ["198.51.100.7"], LOOPBACK) == "198.51.100.7"


def test_a_peer_that_is_no_address_is_kept_as_it_is() -> None:
    assert resolve_client("testclient", ["1.2.3.4"], LOOPBACK) == "testclient"


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.text(max_size=80), max_size=5))
def test_any_header_from_an_untrusted_peer_is_ignored(values: list[str]) -> None:
    assert resolve_client("203.0.113.9", values, PROXIES) == "203.0.113.9"


hop = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(["10.0.0.7", "127.0.0.1", "fd00::1", "unknown", "", "1.2.3.4:80"]),
    st.text(max_size=20),
)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(hop, max_size=8))
def test_any_header_from_a_trusted_peer_gives_an_address_never_a_crash(hops: list[str]) -> None:
    """The answer is the peer or a hop, always a valid address, and never a hop that lies
    beyond an untrusted or malformed one."""
    client = resolve_client("127.0.0.1", [", ".join(hops)], PROXIES)
    ipaddress.ip_address(client)
    walked = ["127.0.0.1"]
    for raw in reversed([h.strip() for h in ", ".join(hops).split(",")]):
        if not _in_proxies(walked[-1]):
            break
        try:
            address = ipaddress.ip_address(raw)
        except ValueError:
            break
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        walked.append(str(address))
    assert client in walked


def _in_proxies(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in PROXIES)


def test_settings_read_the_trusted_proxies() -> None:
    assert Settings.from_env({}).trusted_proxies == ()
    assert Settings.from_env({"PROVENANCE_TRUSTED_PROXIES": ""}).trusted_proxies == ()
    read = Settings.from_env({"PROVENANCE_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8 ::1"})
    assert [str(n) for n in read.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


@pytest.mark.parametrize("value", ["10.0.0.1/8", "nonsense", "10.0.0.0/33", "*", "1.2.3.4:80"])
def test_a_bad_trusted_proxy_setting_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValidationError, match="PROVENANCE_TRUSTED_PROXIES"):
        Settings.from_env({"PROVENANCE_TRUSTED_PROXIES": value})


def test_one_place_reads_the_client_address() -> None:
    """Rate limits, claim lockouts, scan client ids and signals all take the client from
    `client_address`: no other module of the faces reads the socket peer or a forwarded
    header itself."""
    root = Path(__file__).resolve().parents[2]
    reads = re.compile(r"\.client\.host|request\.client\b|forwarded-for|x_forwarded", re.I)
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("api", "cli", "qr")
        for path in sorted((root / package).rglob("*.py"))
        # api.forwarded walks the hops it is given and reads no request
        if path not in (root / "api" / "clients.py", root / "api" / "forwarded.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == []
    assert "request" not in (root / "api" / "forwarded.py").read_text()
    context = (root / "api" / "clients.py").read_text()
    assert len(re.findall(r"request\.client\b", context)) == 2  # the one `peer = ...` line


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["serve", "--access-log"]])
def test_serve_refuses_a_bad_setting_in_one_line_before_listening(
    tmp_path: Path, command: list[str]
) -> None:
    from tests.cli_runner import run_cli

    env = {
        **os.environ,
        "PROVENANCE_HOME": str(tmp_path),
        "PROVENANCE_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.1/8",
    }
    env.pop("PROVENANCE_SERVER", None)
    done = run_cli(["--db", f"sqlite:///{tmp_path}/ledger.db", *command], env=env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "PROVENANCE_TRUSTED_PROXIES" in lines[0], done.stderr
    assert "'10.0.0.1/8'" in lines[0]


def _request(
    peer: str | None,
    headers: list[tuple[str, str]],
    proxies: str = "",
    scheme: str = "http",
    public: str = "http://x.example",
) -> Request:
    settings = Settings.from_env(
        {"PROVENANCE_TRUSTED_PROXIES": proxies, "PROVENANCE_PUBLIC_URL": public}
    )
    app = SimpleNamespace(state=SimpleNamespace(ctx=SimpleNamespace(settings=settings)))
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": scheme,
            "path": "/",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
            "client": (peer, 5555) if peer is not None else None,
            "server": ("x.example", 80),
            "app": app,
        }
    )


def test_client_address_reads_the_request() -> None:
    forged = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")]
    assert client_address(_request("127.0.0.1", forged)) == "127.0.0.1"
    assert client_address(_request("127.0.0.1", forged, "127.0.0.1/32")) == "198.51.100.7"
    assert client_address(_request("203.0.113.5", forged, "127.0.0.1/32")) == "203.0.113.5"
    assert client_address(_request(None, forged, "127.0.0.1/32")) == "unknown"


def test_https_only_from_the_socket_or_a_trusted_tls_proxy() -> None:
    """The owner cookie's Secure flag: a stranger's X-Forwarded-Proto is ignored, a
    trusted proxy's is believed."""
    proto = [("X-Forwarded-Proto", "https")]
    assert not is_https(_request("127.0.0.1", proto))
    assert not is_https(_request("203.0.113.5", proto, "127.0.0.1/32"))
    assert is_https(_request("127.0.0.1", proto, "127.0.0.1/32"))
    assert is_https(_request("127.0.0.1", [("X-Forwarded-Proto", "https, http")], "127.0.0.1/32"))
    assert not is_https(_request("127.0.0.1", [("X-Forwarded-Proto", "http")], "127.0.0.1/32"))
    assert not is_https(_request(None, proto, "127.0.0.1/32"))
    assert is_https(_request("203.0.113.5", [], scheme="https"))
    assert is_https(_request("203.0.113.5", [], public="https://shop.example"))
