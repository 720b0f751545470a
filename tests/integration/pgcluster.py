"""Throwaway PostgreSQL clusters for tests: a primary and a streaming replica.

`Cluster.primary(root)` runs ``initdb`` and starts a server on a free loopback port;
`Cluster.replica_of(primary, root)` takes a ``pg_basebackup -R`` of it (which writes
``primary_conninfo`` and ``standby.signal``) and starts it as a hot standby. Both live in
a temporary folder owned by the ``postgres`` user (the server binaries refuse root;
as root they run through ``runuser -u postgres --``), listen only on 127.0.0.1 and a
socket in their own folder, and never touch the machine's own server (port 5432).

`server_binaries()` finds the binaries (``/usr/lib/postgresql/<version>/bin`` or
``pg_config --bindir``); `clusters` (a context manager) removes every folder and stops
every server on exit, also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

DATABASE = "provenance"
_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
fsync = off
full_page_writes = off
max_connections = 60
shared_buffers = 32MB
hot_standby = on
wal_level = replica
max_wal_senders = 4
log_min_messages = warning
"""


def server_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``pg_basebackup``, or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        folder = Path(out.stdout.strip())
        if (folder / "pg_basebackup").exists():
            return folder
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """One running PostgreSQL server in a folder of its own."""

    bindir: Path
    folder: Path
    port: int

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.folder / "data"

    def url(self, database: str = DATABASE) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = DATABASE) -> str:
        """The libpq DSN of ``database`` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str) -> None:
        """Run a server binary as the postgres user; raise with its output if it fails."""
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr}\n{tail}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log = str(self.folder / "server.log")
        self.run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, clean shutdown)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        """Whether the server's postmaster is running."""
        return (self.data / "postmaster.pid").exists()

    def execute(self, sql: str, database: str = DATABASE) -> list[tuple[object, ...]]:
        """Run one statement in autocommit on a fresh connection; return its rows."""
        with psycopg.connect(self.dsn(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql.encode())
            return list(cursor.fetchall()) if cursor.description else []

    @classmethod
    def primary(
        cls,
        bindir: Path,
        root: Path,
        databases: tuple[str, ...] = (DATABASE,),
        on_start: list[Cluster] | None = None,
    ) -> Cluster:
        """initdb, configure, start, and create ``databases``; listed in ``on_start``."""
        port = free_port()
        cluster = cls(bindir, _own_folder(root / f"primary-{port}"), port)
        cluster.run(
            "initdb",
            "-D",
            str(cluster.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        _configure(cluster)
        if on_start is not None:
            on_start.append(cluster)
        cluster.start()
        for database in databases:
            cluster.execute(f'CREATE DATABASE "{database}"', database="postgres")
        return cluster

    @classmethod
    def replica_of(
        cls, primary: Cluster, root: Path, on_start: list[Cluster] | None = None
    ) -> Cluster:
        """A hot standby streaming from ``primary`` (pg_basebackup -R), started."""
        port = free_port()
        replica = cls(primary.bindir, _own_folder(root / f"replica-{port}"), port)
        replica.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(replica.data),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        _configure(replica)
        if on_start is not None:
            on_start.append(replica)
        replica.start()
        rows = replica.execute("SELECT pg_is_in_recovery()")
        if rows != [(True,)]:
            raise RuntimeError("the replica is not in recovery: not a standby")
        return replica


def _own_folder(path: Path) -> Path:
    """Create ``path`` owned by postgres (mode 0700), as the server insists."""
    path.mkdir(mode=0o700)
    _chown_to_postgres(path)
    return path


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _configure(cluster: Cluster) -> None:
    """Append this test's settings (last wins) to postgresql.conf, as its owner would."""
    settings = _SETTINGS.format(port=cluster.port, sockets=cluster.folder)
    conf = cluster.data / "postgresql.conf"
    with conf.open("a", encoding="utf-8") as out:
        out.write(settings)


def wait_for(check: object, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``check()`` (a callable returning a truthy value) until it holds or time runs out."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error):
            if check():
                return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


class Site:
    """A temporary root holding the clusters a test starts (see `clusters`)."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.started: list[Cluster] = []

    def primary(self, databases: tuple[str, ...] = (DATABASE,)) -> Cluster:
        """Start a primary with ``databases`` (see `Cluster.primary`)."""
        cluster = Cluster.primary(self.bindir, self.root, databases, on_start=self.started)
        return cluster

    def replica_of(self, primary: Cluster) -> Cluster:
        """Start a streaming replica of ``primary`` (see `Cluster.replica_of`)."""
        return Cluster.replica_of(primary, self.root, on_start=self.started)


@contextlib.contextmanager
def clusters() -> Iterator[Site]:
    """A temporary `Site`; on exit every started server stops and its folder is removed.

    Raises:
        FileNotFoundError: no PostgreSQL server binaries on this machine.
    """
    bindir = server_binaries()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_basebackup)")
    root = Path(tempfile.mkdtemp(prefix="provenance-pg-"))
    _chown_to_postgres(root)  # the servers' folders live inside it
    site = Site(bindir, root)
    try:
        yield site
    finally:
        for cluster in reversed(site.started):
            if cluster.running():
                with contextlib.suppress(RuntimeError):
                    cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
