"""One verifier process beside an audit that uses no worker pool.

On the verify threads (ledger.verify.batchverify) each verification needs the GIL back
after libsodium returns, and the replay thread holds it: a waiting thread gets it after
the switch interval (5 ms), so while the replay runs the threads verify a few hundred
signatures a second and nearly all of them are checked after the replay, at the end
(docs/PERFORMANCE.md, "audit29, session 29": the wait for them was a quarter of the
audit's time on an idle machine). A separate process takes no GIL from the replay.

The worker pool (ledger.audit.workers) imports the ledger in spawned interpreters
(0.2-2 s), too slow to start for an audit of a few thousand entries. This process runs only
`ledger.verify.rawsig.serve` (it imports `ledger.sigcheck`, `ledger.errors` and PyNaCl's
compiled module, nothing else: ~20 ms), fed by the replay thread: each batch is one
`ledger.verify.rawsig.frame` written to its stdin (a 1 MiB pipe where Linux allows it);
each answer (the bad indices) comes back in order on its stdout. The replay never waits
for the process while it starts (the batches queue here); the pipes are used without
blocking on either side's full buffer (`select`), so neither side can wait for the other
forever. At the end this thread verifies the unanswered batches from the last one back
while the process answers from the first (`VerifierProcess.bad`).

Nothing is lost on the way: a batch whose answer never came (the process did not start,
died, or closed its pipe) is verified by `bad_raw` on this process when the audit asks
for the result, so every item is verified at least once, its answer taken once, and
the bad indices are the same list as verifying everything in order here
(tests/unit/test_sigproc.py).
"""

from __future__ import annotations

import importlib.util
import os
import select
import subprocess
import sys
from collections import deque
from pathlib import Path

import ledger
from ledger.verify.batchverify import start_event_signatures
from ledger.verify.rawsig import COUNT, INDEX, Raw, bad_raw, frame

#: audits of fewer entries verify on the threads: the process's start (~60 ms of another
#: core when this was chosen, ~15 ms since session 42: docs/PERFORMANCE.md "audit42") is
#: then comparable with the whole verification
PROCESS_FROM = 4_000

#: the bytes of batches the pipe has not taken yet, at most, before the replay waits for
#: the process (~10,000 items: the backlog of a process starting on a loaded machine)
WAITING = 1 << 22
_PIPE = 1 << 16  # bytes written at a time
#: the stdin pipe's size asked for (Linux's default limit: /proc/sys/fs/pipe-max-size)
PIPE_SIZE = 1 << 20

#: the directory that holds the `ledger` package this process runs: the child imports the
#: same code
_ROOT = str(Path(ledger.__file__).resolve().parent.parent)
#: the child runs without `site` (``-S``: its .pth files and path set-up were ~6 ms of
#: the child's ~35 ms start), given the directories it imports from on its command line:
#: this ledger's first, then those of PyNaCl and of its cffi backend as this process
#: found them. A child that cannot import them ends at once, and its work is done here
_CHILD = "import sys; sys.path[:0] = sys.argv[1:]; from ledger.verify.rawsig import serve; serve()"


def _import_dirs(names: tuple[str, ...]) -> list[str]:
    """The directories this process imports the top-level modules ``names`` from."""
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            where = Path(spec.origin).resolve().parent  # a package's directory, or a module's
            found.append(str(where.parent if spec.submodule_search_locations else where))
    return list(dict.fromkeys(found))


_PATHS = [_ROOT, *_import_dirs(("nacl", "_cffi_backend"))]


def child_command() -> list[str]:
    """The command that runs one verifier child (`ledger.verify.rawsig.serve`) with this
    interpreter: the audit's `VerifierProcess` and the server's pool
    (ledger.service.sigpool)."""
    return [sys.executable, "-P", "-S", "-c", _CHILD, *_PATHS]


def wanted(total: int, threads: int | None) -> bool:
    """Whether an audit of ``total`` entries that uses no worker pool verifies on one
    `VerifierProcess`: on POSIX machines with 2+ cores, from `PROCESS_FROM` entries, unless
    the caller chose a number of verify threads."""
    return (
        threads is None
        and total >= PROCESS_FROM
        and os.name == "posix"
        and (os.cpu_count() or 1) >= 2
    )


