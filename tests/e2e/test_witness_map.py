"""``provenance witness`` checks the map of heads against a real server (uvicorn), through
the CLI: it cosigns an honest growth after checking the log's map update proof
(``GET /v1/proofs/map-update``), and refuses a checkpoint signed with the log's key whose
map root does not follow, writing ``map-update`` evidence that `verify_evidence` accepts,
with its state file unchanged. The route's bad input is a problem+json."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import note
from ledger.audit.witness import verify_evidence
from ledger.map import commit as map_commit
from tests.cli_runner import run_cli
from tests.e2e.server import LiveServer, start
from tests.factories import GTIN, LOG_SEED, key

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, home: Path, code: int = 0) -> Any:
    """Run ``provenance --json ARGS`` in this process; check the exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update({"PROVENANCE_HOME": str(home), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    done = run_cli(["--json", *args], env=env, cwd=ROOT)
    assert done.returncode == code, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    """A seeded server that trusts one witness, and the witness's key file."""
    wkey = tmp_path / "witness.key"
    made = run("witness", "--key", str(wkey), "--new", "witness.example/w1", home=tmp_path)
    env = {"PROVENANCE_WITNESSES": made["verifier_key"]}
    live = start(f"sqlite:///{tmp_path}/a.db", tmp_path, extra_env=env)
    yield live, wkey
    live.stop()


def commission(server: LiveServer, prefix: str, count: int) -> None:
    """Append ``count`` commissions of units PREFIX-i."""
    w = server.world.world
    events = [
        w.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"{prefix}-{i}"}, prev=None)
        for i in range(count)
    ]
    body = {"events": [e.to_dict() for e in events]}
    response = httpx.post(f"{server.url}/v1/entries:batch", json=body, timeout=60)
    assert response.status_code == 201, response.text[:300]


def test_the_witness_checks_the_map_root(server: tuple[LiveServer, Path], tmp_path: Path) -> None:
    live, wkey = server
    log_key = httpx.get(f"{live.url}/v1/log/key").text.strip()
    common = ("--server", live.url, "--key", str(wkey))
    first = run("witness", *common, "--log-key", log_key, home=tmp_path)
    commission(live, "M", 5)
    second = run("witness", *common, home=tmp_path)
    assert second["old"] == first["size"] and second["size"] == first["size"] + 5
    served = httpx.get(
        f"{live.url}/v1/proofs/map-update", params={"old": first["size"], "new": second["size"]}
    )
    assert served.status_code == 200 and len(served.json()["map_proofs"]) == 5
    state_file = tmp_path / "witness.key.state.json"
    state = state_file.read_text()

    commission(live, "N", 3)
    text = httpx.get(f"{live.url}/v1/checkpoint").text
    checkpoint = note.verify_checkpoint(text, log_key)
    others = tuple(x for x in checkpoint.extensions if not x.startswith(map_commit.PREFIX))
    wrong = dataclasses.replace(
        checkpoint, extensions=(*others, map_commit.extension(bytes(31) + b"\x07"))
    )
    forged = tmp_path / "forged.checkpoint"
    signer = note.Signer(checkpoint.origin, key(LOG_SEED))
    forged.write_bytes(note.sign_checkpoint(wrong, signer))
    run("witness", *common, "--checkpoint", str(forged), home=tmp_path, code=1)
    evidence = json.loads((tmp_path / "witness.key.state.json.evidence.json").read_text())
    assert evidence["kind"] == "map-update" and "update" in evidence
    assert verify_evidence(evidence, log_key).kind == "map-update"
    assert state_file.read_text() == state
    # the honest checkpoint is still cosigned
    assert run("witness", *common, home=tmp_path)["size"] == second["size"] + 3


def test_the_route_refuses_bad_sizes(server: tuple[LiveServer, Path]) -> None:
    live, _ = server
    size = int(httpx.get(f"{live.url}/v1/checkpoint").text.split("\n")[1])
    for params, status in (
        ({"old": size, "new": size}, 422),
        ({"old": size, "new": size + 50}, 404),
        ({"old": 0, "new": size}, 422),
        ({"old": 1, "new": 20_000}, 422),
    ):
        response = httpx.get(f"{live.url}/v1/proofs/map-update", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
