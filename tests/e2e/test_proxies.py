"""Client identity against a stranger with a script, on a real uvicorn server.

The attack (issue 16): a script on the server's own machine, or anyone uvicorn would
trust by default, rotates ``X-Forwarded-For`` to get a fresh rate-limit bucket (and a
fresh claim-lockout counter and scan client id) on every request. Without
``PROVENANCE_TRUSTED_PROXIES`` the header is never believed; with the proxy configured,
each forwarded client has its own budget and malformed values are never believed. And
the access log never records a client's address.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.hammer.server import ServerProcess, free_port
from ledger import crypto
from ledger.service.config import write_key_file
from tests.e2e.server import LiveServer, seed, start
from tests.factories import GTIN, LOG_SEED, key
from tests.integration.world import config

ROOT = Path(__file__).resolve().parents[2]
UNIT = f"/v1/units/{GTIN}/SN-0001"
BURST = 5
#: one token per 1000 s: within a test, a bucket never refills
SLOW = {"PROVENANCE_RATE": "0.001", "PROVENANCE_BURST": str(BURST)}
#: more than 3 distinct clients scanning a unit in a day fire ``many-scanners``
SCANNERS = {"PROVENANCE_SCANNERS_PER_DAY": "3"}


def _statuses(url: str, forwarded: list[str | None]) -> list[int]:
    with httpx.Client(base_url=url, timeout=30) as client:
        return [
            client.get(UNIT, headers={"X-Forwarded-For": f} if f is not None else {}).status_code
            for f in forwarded
        ]


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with the default: no trusted proxies."""
    tmp = tmp_path_factory.mktemp("untrusting")
    server = start(f"sqlite:///{tmp}/ledger.db", tmp, extra_env=dict(SLOW))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def untrusting_open(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No trusted proxies, generous rate limits: what scans alone count."""
    tmp = tmp_path_factory.mktemp("untrusting-open")
    server = start(f"sqlite:///{tmp}/ledger.db", tmp, extra_env=dict(SCANNERS))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that trusts a reverse proxy on 127.0.0.1 (the test plays the proxy)."""
    tmp = tmp_path_factory.mktemp("proxied")
    env = {**SLOW, **SCANNERS, "PROVENANCE_TRUSTED_PROXIES": "127.0.0.1/32"}
    server = start(f"sqlite:///{tmp}/ledger.db", tmp, extra_env=env)
    yield server
    server.stop()


def test_rotating_x_forwarded_for_without_trusted_proxies_is_still_limited(
    untrusting: LiveServer,
) -> None:
    """The attack: 40 requests from 127.0.0.1, each claiming another client. One bucket."""
    forged = [f"198.51.100.{i}" for i in range(40)]
    statuses = _statuses(untrusting.url, forged)
    assert statuses.count(200) == BURST, statuses
    assert statuses.count(429) == len(forged) - BURST, statuses


def test_behind_a_trusted_proxy_two_forwarded_clients_have_their_own_buckets(
    behind_proxy: LiveServer,
) -> None:
    alice = _statuses(behind_proxy.url, ["203.0.113.1"] * (BURST + 3))
    assert alice == [200] * BURST + [429] * 3
    # the proxy appends the address it saw to whatever the client sent: alice forging a
    # left-hand entry is still alice
    assert _statuses(behind_proxy.url, ["203.0.113.2, 203.0.113.1"]) == [429]
    bob = _statuses(behind_proxy.url, ["203.0.113.9"] * (BURST + 1))
    assert bob == [200] * BURST + [429]


def test_behind_a_trusted_proxy_malformed_values_are_never_believed(
    behind_proxy: LiveServer,
) -> None:
    """Rotating garbage does not rotate buckets: each malformed value falls back to the
    proxy's own address (one bucket), and the server answers, never a 5xx."""
    garbage = [
        b"unknown",
        b"1.2.3.4:80",
        b"[2001:db8::1]",
        b"",
        b"nonsense, ",
        b"999.1.1.1",
        b"x" * 4000,
        b"1.1.1.1,,,",
        b"for=1.2.3.4",
        b"::ffff:",
        b"fe80::1%25lo",
        b"1.2.3.4\t5.6.7.8",
        b"\xff\xfe1.2.3.4",
        b"1.2.3.4, \xc3\xa9",
    ]
    statuses = [_raw_status(behind_proxy.url, b"X-Forwarded-For: " + value) for value in garbage]
    assert all(s < 500 for s in statuses), statuses
    assert statuses.count(200) == BURST, statuses
    assert statuses.count(429) == len(garbage) - BURST, statuses


def _raw_status(url: str, header: bytes) -> int:
    """GET the unit with ``header`` sent byte for byte (httpx refuses some of these)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"GET "
            + UNIT.encode()
            + b" HTTP/1.1\r\nHost: "
            + host.encode()
            + b"\r\n"
            + header
            + b"\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def _scan_reasons(url: str, serial: str, forwarded: list[str]) -> set[str]:
    """Scan ``serial`` once per forwarded client, then the unit's reasons (scans are
    written in batches every 0.5 s: wait for them)."""
    path = f"/01/{GTIN}/21/{serial}"
    with httpx.Client(base_url=url, timeout=30) as client:
        for value in forwarded:
            answer = client.get(path, headers={"X-Forwarded-For": value})
            assert answer.status_code == 200, answer.text
        time.sleep(1.5)
        viewer = {"X-Forwarded-For": "192.0.2.250"}  # a fresh bucket behind the proxy
        view = client.get(f"/v1/units/{GTIN}/{serial}", headers=viewer).json()
    return {reason["code"] for reason in view["reasons"]}


def test_rotating_x_forwarded_for_cannot_make_a_genuine_unit_look_cloned(
    untrusting_open: LiveServer,
) -> None:
    """The attack on the verdict: one script scanning a genuine unit as 12 "clients" to
    fire ``many-scanners``. Without trusted proxies they are one client."""
    reasons = _scan_reasons(untrusting_open.url, "SN-0001", [f"198.51.100.{i}" for i in range(12)])
    assert "many-scanners" not in reasons, reasons
    assert "verified" in reasons


def test_behind_a_trusted_proxy_distinct_forwarded_scanners_count(
    behind_proxy: LiveServer,
) -> None:
    """The good case: four real shoppers behind the proxy, on four networks, are four
    scanners (addresses of one /24 would be one: tests/e2e/test_forged_signals.py)."""
    shoppers = ["203.0.113.21", "198.51.100.22", "192.0.2.23", "198.18.0.24"]
    reasons = _scan_reasons(behind_proxy.url, "SN-0001", shoppers)
    assert "many-scanners" in reasons, reasons


def test_the_suites_and_the_hammers_servers_trust_no_header_and_log_no_access() -> None:
    command = ServerProcess({}, port=1).command()
    assert "--no-proxy-headers" in command and "--no-access-log" in command
    assert not any("forwarded" in part for part in command)


def _serve(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, Path, Path]:
    """``provenance serve`` in a subprocess on a seeded database; its stdout and stderr."""
    name = "proxies-log"
    url = f"sqlite:///{tmp}/ledger.db"
    seed(url, name)
    key_file, log_key_file = tmp / "operator.pem", tmp / "log.pem"
    write_key_file(key_file, crypto.private_key_to_pem(key(1)))  # 0600 from the start
    write_key_file(log_key_file, crypto.private_key_to_pem(key(LOG_SEED)))
    port = free_port()
    env = {
        **os.environ,
        "PROVENANCE_OPERATOR_KEY": str(key_file),
        "PROVENANCE_CHECKPOINT_KEY": str(log_key_file),
        "PROVENANCE_ORIGIN": config(name).origin,
        "PROVENANCE_LOG": name,
        "PROVENANCE_HOME": str(tmp),
    }
    out, err = tmp / "stdout.log", tmp / "stderr.log"
    with out.open("wb") as o, err.open("wb") as e:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "--db", url, "serve", "--port", str(port), *args],
            env=env,
            cwd=ROOT,
            stdout=o,
            stderr=e,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, err.read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    return process, base, out, err


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(20)


_ADDRESS = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")


@pytest.mark.parametrize("access_log", [False, True], ids=["default", "access-log"])
def test_serve_logs_no_client_address(tmp_path: Path, access_log: bool) -> None:
    """``provenance serve``: no access log by default; with ``--access-log``, each request
    is logged by method, path and status, never with the client's (or a forwarded)
    address."""
    process, base, out, err = _serve(tmp_path, *(["--access-log"] if access_log else []))
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for forged in ("198.51.100.77", "2001:db8::77"):
                client.get(UNIT, headers={"X-Forwarded-For": forged})
            client.get(f"/01/{GTIN}/21/SN-0001", headers={"Accept": "application/json"})
    finally:
        _stop(process)
    logged = out.read_text() + err.read_text()
    assert "198.51.100.77" not in logged and "2001:db8::77" not in logged
    requests = [line for line in logged.splitlines() if '"GET ' in line]
    if access_log:
        assert any(UNIT in line for line in requests), logged
    else:
        assert requests == [], logged
    for line in requests:
        assert not _ADDRESS.search(line), line
