"""Pinned keys are pinned, audits keep state, refusals leave evidence (docs/AUDIT.md).

Mounted as an attacker would, through the CLI (in this process, tests/cli_runner.py):

- a log signed by another key than the pinned one (``--log-key`` or
  ``PROVENANCE_LOG_KEY``) fails the audit, locally even with the operator's key file
  beside the database, and remotely whatever key the server serves; a local ``verify``
  under such a pin says ``checkpoint-invalid`` and exits 1;
- ``audit`` of a mistyped ``--db`` is a one-line error and creates no file;
- a database restored from an older backup (a consistent rollback) fails the next local
  audit without ``--trusted``: the audit kept the last checkpoint it verified;
- a server that went back fails the remote audit, and a witness refuses to cosign it;
  each writes an evidence file that ``verify_evidence`` accepts.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import crypto, note
from ledger.audit.witness import verify_evidence
from ledger.service.config import write_key_file
from ledger.service.ledger import Ledger
from tests.cli_runner import run_cli
from tests.e2e.server import LiveServer, seed, start
from tests.e2e.test_auditors import commission
from tests.factories import GTIN, LOG_SEED, key
from tests.integration.world import clock, config
from tests.rules_factories import World

ROOT = Path(__file__).resolve().parents[2]
#: a well-formed verifier key of the same origin that did not sign the log
IMPOSTOR_SEED = 99


def cli(*args: str, home: Path, code: int = 0, **env: str) -> tuple[Any, str]:
    """Run ``provenance --json ARGS`` with ``env`` (PROVENANCE_HOME = ``home``); check the exit
    code; return the parsed JSON (or None) and stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PROVENANCE_", "XDG_"))}
    clean.update({"PROVENANCE_HOME": str(home), "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **env})
    done = run_cli(["--json", *args], env=clean, cwd=ROOT)
    assert done.returncode == code, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    return data, done.stderr


def one_error(stderr: str) -> bool:
    """Whether ``stderr`` is one error line: under ``--json`` (which `cli` passes) a JSON
    object ``{"error": {code, message, field}}`` (docs/CLI.md "Errors")."""
    lines = stderr.strip().splitlines()
    if len(lines) != 1:
        return False
    try:
        return bool(json.loads(lines[0])["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return lines[0].startswith("error: ")


def impostor(name: str) -> str:
    """A verifier key with the log's origin, of a key that never signed it."""
    return note.Signer(config(name).origin, key(IMPOSTOR_SEED)).verifier.to_text()


def backup(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database."""
    with sqlite3.connect(source) as a, sqlite3.connect(target) as b:
        a.backup(b)


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    """Servers a test starts; all stopped at the end."""
    started: list[LiveServer] = []
    yield started
    for server in started:
        server.stop()


def local_log(tmp: Path, name: str) -> tuple[Path, dict[str, str], str]:
    """A seeded local log in ``tmp/ledger.db`` with its two key files beside it; the
    database file, the environment that names it, and the log's real verifier key."""
    db = tmp / "ledger.db"
    seed(f"sqlite:///{db}", name)
    key_file, log_file = tmp / "operator.pem", tmp / "log.pem"
    write_key_file(key_file, crypto.private_key_to_pem(key(1)))
    write_key_file(log_file, crypto.private_key_to_pem(key(LOG_SEED)))
    env = {
        "DATABASE_URL": f"sqlite:///{db}",
        "PROVENANCE_LOG": name,
        "PROVENANCE_ORIGIN": config(name).origin,
        "PROVENANCE_OPERATOR_KEY": str(key_file),
        "PROVENANCE_CHECKPOINT_KEY": str(log_file),
    }
    return db, env, note.Signer(config(name).origin, key(LOG_SEED)).verifier.to_text()


def grow(db: Path, name: str, serials: list[str]) -> None:
    """Commission units in the local log (through the service, as the brand would)."""
    ledger = Ledger.open(f"sqlite:///{db}", config(name), clock=clock)
    try:
        for serial in serials:
            unit = {"gtin": GTIN, "serial": serial}
            signed = World(origin=ledger.origin).sign("commission", "acme", unit=unit, prev=None)
            ledger.append(signed, clock())
    finally:
        ledger.close()


def test_local_audit_honours_the_pinned_key_and_never_creates_a_database(tmp_path: Path) -> None:
    _, env, real = local_log(tmp_path, "pin-local")
    home = tmp_path / "home"
    passed, _ = cli("audit", home=home, **env)  # the operator's own audit: its log key file
    assert passed["ok"]
    wrong = impostor("pin-local")
    for how in ({"PROVENANCE_LOG_KEY": wrong}, {}):
        args = ("audit",) if how else ("audit", "--log-key", wrong)
        _, err = cli(*args, home=home, code=1, **env, **how)
        assert one_error(err) and len(err.strip().splitlines()) == 1
    right, _ = cli("audit", "--log-key", real, home=home, **env)
    assert right["ok"]

    missing = tmp_path / "typo" / "legder.db"
    _, err = cli("--db", f"sqlite:///{missing}", "audit", home=home, code=1, **env)
    assert "no database" in err and len(err.strip().splitlines()) == 1
    assert not missing.exists() and not missing.parent.exists()


def test_local_verify_honours_the_pinned_key(tmp_path: Path) -> None:
    """``provenance verify`` of a local log (its operator's key files beside it): a pinned
    key (``--log-key`` or ``PROVENANCE_LOG_KEY``) that did not sign the log makes the
    checkpoint invalid, exit 1; the log's real key passes."""
    _, env, real = local_log(tmp_path, "pin-verify")
    home, unit = tmp_path / "home", f"{GTIN}/SN-0001"
    wrong = impostor("pin-verify")
    for how in ({"PROVENANCE_LOG_KEY": wrong}, {}):
        args = ("verify", unit) if how else ("verify", unit, "--log-key", wrong)
        report, _ = cli(*args, home=home, code=1, **env, **how)
        assert report["verdict"] == "invalid", report
        assert "checkpoint-invalid" in [r["code"] for r in report["reasons"]]
    for how in ({"PROVENANCE_LOG_KEY": real}, {}):
        args = ("verify", unit) if how else ("verify", unit, "--log-key", real)
        report, _ = cli(*args, home=home, **env, **how)
        assert report["verdict"] == "genuine", report


def test_local_rollback_is_caught_without_trusted(tmp_path: Path) -> None:
    db, env, real = local_log(tmp_path, "pin-rollback")
    home = tmp_path / "home"
    old = tmp_path / "backup.db"
    backup(db, old)
    grow(db, "pin-rollback", ["LATER-1", "LATER-2"])
    first, _ = cli("audit", "--log-key", real, home=home, **env)
    assert first["ok"]
    (state,) = (home / "state" / "audit-local").iterdir()  # one file per origin, by default
    kept = json.loads(state.read_text())
    assert kept["seen"]["size"] == first["entries"]

    backup(old, db)  # the operator restores yesterday's backup: a consistent rollback
    failed, _ = cli("audit", "--log-key", real, home=home, code=1, **env)
    (finding,) = [f for f in failed["findings"] if f["code"] == "rollback"]
    evidence = json.loads(Path(finding["evidence"]["file"]).read_text())
    assert (
        evidence["kind"] == "rollback" and evidence["old_checkpoint"] == kept["seen"]["checkpoint"]
    )
    verify_evidence(evidence, real)  # publishable
    assert json.loads(state.read_text()) == kept  # the state did not move back
    cli("audit", "--log-key", real, "--no-state", home=home, **env)  # opting out: passes


def test_remote_audit_pins_the_key_and_catches_a_rollback(
    tmp_path: Path, servers: list[LiveServer]
) -> None:
    honest = start(f"sqlite:///{tmp_path}/a.db", tmp_path, name="e2e-pinned")
    servers.append(honest)
    real = httpx.get(f"{honest.url}/v1/log/key").text.strip()
    home = tmp_path / "home"
    wrong = impostor("e2e-pinned")
    _, err = cli("audit", "--server", honest.url, "--log-key", wrong, home=home, code=1)
    assert one_error(err)
    _, err = cli("audit", "--server", honest.url, home=home, code=1, PROVENANCE_LOG_KEY=wrong)
    assert one_error(err)
    commission(honest, "R", 20)
    first, _ = cli("audit", "--server", honest.url, "--log-key", real, home=home)
    assert first["ok"]
    honest.stop()

    # The same log (same key, origin and first entries) served again without the last 20.
    behind = start(f"sqlite:///{tmp_path}/b.db", tmp_path, name="e2e-pinned")
    servers.append(behind)
    failed, _ = cli("audit", "--server", behind.url, home=home, code=1, PROVENANCE_LOG_KEY=real)
    (finding,) = [f for f in failed["findings"] if f["code"] == "rollback"]
    evidence = json.loads(Path(finding["evidence"]["file"]).read_text())
    assert evidence["kind"] == "rollback"
    verify_evidence(evidence, real)


def test_witness_refuses_a_rollback_with_evidence(
    tmp_path: Path, servers: list[LiveServer]
) -> None:
    wkey = tmp_path / "witness.key"
    made, _ = cli("witness", "--key", str(wkey), "--new", "witness.example/w9", home=tmp_path)
    extra = {"PROVENANCE_WITNESSES": made["verifier_key"]}
    honest = start(f"sqlite:///{tmp_path}/a.db", tmp_path, extra_env=extra, name="e2e-wroll")
    servers.append(honest)
    real = httpx.get(f"{honest.url}/v1/log/key").text.strip()
    commission(honest, "W", 5)
    wrong = impostor("e2e-wroll")
    at = ("witness", "--server", honest.url, "--key", str(wkey))
    _, err = cli(*at, home=tmp_path, code=1, PROVENANCE_LOG_KEY=wrong)  # the pin is checked
    assert one_error(err) and not (tmp_path / "witness.key.state.json").exists()
    cli(*at, "--log-key", real, home=tmp_path)
    _, err = cli(*at, "--log-key", wrong, home=tmp_path, code=1)  # pinned: not the state's
    assert "another log key" in err
    state = json.loads((tmp_path / "witness.key.state.json").read_text())
    honest.stop()

    behind = start(f"sqlite:///{tmp_path}/b.db", tmp_path, extra_env=extra, name="e2e-wroll")
    servers.append(behind)
    _, err = cli("witness", "--server", behind.url, "--key", str(wkey), home=tmp_path, code=1)
    assert err.count("\n") <= 1 and "rollback" in err
    evidence = json.loads((tmp_path / "witness.key.state.json.evidence.json").read_text())
    assert evidence["kind"] == "rollback"
    verify_evidence(evidence, real)
    assert json.loads((tmp_path / "witness.key.state.json").read_text()) == state


@pytest.mark.postgres
def test_local_audit_of_an_empty_postgres_schema_creates_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    import psycopg

    from tests.integration.conftest import create_schema, drop_schema

    schema = f"audit_empty_{os.getpid()}"
    url = create_schema(postgres_url, schema)
    try:
        env = {"DATABASE_URL": url, "PROVENANCE_LOG": "nothing-here"}
        wrong = impostor("nothing-here")
        _, err = cli("audit", "--log-key", wrong, home=tmp_path, code=1, **env)
        assert one_error(err) and len(err.strip().splitlines()) == 1
        dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn) as conn:
            query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s"
            row = conn.execute(query, (schema,)).fetchone()
        assert row is not None and row[0] == 0  # no table was created
    finally:
        drop_schema(postgres_url, schema)


def _serve_at(db_url: str, tmp: Path, port: int, name: str) -> LiveServer:
    """A seeded log ``name`` served at ``port`` (a server that comes back at the same
    address serving another log)."""
    from tests.e2e.server import ServerProcess, server_env

    world, units = seed(db_url, name)
    env = server_env(db_url, tmp, name, f"http://127.0.0.1:{port}")
    process = ServerProcess(env, port=port)
    process.start()
    try:
        process.wait_ready()
    except BaseException:
        process.kill()
        raise
    return LiveServer(url=process.url, units=units, world=world, server=process, env=env)


def test_a_server_claiming_another_origin_cannot_swap_the_state(
    tmp_path: Path, servers: list[LiveServer]
) -> None:
    """Audit and monitor state is kept per server URL (or pinned key), never per the
    origin the server claims: the server at one URL that comes back serving another log
    (another origin, a fresh history: its old log rolled away) is not audited against
    a fresh state of that origin under the key it serves, but refused under the key
    remembered for the URL."""
    from tests.e2e.server import free_port

    port = free_port()
    first = _serve_at(f"sqlite:///{tmp_path}/x.db", tmp_path, port, "e2e-swap-x")
    servers.append(first)
    home = tmp_path / "home"
    audited, _ = cli("audit", "--server", first.url, home=home)
    assert audited["ok"]
    watched, _ = cli("monitor", "--as", "acme", "--server", first.url, home=home)
    assert watched["ok"]
    first.stop()

    swapped = _serve_at(f"sqlite:///{tmp_path}/y.db", tmp_path / "y", port, "e2e-swap-y")
    servers.append(swapped)
    assert swapped.url == first.url
    _, err = cli("audit", "--server", swapped.url, home=home, code=1)
    assert one_error(err) and len(err.strip().splitlines()) == 1
    _, err = cli("monitor", "--as", "acme", "--server", swapped.url, home=home, code=1)
    assert one_error(err) and len(err.strip().splitlines()) == 1
    # with the new log's key pinned, its own state starts: that is the user's choice
    key = httpx.get(f"{swapped.url}/v1/log/key").text.strip()
    pinned, _ = cli("audit", "--server", swapped.url, "--log-key", key, home=home)
    assert pinned["ok"]
