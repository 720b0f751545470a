"""``provenance serve --workers 2`` (cli.reuseport): each worker on its own
``SO_REUSEPORT`` socket, so keep-alive connections are spread over both workers (with
uvicorn's shared socket one worker could hold all 64 of wrk's); a worker that dies is
replaced and no connection is left to its dead socket; SIGTERM stops them all.

Linux only: the workers' sockets are told apart through /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port
from tests.e2e.test_cli import ROOT, clean_env

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists() or not hasattr(socket, "SO_REUSEPORT"),
    reason="needs Linux's /proc and SO_REUSEPORT",
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _inodes(port: int, state: str) -> set[str]:
    """Socket inodes on local ``port`` in ``state`` (0A listening, 01 established)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    return inodes


def _sockets_of(pid: int) -> set[str]:
    held = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                held.add(target[8:-1])
    except OSError:
        pass
    return held


def workers_of(pid: int, port: int) -> dict[int, set[str]]:
    """The server's worker processes (those holding a listening socket on ``port``)
    with the sockets each holds."""
    listening = _inodes(port, "0A")
    held = {child: _sockets_of(child) for child in _children(pid)}
    return {child: sockets for child, sockets in held.items() if sockets & listening}


def initialised(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The CLI's command line on a fresh SQLite log in ``tmp_path`` (``init`` run) and
    the environment to run it in."""
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = clean_env(PROVENANCE_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "cli", "--db", db]
    subprocess.run([*cli, "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    return cli, env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    cli, env = initialised(tmp_path)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        started(process, tmp_path / "serve.log", 2)
        yield process, port, tmp_path / "serve.log"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        log.close()


def started(process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Wait until ``workers`` workers in all finished their startup (a loaded machine
    takes tens of seconds to import and open the app)."""
    deadline = time.monotonic() + 120
    while log.read_text().count("Application startup complete") < workers:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{workers} workers did not start"
        time.sleep(0.2)


def _answers(port: int, times: int = 1) -> None:
    for _ in range(times):
        # a new connection each time: the kernel picks a worker per connection
        with httpx.Client(timeout=10) as client:
            assert client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200


def _spread(pid: int, port: int, connections: list[socket.socket]) -> list[int]:
    """How many of ``connections`` each worker accepted."""
    deadline = time.monotonic() + 10
    while True:
        established = _inodes(port, "01")
        counts = [len(s & established) for s in workers_of(pid, port).values()]
        if sum(counts) >= len(connections) or time.monotonic() > deadline:
            return sorted(counts)
        time.sleep(0.1)


def test_connections_are_spread_over_both_workers(
    server: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, _ = server
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
    try:
        counts = _spread(process.pid, port, connections)
        assert sum(counts) == 32
        # each connection hashed to one of two sockets: all on one has odds 2^-31
        assert len(counts) == 2 and min(counts) >= 4, counts
    finally:
        for c in connections:
            c.close()


def test_a_dead_worker_is_replaced_and_no_connection_is_lost_to_it(
    server: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, log = server
    dead = next(iter(workers_of(process.pid, port)))
    os.kill(dead, signal.SIGKILL)
    started(process, log, 3)  # its replacement
    workers = workers_of(process.pid, port)
    assert len(workers) == 2 and dead not in workers
    _answers(port, times=20)  # every new connection lands on a live worker
    process.terminate()
    assert process.wait(30) == 0
    assert not workers_of(process.pid, port)


def test_a_port_another_socket_listens_on_is_refused(tmp_path: Path) -> None:
    # with SO_REUSEPORT alone, a second server of the same user would share the port
    # silently and answer some of its clients: the supervisor refuses it instead
    cli, env = initialised(tmp_path)
    for reuse in (False, True):
        with socket.socket() as holder:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(reuse))
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            done = subprocess.run(
                [*cli, "serve", "--port", str(port), "--workers", "2"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert done.returncode != 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert "in use" in done.stderr.lower(), done.stderr
