"""Cross-log replay (issue 17), mounted against two real servers (uvicorn, loopback TCP).

Two logs of one operator in one database, each served by its own server, both signed
by the same operator key: the case where a signature valid in one log is most tempting
to replay into the other. An event signed for log A (format 2: its message names A's
origin) is refused by log B with 403 ``bad-signature`` and nothing written (B's size
and checkpoint unchanged), and accepted by A. After B's signed ``log.upgrade``, an
event that names no log (format 1) is refused by B with 422 ``format-retired``; signed
for B, the same event is accepted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger import codec, crypto
from ledger.entry import SignedEvent, sign_event
from ledger.events import event_from_dict, format_time
from ledger.service.config import write_key_file
from tests.cli_runner import run_cli
from tests.e2e.conftest import DATABASES, _database
from tests.e2e.server import LiveServer, start
from tests.factories import key, public_b64

PROBLEM = "urn:provenance-ledger:problem:"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=DATABASES)
def two_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Logs A and B in one database, one server each, the same operator key; both still
    take format 1 until their log.upgrade (a new log holds format 2 from genesis, so
    there would be nothing to upgrade)."""
    url = _database(request, tmp_path_factory.mktemp("cross"))
    a = start(url, tmp_path_factory.mktemp("a"), event_format=None)
    try:
        b = start(url, tmp_path_factory.mktemp("b"), event_format=None)
    except BaseException:
        a.stop()
        raise
    yield a, b
    b.stop()
    a.stop()


def _origin(server: LiveServer) -> str:
    return server.get("/v1/checkpoint").text.split("\n", 1)[0]


def _operator(kind: str, log: str | None, **fields: Any) -> SignedEvent:
    data = {"kind": kind, "actor": "operator", "time": format_time(datetime.now(UTC)), **fields}
    return sign_event(event_from_dict(data), key(1), log=log)


def _register(subject: str, seed: int, log: str | None) -> SignedEvent:
    return _operator(
        "actor.register",
        log,
        subject=subject,
        role="retailer",
        name=subject.title(),
        keys=[public_b64(seed)],
    )


def _refused(server: LiveServer, signed: SignedEvent, status: int, code: str) -> None:
    size = server.get("/healthz").json()["size"]
    checkpoint = server.get("/v1/checkpoint").text
    response = server.post("/v1/entries", json=signed.to_dict(), timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == PROBLEM + code
    assert server.get("/healthz").json()["size"] == size
    assert server.get("/v1/checkpoint").text == checkpoint


def _accepted(server: LiveServer, signed: SignedEvent) -> None:
    response = server.post("/v1/entries", json=signed.to_dict(), timeout=30)
    assert response.status_code == 201, response.text


def test_an_event_signed_for_log_a_is_refused_by_log_b_and_taken_by_a(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    origin_a, origin_b = _origin(a), _origin(b)
    assert origin_a != origin_b
    signed = _register("roamer", 61, origin_a)
    _refused(b, signed, 403, "bad-signature")
    _accepted(a, signed)
    assert a.get("/v1/actors/roamer").json()["role"] == "retailer"
    assert b.get("/v1/actors/roamer").status_code == 404


def test_after_b_upgrades_a_format_1_event_is_refused_and_one_signed_for_b_taken(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    _, b = two_servers
    origin_b = _origin(b)
    _accepted(b, _operator("log.upgrade", origin_b, format=2, rules=2))
    _refused(b, _register("drifter", 62, None), 422, "format-retired")
    _refused(b, _operator("log.upgrade", origin_b, format=2, rules=2), 422, "bad-upgrade")
    _accepted(b, _register("drifter", 62, origin_b))


def _cli(server: LiveServer, home: Path, *args: str) -> Any:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROVENANCE_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update({"PYTHONPATH": str(ROOT), "PROVENANCE_HOME": str(home), "NO_COLOR": "1"})
    done = run_cli(["--json", "--server", server.url, *args], env=env, cwd=home)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_the_cli_signs_for_the_served_log_and_upgrades_it(
    two_servers: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    a, _ = two_servers
    write_key_file(tmp_path / "keys" / "operator.pem", crypto.private_key_to_pem(key(1)))
    done = _cli(a, tmp_path, "actor", "upgrade-log")
    assert done.returncode == 0, done.stderr
    index = json.loads(done.stdout)["receipts"][0]["index"]
    leaf = a.get(f"/v1/entries/{index}").json()["entries"][0]
    assert json.loads(codec.b64url_decode(leaf["leaf"]))["v"] == 2  # signed for the log
    again = _cli(a, tmp_path, "actor", "upgrade-log")
    assert again.returncode == 1 and "bad-upgrade" in again.stderr
    _refused(a, _register("latecomer", 63, None), 422, "format-retired")
    register = (
        "actor register latecomer --role retailer --name Latecomer --public-key " + public_b64(63)
    )
    done = _cli(a, tmp_path, *register.split())
    assert done.returncode == 0, done.stderr
    assert a.get("/v1/actors/latecomer").json()["role"] == "retailer"


def test_verify_replays_under_the_switch_the_served_log_proves(
    two_servers: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    """`provenance verify` against B once upgraded: B's genesis named rule set 2 and its
    log.upgrade format 2, and the CLI reports the switch it read from those proven
    entries (not one it assumed)."""
    _, b = two_servers
    upgrade = b.post(
        "/v1/entries", json=_operator("log.upgrade", _origin(b), format=2, rules=2).to_dict()
    )
    assert upgrade.status_code in (201, 422), upgrade.text  # 422: an earlier test upgraded B
    gtin, serial = b.units["sold"]
    done = _cli(b, tmp_path, "verify", f"{gtin}/{serial}")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "caution" and report["disagreement"] is None
    versions = report["versions"]
    assert versions["rules_from"] == 0
    assert isinstance(versions["format_from"], int) and versions["format_from"] > 0
    served = b.get(f"/v1/units/{gtin}/{serial}").json()["versions"]
    assert [e["event"]["kind"] for e in served["entries"]] == ["actor.register", "log.upgrade"]
    assert served["entries"][1]["index"] + 1 == versions["format_from"]
