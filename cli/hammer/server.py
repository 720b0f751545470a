"""A real API server in a child process: start it, wait until it answers, SIGKILL it.

The server is ``uvicorn --factory api.app:app_from_env`` configured by environment
variables (ledger/service/settings.py), on a loopback port. It runs in a process group of its
own, so that killing the group also kills uvicorn's worker processes. Used by the
hammer and by the end-to-end tests (tests/e2e/server.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

READY_TIMEOUT = 120.0  # seconds; a busy two-core machine may need most of it


class ServerStartError(RuntimeError):
    """The server did not answer ``/healthz`` in time (or exited)."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """One uvicorn server (``workers`` processes) on ``127.0.0.1:port``."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    workers: int = 1
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The command line that `start` runs."""
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            # the client is the socket peer (PROVENANCE_TRUSTED_PROXIES decides whom to
            # believe), and no access log records a client's address
            "--no-proxy-headers",
            "--no-access-log",
            "--http",  # unreadable requests refused as problem+json (api.httpproto)
            "api.httpproto:PROTOCOL",
        ]

    def start(self) -> None:
        """Spawn the server (not waiting for it; see `wait_ready`)."""
        command = self.command()
        if self.log_file is not None and self._log is None:
            self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=self._log or None,
            start_new_session=True,  # its own process group: killpg reaches the workers
        )

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll ``/healthz`` until it answers 200.

        Raises:
            ServerStartError: the server exited or did not answer within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerStartError(f"the server exited (code {self._code()}){self._tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ServerStartError(f"the server did not answer /healthz in {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL the whole process group (no shutdown, no flush) and reap it."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing the group if it takes over 15 s."""
        self._signal(signal.SIGTERM)
        if self.process is None:
            return
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass  # already gone

    def _code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def _tail(self) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        lines = self.log_file.read_text(errors="replace").strip().splitlines()
        return f": {lines[-1]}" if lines else ""
