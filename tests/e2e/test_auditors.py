"""Auditors and witnesses against real servers (uvicorn), driven through the CLI (in
this process, tests/cli_runner.py; the offline proof check runs ``python -m cli`` with
the network off).

- A remote audit with a state file passes over 5,000+ entries, then replays only what
  is new; after the operator rewrites its database and re-signs it with the same key
  (same origin, a different history), the next run fails with the consistency evidence.
- A witness cosigns, the log serves and counts the cosignature; shown a fork (same
  size, another root) it refuses and writes evidence that `verify_evidence` accepts.
- An export bundle audits offline; one changed leaf byte fails the audit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from ledger.audit.witness import verify_evidence
from tests.cli_runner import run_cli
from tests.e2e.cli_schemas import SCHEMAS
from tests.e2e.server import LiveServer, start
from tests.factories import GTIN

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, home: Path, code: int = 0, schema: str | None = None) -> Any:
    """Run ``provenance --json ARGS`` in this process (tests/cli_runner.py); check the exit
    code (and the docs/CLI.md schema); return the parsed JSON or None."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update({"PROVENANCE_HOME": str(home), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    done = run_cli(["--json", *args], env=env, cwd=ROOT)
    assert done.returncode == code, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    if schema is not None:
        jsonschema_rs.validate(SCHEMAS[schema], data)
    return data


def commission(server: LiveServer, prefix: str, count: int) -> None:
    """Append ``count`` commissions of units PREFIX-i in batches of 1,000."""
    w = server.world.world
    events = [
        w.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"{prefix}-{i}"}, prev=None)
        for i in range(count)
    ]
    for start_at in range(0, count, 1000):
        body = {"events": [e.to_dict() for e in events[start_at : start_at + 1000]]}
        response = httpx.post(f"{server.url}/v1/entries:batch", json=body, timeout=120)
        assert response.status_code == 201, response.text[:300]


def log_key(server: LiveServer) -> str:
    """The server's verifier key (the test pins it as an auditor would)."""
    return httpx.get(f"{server.url}/v1/log/key").text.strip()


