"""The disaster drill (issue 24), on SQLite and on PostgreSQL, with the real server:
append, back up while appending, append more, kill the server, lose the database,
restore the backup into the empty place: the server refuses to serve the shorter log and
says why; restored with the tail recovered from a bundle, the log serves again and the
audit passes against every checkpoint a reader saw. The backup taken during the writes
audits clean on its own.

SQLite backs up with ``provenance backup --out`` and restores with ``provenance restore
FILE --tail BUNDLE``. PostgreSQL runs in a throwaway cluster of its own
(tests/integration/pgcluster.py) with WAL archiving on: ``pg_basebackup`` while the
server writes, point-in-time recovery from the archive (which lacks the last,
unarchived WAL segment: the appends after the backup are gone), ``provenance
check-archive``, and ``provenance restore --tail BUNDLE`` catching the database up in
place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.hammer.server import ServerProcess, ServerStartError
from tests.cli_runner import run_cli
from tests.e2e.server import LiveServer, start
from tests.e2e.test_auditors import commission

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


class Reader:
    """A shopper's page, a witness, an auditor: keeps every checkpoint it was shown."""

    def __init__(self, tmp: Path) -> None:
        self.folder = tmp / "seen"
        self.folder.mkdir()
        self.seen: list[str] = []

    def look(self, url: str) -> int:
        """Fetch the latest checkpoint; return its size."""
        text = httpx.get(f"{url}/v1/checkpoint", timeout=30).text
        if text not in self.seen:
            self.seen.append(text)
            (self.folder / f"{len(self.seen)}.txt").write_text(text)
        return int(text.split("\n")[1])

    def trusted(self) -> list[str]:
        """``--trusted FILE`` for every checkpoint seen."""
        return [arg for path in sorted(self.folder.iterdir()) for arg in ("--trusted", str(path))]