def widen(pipe: int) -> None:
    """Let the pipe hold `PIPE_SIZE` bytes (Linux; elsewhere it stays as it is): the
    replay writes only when it hands a batch over, so a 64 kB pipe held the process to
    about one batch per hand-off and it never caught up with what queued while it
    started (docs/PERFORMANCE.md, "audit29, session 29")."""
    try:
        import fcntl  # POSIX only

        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass


class VerifierProcess:
    """A child process verifying batches of `Raw` items in order (see the module)."""

    def __init__(self, command: list[str] | None = None) -> None:
        self._sent: deque[list[Raw]] = deque()  # batches without their answer yet
        self._read = bytearray()  # answers' bytes not parsed yet
        self._queued = bytearray()  # batches' bytes not written to the pipe yet
        self._bad: list[int] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._in = self._out = -1
        try:
            proc = self._proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
                command or child_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            if proc.stdin is None or proc.stdout is None:
                raise ValueError("no pipes")
            self._in, self._out = proc.stdin.fileno(), proc.stdout.fileno()
            os.set_blocking(self._in, False)
            os.set_blocking(self._out, False)
            widen(self._in)
        except (OSError, ValueError):
            self._stop()

    def send(self, items: list[Raw]) -> None:
        """Hand ``items`` over (their answer is read meanwhile or by `bad`). Never waits
        for the process while fewer than `WAITING` bytes are queued for its pipe (it
        may still be starting): what the pipe does not take now is written later."""
        self._sent.append(items)
        if self._proc is None:
            return  # verified here by `bad`
        try:
            self._queued += frame(items)
            self._pump(WAITING)
        except (OSError, ValueError):  # the process is gone (or the batch cannot be
            self._stop()  # framed): what it did not answer is verified here

    def _pump(self, keep: int) -> None:
        """Write what the pipe takes and read what the process answered, waiting for
        the process (`select`) only until at most ``keep`` bytes are left queued."""
        queued = self._queued
        while True:
            if queued:
                try:
                    del queued[: os.write(self._in, bytes(queued[:_PIPE]))]
                except BlockingIOError:
                    pass
            if not self._receive():
                raise BrokenPipeError("the verifier process ended")
            if len(queued) <= keep:
                return
            select.select([self._out], [self._in] if queued else [], [])

    def bad(self) -> list[int]:
        """Wait for every answer; the indices of the items that do not verify, ascending.

        Meanwhile this thread verifies the batches still unanswered from the last one
        backwards (the process answers from the first): when the two meet every batch
        has been verified once by one of them, and the process, now only repeating
        this thread's work, is ended. Its answers come in order, so an answer is taken
        for the first unanswered batch while one is left (`_receive`), and a batch this
        thread has taken is never also taken from the process."""
        here: list[int] = []
        if self._proc is not None:
            try:
                while self._sent:
                    self._pump(len(self._queued))  # writes what the pipe takes, reads answers
                    if self._sent:
                        here.extend(bad_raw(self._sent.pop()))
            except OSError:  # the process ended early: the rest is verified below
                pass
            self._stop()
        if self._sent:  # never answered: verified on this process
            wait = start_event_signatures([item for batch in self._sent for item in batch])
            self._bad.extend(wait())
            self._sent.clear()
        self._bad.extend(here)
        return sorted(self._bad)

    def close(self) -> None:
        """End the process without waiting for its answers (an audit that failed)."""
        self._stop()

    def _receive(self) -> bool:
        """Read what the process has written and take the complete answers (False: it
        closed its side)."""
        try:
            chunk = os.read(self._out, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self._read += chunk
        data = self._read
        at = 0
        while self._sent and len(data) - at >= COUNT.size:
            (count,) = COUNT.unpack_from(data, at)
            end = at + COUNT.size + count * INDEX.size
            if len(data) < end:
                break
            self._bad.extend(i for (i,) in INDEX.iter_unpack(data[at + COUNT.size : end]))
            self._sent.popleft()
            at = end
        del data[:at]
        return True

    def _stop(self) -> None:
        """End the process (what it is still doing is not needed) and close its pipes."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
        proc.wait()