@pytest.fixture
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh folder."""
    return tmp_path_factory.mktemp("auditors")


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    """Servers a test starts; all stopped at the end."""
    started: list[LiveServer] = []
    yield started
    for server in started:
        server.stop()


def test_remote_audit_follows_5000_entries_then_catches_a_rewritten_log(
    tmp: Path, servers: list[LiveServer]
) -> None:
    # 5,000 commissions at once: more than a brand's default write quota (api.quota)
    bulk = {"PROVENANCE_WRITE_RATE": "1000000", "PROVENANCE_WRITE_BURST": "10000"}
    honest = start(f"sqlite:///{tmp}/honest.db", tmp, extra_env=bulk, name="e2e-audited")
    servers.append(honest)
    commission(honest, "A", 5000)
    key, state = log_key(honest), tmp / "auditor.json"

    first = run(
        "audit",
        "--server",
        honest.url,
        "--state",
        str(state),
        "--log-key",
        key,
        home=tmp,
        schema="audit",
    )
    assert first["ok"] and first["entries"] > 5000
    size = json.loads(state.read_text())["seen"]["size"]
    assert size == first["entries"]

    commission(honest, "B", 150)
    second = run("audit", "--server", honest.url, "--state", str(state), home=tmp)
    assert second["ok"] and second["entries"] == 150  # only what is new was replayed
    kept = json.loads(state.read_text())["seen"]
    honest.stop()

    # The operator rebuilds its database with the same key and origin, history changed
    # after the seeded prefix, and serves it at the same place.
    forged = start(f"sqlite:///{tmp}/rewritten.db", tmp, extra_env=bulk, name="e2e-audited")
    servers.append(forged)
    commission(forged, "FORGED", 5300)
    assert log_key(forged) == key
    failed = run(
        "audit",
        "--server",
        forged.url,
        "--state",
        str(state),
        "--log-key",
        key,
        home=tmp,
        code=1,
        schema="audit",
    )
    assert not failed["ok"]
    (finding,) = failed["findings"]
    assert finding["code"] == "split-view"
    evidence = json.loads(Path(finding["evidence"]["file"]).read_text())
    assert evidence["kind"] == "inconsistent"
    assert evidence["old_checkpoint"] == kept["checkpoint"]
    verify_evidence(evidence, key)  # publishable: anyone with the log's key re-checks it
    assert json.loads(state.read_text())["seen"] == kept  # the state did not move


def test_witness_cosigns_and_refuses_a_fork(tmp: Path, servers: list[LiveServer]) -> None:
    wkey = tmp / "witness.key"
    made = run(
        "witness",
        "--key",
        str(wkey),
        "--new",
        "witness.example/w1",
        home=tmp,
        schema="witness new",
    )
    witnesses = {"PROVENANCE_WITNESSES": made["verifier_key"]}
    honest = start(f"sqlite:///{tmp}/a.db", tmp, extra_env=witnesses, name="e2e-witnessed")
    servers.append(honest)
    key = log_key(honest)

    cosigned = run(
        "witness", "--server", honest.url, "--key", str(wkey), "--log-key", key, home=tmp
    )
    assert cosigned["old"] == 0 and cosigned["witnesses"] == {"configured": 1, "vouched": 1}
    commission(honest, "W", 10)
    # The same log named as one of a deployment (/logs/NAME), with the same state file.
    again = run(
        "witness",
        "--server",
        honest.url,
        "--log",
        "e2e-witnessed",
        "--key",
        str(wkey),
        "--state",
        str(tmp / "witness.key.state.json"),
        home=tmp,
    )
    assert again["old"] == cosigned["size"] and again["size"] == cosigned["size"] + 10
    served = httpx.get(f"{honest.url}/v1/checkpoint").text
    assert "\n\u2014 witness.example/w1 " in served
    unit = httpx.get(f"{honest.url}/v1/units/{GTIN}/W-3").json()
    assert unit["witnesses"] == {"configured": 1, "vouched": 1}
    state = json.loads((tmp / "witness.key.state.json").read_text())
    honest.stop()

    # Same key and origin, same size, another history: a fork.
    forked = start(f"sqlite:///{tmp}/b.db", tmp, extra_env=witnesses, name="e2e-witnessed")
    servers.append(forked)
    commission(forked, "X", 10)
    run("witness", "--server", forked.url, "--key", str(wkey), home=tmp, code=1)
    evidence_file = tmp / "witness.key.state.json.evidence.json"
    evidence = json.loads(evidence_file.read_text())
    assert evidence["kind"] == "fork"
    assert evidence["old_checkpoint"] == state["seen"]["checkpoint"]
    verify_evidence(evidence, key)
    assert json.loads((tmp / "witness.key.state.json").read_text()) == state
    assert "witness.example/w1" not in httpx.get(f"{forked.url}/v1/checkpoint").text


def test_export_bundle_audits_offline_and_a_changed_byte_fails(tmp: Path) -> None:
    home = tmp / "home"
    run("init", home=home)
    bundle = tmp / "log.bundle"
    out = run("export", "bundle", "--out", str(bundle), home=home, schema="export bundle")
    assert out["size"] == 1 and out["checkpoints"] == 1
    key = json.loads(bundle.read_text().splitlines()[0])["log_key"]
    report = run("audit", "--bundle", str(bundle), "--log-key", key, home=tmp)
    assert report["ok"] and report["entries"] == 1

    lines = bundle.read_text().splitlines()
    leaf = json.loads(lines[-1])
    raw = bytearray(__import__("base64").urlsafe_b64decode(leaf["leaf"] + "=="))
    raw[40] ^= 0x01
    leaf["leaf"] = __import__("base64").urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    bundle.write_text("\n".join([*lines[:-1], json.dumps(leaf)]) + "\n")
    failed = run("audit", "--bundle", str(bundle), "--log-key", key, home=tmp, code=1)
    assert failed["first_bad_index"] == 0


def _network_off() -> list[str]:
    """A command prefix that runs a program with no network at all (a fresh network
    namespace, loopback down), or [] where that is not permitted."""
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return ["unshare", "-n"] if done.returncode == 0 else []


def test_offline_proof_downloads_and_verifies_with_the_network_off(
    tmp: Path, servers: list[LiveServer]
) -> None:
    server = start(f"sqlite:///{tmp}/proof.db", tmp)
    servers.append(server)
    key = log_key(server)
    gtin, serial = server.units["sold"]
    page = httpx.get(f"{server.url}/01/{gtin}/21/{serial}", headers={"Accept": "text/html"})
    assert f'href="/v1/units/{gtin}/{serial}/proof"' in page.text  # the page offers it
    response = httpx.get(f"{server.url}/v1/units/{gtin}/{serial}/proof")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "attachment" in response.headers["content-disposition"]
    assert httpx.get(f"{server.url}/v1/units/{gtin}/NO-SUCH-1/proof").status_code == 404
    proof = tmp / "sold.unit-proof"
    proof.write_bytes(response.content)
    server.stop()

    offline = _network_off()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update({"PYTHONPATH": str(ROOT), "PROVENANCE_HOME": str(tmp / "home")})
    base = [*offline, sys.executable, "-m", "cli", "--json", "verify", "--log-key", key]
    done = subprocess.run(
        [*base, "--proof", str(proof)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    jsonschema_rs.validate(SCHEMAS["verify proof"], result)
    assert result["verified"] and result["unit"] == f"{gtin}/{serial}"
    assert [e["kind"] for e in result["entries"]] == ["commission", "handoff", "receive", "sell"]

    tampered = bytearray(proof.read_bytes())
    tampered[len(tampered) // 2] ^= 0x04
    proof.write_bytes(bytes(tampered))
    done = subprocess.run(
        [*base, "--proof", str(proof)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    # with --json, the one error line is JSON (docs/CLI.md "Errors")
    assert done.returncode == 1 and json.loads(done.stderr)["error"]["code"]
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
