"""The parent's side of a child process's pipes: read exactly, stop the child.

Shared by the server's children (ledger.service.mapworker, ledger.service.sigpool), each
started by this process with raw pipes (``bufsize=0``) so that `select` sees every byte
not yet read.
"""

from __future__ import annotations

import os
import select
import subprocess
import time

from ledger.audit.sigproc import PIPE_SIZE


def read_exactly(fd: int, count: int, deadline: float) -> bytes | None:
    """``count`` bytes from the raw pipe ``fd`` (the parent's side), or None at its end
    or at ``deadline`` (`time.monotonic`)."""
    parts, got = [], 0
    while got < count:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return None
        part = os.read(fd, min(count - got, PIPE_SIZE))
        if not part:
            return None
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin (it exits at its end) and reap it; kill it if it lingers."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
