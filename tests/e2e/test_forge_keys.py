"""No one signs for another, against a real server (issue 17 "A verdict no one can forge").

The attacks, mounted as an operator or a stranger would over HTTP on the real server
(uvicorn; SQLite and PostgreSQL) and with the ``provenance`` CLI: the operator adds its
key to a brand (refused), then mints as the brand (refused, so ``provenance verify`` of
that unit says ``unknown``); an operator's recovery is public on the actor's page, signs
nothing before its time, and the brand cancels it (a scoped key and strangers cannot);
recovery of an unknown actor, a recovery sooner than the wait, and a second brand with a
nested GS1 prefix are refused. Every refusal is problem+json with its own type, and the
log's size does not move.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import crypto
from ledger.entry import SignedEvent
from ledger.events import format_time
from tests.cli_runner import run_cli
from tests.e2e.server import LiveServer
from tests.factories import GTIN, key, public_b64

PROBLEM = "urn:provenance-ledger:problem:"
ROOT = Path(__file__).resolve().parents[2]


def _key_id(seed: int) -> str:
    return crypto.key_id(key(seed).public_key())


def _size(server: LiveServer) -> int:
    return int(server.get("/healthz").json()["size"])


def _post(server: LiveServer, signed: SignedEvent) -> httpx.Response:
    return server.post("/v1/entries", json=signed.to_dict(), timeout=10)


def _refused(server: LiveServer, signed: SignedEvent, code: str) -> dict[str, Any]:
    before = _size(server)
    response = _post(server, signed)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM + code, body
    assert _size(server) == before  # nothing written
    return body


def _accepted(server: LiveServer, signed: SignedEvent) -> None:
    response = _post(server, signed)
    assert response.status_code in (200, 201), response.text


def _cli(server: LiveServer, tmp: Path, *args: str) -> Any:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROVENANCE_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PROVENANCE_HOME": str(tmp / "home"),
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    done = run_cli(["--server", server.url, *args], env=env, cwd=tmp)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _effective(days: float = 7, minutes: float = 5) -> str:
    return format_time(datetime.now(UTC) + timedelta(days=days, minutes=minutes))


def test_the_operator_cannot_rotate_a_brands_keys_nor_mint_as_it(
    live_server: LiveServer, tmp_path: Path
) -> None:
    server, w = live_server, live_server.world.world
    add = w.sign("key.rotate", "operator", subject="acme", add=[public_b64(50)], remove=[])
    _refused(server, add, "operator-not-subject")
    drop = w.sign("key.rotate", "operator", subject="acme", add=[], remove=[_key_id(2)])
    _refused(server, drop, "operator-not-subject")
    unit = {"gtin": GTIN, "serial": "SN-FORGED-1"}
    for seed, code in ((1, "foreign-key"), (50, "unknown-key")):
        forged = w.sign("commission", "acme", seed=seed, unit=unit, prev=None)
        _refused(server, forged, code)
    # the CLI says so in one line, and a client verifying the unit finds nothing to trust
    operator_pem = server.env["PROVENANCE_OPERATOR_KEY"]
    done = _cli(
        server,
        tmp_path,
        "actor",
        "rotate",
        "acme",
        "--add",
        public_b64(51),
        "--as",
        "operator",
        "--key",
        operator_pem,
    )
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "operator-not-subject" in done.stderr
    done = _cli(server, tmp_path, "--json", "verify", f"{GTIN}/SN-FORGED-1")
    assert done.returncode == 1 and json.loads(done.stdout)["verdict"] == "unknown"
    # the brand's own unit is as it was, and acme's keys are acme's alone
    done = _cli(server, tmp_path, "--json", "verify", f"{GTIN}/SN-0001")
    assert done.returncode == 0 and json.loads(done.stdout)["verdict"] == "genuine"
    keys = server.get("/v1/actors/acme").json()["keys"]
    assert _key_id(50) not in {k["key_id"] for k in keys}
    assert _key_id(51) not in {k["key_id"] for k in keys}


def test_a_recovery_is_public_slow_and_cancelled_by_the_brand(live_server: LiveServer) -> None:
    server, w = live_server, live_server.world.world
    _refused(
        server,
        w.sign(
            "key.recover", "operator", subject="nobody", key=public_b64(52), effective=_effective()
        ),
        "unknown-subject",
    )
    _refused(
        server,
        w.sign(
            "key.recover",
            "operator",
            subject="acme",
            key=public_b64(52),
            effective=_effective(days=6),
        ),
        "recovery-too-soon",
    )
    _refused(
        server,
        w.sign("key.recover", "shop", subject="acme", key=public_b64(52), effective=_effective()),
        "not-operator",
    )
    effective = _effective()
    _accepted(
        server,
        w.sign("key.recover", "operator", subject="acme", key=public_b64(52), effective=effective),
    )
    actor = server.get("/v1/actors/acme").json()
    assert actor["recoveries"] == [
        {
            "key_id": _key_id(52),
            "public_key": public_b64(52),
            "recovered_index": actor["recoveries"][0]["recovered_index"],
            "effective": effective,
        }
    ]
    # the recovered key signs nothing yet
    unit = {"gtin": GTIN, "serial": "SN-RECOVERED-1"}
    _refused(
        server, w.sign("commission", "acme", seed=52, unit=unit, prev=None), "key-not-effective"
    )
    # the brand's console key (scoped) and strangers cannot cancel it; the brand can
    _accepted(
        server,
        w.sign(
            "key.rotate", "acme", subject="acme", add=[public_b64(53)], remove=[], scope=["console"]
        ),
    )
    cancel = {"subject": "acme", "key": _key_id(52)}
    _refused(server, w.sign("key.recover.cancel", "acme", seed=53, **cancel), "key-out-of-scope")
    _refused(server, w.sign("key.recover.cancel", "shop", **cancel), "not-subject")
    _refused(server, w.sign("key.recover.cancel", "operator", **cancel), "operator-not-subject")
    _refused(
        server,
        w.sign("key.recover.cancel", "acme", subject="acme", key=_key_id(2)),
        "unknown-recovery",
    )
    _accepted(server, w.sign("key.recover.cancel", "acme", **cancel))
    assert server.get("/v1/actors/acme").json()["recoveries"] == []
    _refused(server, w.sign("key.recover.cancel", "acme", **cancel), "recovery-not-pending")
    # the scoped key mints nothing either: its scope is the console's work
    _refused(
        server, w.sign("commission", "acme", seed=53, unit=unit, prev=None), "key-out-of-scope"
    )


@pytest.mark.parametrize("prefix", ["9506000", "95060001", "950600"])
def test_a_second_brand_cannot_take_a_nested_prefix(live_server: LiveServer, prefix: str) -> None:
    server, w = live_server, live_server.world.world
    register = w.sign(
        "actor.register",
        "operator",
        subject=f"acme-copy-{prefix}",
        role="brand",
        name="Acme",
        keys=[public_b64(54)],
        prefixes=[prefix],
    )
    body = _refused(server, register, "prefix-taken")
    assert "held by acme" in body["detail"] and body["field"].endswith("prefixes[0]")


def test_the_cli_rotates_recovers_and_cancels(live_server: LiveServer, tmp_path: Path) -> None:
    from ledger.service.config import write_key_file

    server = live_server
    keys = tmp_path / "home" / "keys"
    keys.mkdir(parents=True)
    write_key_file(keys / "acme.pem", crypto.private_key_to_pem(key(2)))
    operator = ("--as", "operator", "--key", server.env["PROVENANCE_OPERATOR_KEY"])
    done = _cli(
        server,
        tmp_path,
        "--json",
        "actor",
        "rotate",
        "acme",
        "--add",
        public_b64(55),
        "--scope",
        "mint",
        "--as",
        "acme",
    )
    assert done.returncode == 0, done.stderr
    effective = _effective()
    done = _cli(
        server,
        tmp_path,
        "actor",
        "recover",
        "acme",
        "--public-key",
        public_b64(56),
        "--effective",
        effective,
        "--reason",
        "lost every key",
        *operator,
    )
    assert done.returncode == 0, done.stderr
    shown = _cli(server, tmp_path, "actor", "show", "acme").stdout
    assert f"PENDING RECOVERY: key {_key_id(56)} takes effect {effective}" in shown
    info = json.loads(_cli(server, tmp_path, "--json", "actor", "show", "acme").stdout)
    assert {k["key_id"]: k["scope"] for k in info["keys"]}[_key_id(55)] == ["mint"]
    done = _cli(
        server,
        tmp_path,
        "actor",
        "cancel-recovery",
        "acme",
        "--key-id",
        _key_id(56),
        "--as",
        "acme",
    )
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(_cli(server, tmp_path, "--json", "actor", "show", "acme").stdout)["recoveries"]
        == []
    )
    # too soon: one readable line naming the rule, nothing written
    before = _size(server)
    done = _cli(
        server,
        tmp_path,
        "actor",
        "recover",
        "acme",
        "--public-key",
        public_b64(57),
        "--effective",
        _effective(days=1),
        *operator,
    )
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "recovery-too-soon" in done.stderr
    assert _size(server) == before


@pytest.mark.parametrize("name", ["ACME", "\u0410\u0441m\u0435"])
def test_a_second_brand_cannot_take_a_look_alike_name(live_server: LiveServer, name: str) -> None:
    server, w = live_server, live_server.world.world
    fields = {"role": "brand", "keys": [public_b64(55)], "prefixes": ["9508000"]}
    register = w.sign("actor.register", "operator", subject="acme-look", name=name, **fields)
    body = _refused(server, register, "lookalike-name")
    assert "the name of acme" in body["detail"] and body["field"] == "name"
