"""The drill when the host is lost whole (issue 24): the database and the high-water file
are gone, only a witness remembers the last checkpoint. With the real server and CLI:
the witness's checkpoint refuses the old backup; accepting the loss records an incident
that the next start signs with the log key and serves at ``GET /v1/log/incidents``, where a
reader verifies it on its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from cli.hammer.server import ServerProcess
from ledger.errors import LedgerError
from ledger.note.incident import verify_incident
from tests.e2e.server import start
from tests.e2e.test_auditors import commission
from tests.e2e.test_backup_drill import cli, refused_start, serve, stopped

pytestmark = pytest.mark.e2e
__all__ = ["stopped"]  # the fixture, used by name


def test_a_witness_remembers_what_the_lost_host_forgot(
    tmp_path: Path, stopped: list[ServerProcess]
) -> None:
    db = tmp_path / "live" / "ledger.db"
    live = start(f"sqlite:///{db}", tmp_path)
    stopped.append(live.server)
    env = live.env
    key = httpx.get(f"{live.url}/v1/log/key").text.strip()
    commission(live, "A", 10)
    backup = tmp_path / "backup.db"
    cli(env, "backup", "--out", str(backup))
    commission(live, "B", 5)
    witnessed = httpx.get(f"{live.url}/v1/checkpoint").text  # what a witness cosigned
    published = int(witnessed.split("\n")[1])
    (tmp_path / "witness.note").write_text(witnessed)
    assert httpx.get(f"{live.url}/v1/log/incidents").json()["incidents"] == []

    live.server.kill()  # the host is lost: its database and its high-water file
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(env["PROVENANCE_HIGHWATER_DIR"])

    _, err = cli(env, "restore", str(backup), "--evidence", str(tmp_path / "forged"), code=1)
    assert "cannot read evidence file" in err and not db.exists()
    _, err = cli(env, "restore", str(backup), "--evidence", str(tmp_path / "witness.note"), code=1)
    assert f"checkpoint {published} was published (witness evidence" in err
    assert not db.exists()
    shutil.copy(backup, db)  # put back by hand: the kept evidence refuses it at start
    said = refused_start(env, tmp_path / "refused.log")
    assert f"checkpoint {published} was published" in said
    db.unlink()

    out, _ = cli(env, "--json", "restore", str(backup), "--accept-shorter-log", "host lost")
    assert f'"given_up_size": {published}' in out
    server = serve(env, tmp_path / "restored.log")
    stopped.append(server)
    (found,) = httpx.get(f"{server.url}/v1/log/incidents").json()["incidents"]
    incident = verify_incident(found["note"], key)  # the reader's own check
    assert incident.given_up.size == published == found["given_up"]["size"]
    assert incident.served.size == found["served"]["size"] < published
    assert incident.note == found["reason"] == "host lost"
    with pytest.raises(LedgerError):
        verify_incident(found["note"].replace("host lost", "host fine"), key)
