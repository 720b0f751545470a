"""``provenance backup | restore | check-archive`` on the command line: every refusal is
one readable line and a non-zero exit, and nothing is put in the database's place."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def provenance(home: Path, *args: str, code: int = 0) -> tuple[str, str]:
    """``provenance ARGS`` with ``home`` as PROVENANCE_HOME; check the exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVENANCE_", "XDG_"))}
    env.update({"PROVENANCE_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "400"})
    done = run_cli(list(args), env=env, cwd=ROOT)
    assert done.returncode == code, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    if code:
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line
    return done.stdout, done.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    provenance(folder, "init")
    return folder


def test_backup_then_a_lost_database_is_restored_and_the_high_water_file_kept(
    home: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "b.db"
    out, _ = provenance(home, "backup", "--out", str(backup))
    assert "audit passed" in out
    mark = next((home / "highwater").glob("*.json"))
    assert oct(mark.stat().st_mode & 0o777) == oct(0o600)
    assert oct(mark.parent.stat().st_mode & 0o777) == oct(0o700)
    _, err = provenance(home, "restore", str(backup), code=1)
    assert "restore into an empty place" in err
    (home / "ledger.db").rename(tmp_path / "aside.db")
    for suffix in ("-wal", "-shm"):
        (home / f"ledger.db{suffix}").unlink(missing_ok=True)
    out, _ = provenance(home, "restore", str(backup))
    assert "restored 1 entries" in out
    out, _ = provenance(home, "audit", "--no-state")
    assert "audit passed" in out


def test_refusals_are_one_line(home: Path, tmp_path: Path) -> None:
    backup = tmp_path / "b.db"
    provenance(home, "backup", "--out", str(backup))
    _, err = provenance(home, "backup", "--out", str(backup), code=1)
    assert "never overwrites" in err
    _, err = provenance(home, "restore", code=2)
    assert "give a backup FILE" in err
    _, err = provenance(home, "check-archive", code=2)
    assert "--wal DIR" in err
    _, err = provenance(home, "--server", "http://127.0.0.1:9", "backup", "--out", "x", code=2)
    assert "not through --server" in err
    _, err = provenance(home, "restore", str(backup), "--accept-shorter-log", " ", code=2)
    assert "needs an incident note" in err
    (home / "ledger.db").unlink()
    for suffix in ("-wal", "-shm"):
        (home / f"ledger.db{suffix}").unlink(missing_ok=True)
    truncated = tmp_path / "t.db"
    truncated.write_bytes(backup.read_bytes()[:5000])
    _, err = provenance(home, "restore", str(truncated), code=1)
    assert "damaged" in err or "not a SQLite database" in err
    empty = tmp_path / "e.db"
    sqlite3.connect(empty).close()
    _, err = provenance(home, "restore", str(empty), code=1)
    assert "not a SQLite database" in err or "holds no provenance log" in err
    _, err = provenance(home, "restore", str(backup), "--tail", str(tmp_path / "nope"), code=1)
    assert "cannot read" in err
    assert not (home / "ledger.db").exists()
    wal = tmp_path / "wal"
    wal.mkdir()
    _, err = provenance(home, "check-archive", "--wal", str(wal), code=1)
    assert "holds no WAL segments" in err


def test_auditing_a_backup_never_moves_the_live_databases_state(home: Path, tmp_path: Path) -> None:
    provenance(home, "audit")  # the live database's state: its size now
    backup = tmp_path / "b.db"
    provenance(home, "backup", "--out", str(backup))
    provenance(home, "keys", "new", "acme")
    public, _ = provenance(home, "keys", "export", "acme")
    provenance(
        home,
        "actor",
        "register",
        "acme",
        "--role",
        "brand",
        "--name",
        "Acme",
        "--public-key",
        public.strip(),
        "--prefix",
        "9506000",
    )
    provenance(home, "audit")  # the live state moves on
    states = sorted((home / "state" / "audit-local").iterdir())
    assert len(states) == 1
    live = states[0].read_text()
    out, _ = provenance(home, "--db", f"sqlite:///{backup}", "audit")  # the older copy
    assert "audit passed" in out
    assert states[0].read_text() == live  # untouched; the copy has a state of its own
    assert len(list((home / "state" / "audit-local").iterdir())) == 2
    provenance(home, "audit")  # and the live database still audits against its own
