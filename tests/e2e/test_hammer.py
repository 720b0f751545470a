"""``provenance hammer`` as a subprocess: a real server SIGKILLed under load, on SQLite
and on PostgreSQL, loses nothing, duplicates nothing, forks nothing and never shows
two histories; a build whose head check is switched off is caught forking; a run
against a server someone else started; and the hammer's usage errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from ledger import crypto
from ledger.service.config import write_key_file
from ledger.service.ledger import FAULT_CONSENT, FAULT_CONSENT_ENV, FAULT_ENV
from tests.e2e.cli_schemas import SCHEMAS
from tests.e2e.server import LiveServer, start
from tests.factories import key
from tests.integration.conftest import PG_SCHEMA, create_schema, drop_schema

ROOT = Path(__file__).resolve().parents[2]
#: a run of 60 s stops by itself; this only bounds a hang on a very busy machine
TIMEOUT = 900
HAMMER_SCHEMA = f"{PG_SCHEMA}_hammer"


def hammer(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """Run ``provenance hammer ARGS --json``; return (exit code, parsed JSON, stderr)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROVENANCE_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "hammer", *args, "--json"],
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout) if done.stdout.strip() else None
    if report is not None:
        jsonschema_rs.validate(SCHEMAS["hammer"], report)
    return done.returncode, report, done.stderr


@pytest.fixture
def hammer_pg_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema of the hammer's own, dropped after."""
    yield create_schema(postgres_url, HAMMER_SCHEMA)
    drop_schema(postgres_url, HAMMER_SCHEMA)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hammer_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite (served by 1 worker) or PostgreSQL (2 workers, the default for each)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/hammer.db"
    return str(request.getfixturevalue("hammer_pg_url"))


def assert_promises_kept(report: dict[str, Any], appended: int) -> None:
    """Nothing lost, duplicated, forked, inconsistent or unproven; the audit passed;
    more than ``appended`` events besides the world's setup (about 110) were acked."""
    broken = {
        k: report[k]
        for k in ("lost", "duplicates", "forks", "inconsistent_checkpoints", "bad_proofs")
        if report[k]
    }
    assert not broken, (broken, report["anomalies"])
    assert report["audit_ok"], report["anomalies"]
    assert report["refused"] == 0, report["anomalies"]  # every event it signs is valid
    assert report["acked"] > 110 + appended
    assert report["log_size"] >= report["acked"]


@pytest.mark.slow  # a minute per database
def test_sigkilled_under_load_the_ledger_keeps_every_promise(hammer_db: str) -> None:
    code, report, stderr = hammer("--db", hammer_db, "--seconds", "60", "--kills", "3")
    assert report is not None, stderr
    assert_promises_kept(report, appended=40)
    assert report["kills"] >= 3
    assert report["workers"] == (1 if hammer_db.startswith("sqlite") else 2)
    assert report["conflicts"] > 0  # the racer's losers were refused with 409
    assert report["races"] > 0 and report["consistency_proofs"] > 0
    assert code == 0


def test_a_build_without_the_head_check_is_caught_forking(tmp_path: Path) -> None:
    fault = {FAULT_ENV: "skip-head-check", FAULT_CONSENT_ENV: FAULT_CONSENT}
    code, report, stderr = hammer(
        "--db", f"sqlite:///{tmp_path}/broken.db", "--seconds", "15", env=fault
    )
    assert report is not None, stderr
    assert code == 1
    assert report["forks"] > 0
    assert not report["audit_ok"]  # the replay refuses the second successor too
    assert any("were all accepted" in a for a in report["anomalies"])


def test_the_fault_switch_is_refused_without_its_consent(tmp_path: Path) -> None:
    code, report, stderr = hammer(
        "--db", f"sqlite:///{tmp_path}/refused.db", "--seconds", "5",
        env={FAULT_ENV: "skip-head-check"},
    )  # fmt: skip
    assert code == 1 and report is None
    assert stderr.count("\n") == 1 and FAULT_CONSENT_ENV in stderr


@pytest.fixture
def live_sqlite(tmp_path: Path) -> Iterator[LiveServer]:
    """A server someone else started (the e2e stories, operator key seed 1)."""
    server = start(f"sqlite:///{tmp_path}/served.db", tmp_path)
    yield server
    server.stop()


def test_a_running_server_is_hammered_without_kills(
    live_sqlite: LiveServer, tmp_path: Path
) -> None:
    operator = tmp_path / "op.pem"
    write_key_file(operator, crypto.private_key_to_pem(key(1)))
    code, report, stderr = hammer(
        "--server", live_sqlite.url, "--key", str(operator), "--seconds", "10"
    )
    assert report is not None, stderr
    assert_promises_kept(report, appended=5)
    assert report["kills"] == 0 and report["database"] == "server"
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seconds", "5"], "--db URL"),
        (["--db", "sqlite:///x.db", "--server", "http://127.0.0.1:9", "--seconds", "5"], "--db"),
        (["--server", "http://127.0.0.1:9", "--seconds", "5", "--kills", "1"], "--kills"),
        (["--db", "sqlite:///x.db", "--seconds", "5", "--writers", "1"], "--writers"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    code, report, stderr = hammer(*args, env={"PROVENANCE_HOME": str(tmp_path)})
    assert code == 2 and report is None
    assert stderr.count("\n") == 1 and message in stderr