def cli(env: dict[str, str], *args: str, code: int = 0) -> tuple[str, str]:
    """``provenance ARGS`` in the server's environment; check the exit code."""
    done = run_cli(list(args), env={**env, "NO_COLOR": "1", "COLUMNS": "300"}, cwd=ROOT)
    assert done.returncode == code, (done.stdout[-3000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr
    return done.stdout, done.stderr


def append_while(server: LiveServer, prefix: str, work: Any) -> Any:
    """Run ``work()`` while another thread appends batches of commissions; how many
    batches landed during it is asserted to be some."""
    stop = threading.Event()
    landed = [0]

    def append() -> None:
        while not stop.is_set():
            commission(server, f"{prefix}{landed[0]}", 20)
            landed[0] += 1

    thread = threading.Thread(target=append)
    thread.start()
    try:
        commission(server, f"{prefix}-first", 1)  # make sure the writer is under way
        result = work()
    finally:
        stop.set()
        thread.join()
    assert landed[0] >= 1, "nothing was appended during the backup"
    return result


def refused_start(env: dict[str, str], log: Path) -> str:
    """Start the server on ``env``; it must refuse; return what it said."""
    server = ServerProcess(env, log_file=log)
    server.start()
    try:
        with pytest.raises(ServerStartError):
            server.wait_ready(timeout=60)
    finally:
        server.stop()  # it has exited: this reaps it and closes its log
    return log.read_text(errors="replace")


def serve(env: dict[str, str], log: Path) -> ServerProcess:
    """Start the server on ``env`` and wait until it answers."""
    server = ServerProcess(env, log_file=log)
    server.start()
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
def stopped() -> Iterator[list[ServerProcess]]:
    """Servers a test starts; all killed at the end."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def test_drill_sqlite(tmp_path: Path, stopped: list[ServerProcess]) -> None:
    db = tmp_path / "live" / "ledger.db"
    live = start(f"sqlite:///{db}", tmp_path)
    stopped.append(live.server)
    env, reader = live.env, Reader(tmp_path)
    key = httpx.get(f"{live.url}/v1/log/key").text.strip()
    commission(live, "A", 40)
    reader.look(live.url)

    # back up while appending; the copy audits clean on its own
    backup = tmp_path / "backup.db"
    out, _ = append_while(live, "B", lambda: cli(env, "--json", "backup", "--out", str(backup)))
    assert '"audit": "passed"' in out
    out, _ = cli(env, "--db", f"sqlite:///{backup}", "audit", "--no-state", "--log-key", key)
    assert "audit passed" in out

    commission(live, "C", 30)
    published = reader.look(live.url)
    bundle = tmp_path / "tail.jsonl"  # the operator's (or an auditor's) latest export
    cli(env, "export", "bundle", "--out", str(bundle))

    live.server.kill()  # kill -9, then the disk is lost
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    # restore refuses the shorter backup, and says why
    _, err = cli(env, "restore", str(backup), code=1)
    assert "shorter-log" in err and f"checkpoint {published} was published" in err
    assert not db.exists()
    # put in place by hand, the server refuses to serve it, and says why
    shutil.copy(backup, db)
    said = refused_start(env, tmp_path / "refused.log")
    assert "shorter-log" in said or "refusing to serve a shorter log" in said
    assert f"checkpoint {published} was published" in said
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    # with the tail recovered from the bundle: restored, served, audited
    out, _ = cli(env, "--json", "restore", str(backup), "--tail", str(bundle))
    assert f'"size": {published}' in out
    server = serve(env, tmp_path / "restored.log")
    stopped.append(server)
    assert reader.look(server.url) == published
    out, _ = cli(
        env, "audit", "--server", server.url, "--no-state", "--log-key", key, *reader.trusted()
    )
    assert "audit passed" in out and f"{published} entries" in out
    commission(live_at(live, server), "D", 5)  # and it takes writes again
    assert reader.look(server.url) == published + 5


def live_at(live: LiveServer, server: ServerProcess) -> LiveServer:
    """``live``'s world and environment, served by ``server``."""
    return LiveServer(
        url=server.url, units=live.units, world=live.world, server=server, env=live.env
    )


# --- PostgreSQL ----------------------------------------------------------------------


ARCHIVING = """
archive_mode = on
archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'
"""


def as_postgres(*command: str) -> None:
    """Run a command as the postgres user (the clusters' files are its own)."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    subprocess.run(command, check=True, capture_output=True)


@pytest.mark.postgres
def test_drill_postgresql(tmp_path: Path, stopped: list[ServerProcess]) -> None:
    from tests.integration.pgcluster import _own_folder, clusters, server_binaries, wait_for

    if server_binaries() is None:
        message = "no PostgreSQL server binaries (initdb, pg_basebackup) to start clusters"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run the backup drill")
        pytest.skip(message)
    with clusters() as site:
        primary = site.primary()
        archive = _own_folder(site.root / "archive")
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(ARCHIVING.format(archive=archive))
        primary.stop()
        primary.start()  # archive_mode needs a restart

        live = start(primary.url(), tmp_path)
        stopped.append(live.server)
        env, reader = live.env, Reader(tmp_path)
        key = httpx.get(f"{live.url}/v1/log/key").text.strip()
        commission(live, "A", 40)
        reader.look(live.url)

        base = site.root / "base"
        append_while(
            live,
            "B",
            lambda: primary.run(
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(base),
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ),
        )
        for round_ in range(3):  # archived segments after the base backup
            commission(live, f"W{round_}", 5)
            primary.execute("SELECT pg_switch_wal()")
        # in the current WAL segment: never archived; two batches, since the high-water
        # file keeps the last one and rolls a log just one batch behind forward
        commission(live, "C", 30)
        commission(live, "D", 10)
        published = reader.look(live.url)
        bundle = tmp_path / "tail.jsonl"
        cli(env, "export", "bundle", "--out", str(bundle))

        live.server.kill()
        primary.stop("immediate")  # the database server dies with it ...
        shutil.rmtree(primary.data)  # ... and its disk is lost

        # point-in-time recovery: the base backup, replayed from the archive to its end
        as_postgres("cp", "-a", str(base), str(primary.data))
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\narchive_mode = off\nrestore_command = 'cp {archive}/%f %p'\n")
        as_postgres("touch", str(primary.data / "recovery.signal"))
        primary.start()  # accepts connections before the archive's replay ends: wait
        recovered = lambda: primary.execute("SELECT pg_is_in_recovery()") == [(False,)]  # noqa: E731
        wait_for(recovered, timeout=120, what="the archive's replay to end")

        # the archive has no gap, but the restored copy stops before what was published
        _, err = cli(
            env, "check-archive", "--wal", str(archive), "--restored", primary.url(), code=1
        )
        assert "shorter-log" in err and "the archive stops early or has a gap" in err
        assert f"before the published checkpoint {published}" in err
        gap = site.root / "gap"
        shutil.copytree(archive, gap)
        (label,) = (p.name[:24] for p in gap.iterdir() if p.name.endswith(".backup"))
        after = sorted(p for p in gap.iterdir() if len(p.name) == 24 and p.name >= label)
        assert len(after) >= 3, after
        after[1].unlink()
        _, err = cli(env, "check-archive", "--wal", str(gap), code=1)
        assert f"segment {after[1].name} is missing" in err

        # the server refuses the shorter log, and says why
        said = refused_start(env, tmp_path / "refused.log")
        assert f"checkpoint {published} was published" in said

        # the tail from the bundle, in place: served again, audited against every checkpoint
        out, _ = cli(env, "--json", "restore", "--tail", str(bundle))
        assert f'"size": {published}' in out
        cli(env, "check-archive", "--restored", primary.url())
        server = serve(env, tmp_path / "restored.log")
        stopped.append(server)
        assert reader.look(server.url) == published
        out, _ = cli(
            env, "audit", "--server", server.url, "--no-state", "--log-key", key, *reader.trusted()
        )
        assert "audit passed" in out and f"{published} entries" in out
        server.stop()
