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


def _ready(fd: int, events: int, deadline: float) -> bool:
    """Whether ``fd`` is ready for ``events`` (or at its end) before ``deadline``
    (`time.monotonic`). `select.poll`, not `select.select`: a server with many sockets
    has descriptors above 1023, which `select` refuses."""
    poller = select.poll()
    poller.register(fd, events)
    wait = max(0.0, deadline - time.monotonic())
    return bool(poller.poll(wait * 1000))


def readable(fd: int) -> bool:
    """Whether the raw pipe ``fd`` has bytes (or its end) to read now."""
    return _ready(fd, select.POLLIN, 0.0)


def read_exactly(fd: int, count: int, deadline: float) -> bytes | None:
    """``count`` bytes from the raw pipe ``fd`` (the parent's side), or None at its end
    or at ``deadline`` (`time.monotonic`)."""
    parts, got = [], 0
    while got < count:
        if not _ready(fd, select.POLLIN, deadline):
            return None
        part = os.read(fd, min(count - got, PIPE_SIZE))
        if not part:
            return None
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def write_all(fd: int, data: bytes, deadline: float) -> None:
    """Write all of ``data`` to the non-blocking pipe ``fd`` before ``deadline``.

    Raises:
        TimeoutError: the reader did not take it all in time.
        OSError: the reader is gone (BrokenPipeError) or the write failed.
    """
    view = memoryview(data)
    while view:
        if not _ready(fd, select.POLLOUT, deadline):
            raise TimeoutError("the child did not read its input in time")
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue


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
