"""One verifier process beside an audit that uses no worker pool.

On the verify threads (ledger.verify.batchverify) each verification needs the GIL back
after libsodium returns, and the replay thread holds it: a waiting thread gets it after
the switch interval (5 ms), so while the replay runs the threads verify a few hundred
signatures a second and nearly all of them are checked after the replay, at the end
(docs/PERFORMANCE.md, "audit29, session 29": the wait for them was a quarter of the
audit's time on an idle machine). A separate process takes no GIL from the replay.

The worker pool (ledger.audit.workers) imports the ledger in spawned interpreters
(0.2-2 s), too slow to start for an audit of a few thousand entries. This process runs
only `ledger.verify.rawsig.serve` (it imports `ledger.crypto` and nothing else of the
ledger: ~60 ms), fed by the replay thread: each batch is one pickle written to its
stdin; each answer (the bad indices) comes back in order on its stdout. The pipes are
used without blocking on either side's full buffer (`select`), so neither side can
wait for the other forever.

Nothing is lost on the way: a batch whose answer never came (the process did not start,
died, or closed its pipe) is verified by `bad_raw` on this process when the audit asks
for the result, so every item is verified exactly once by some path, and the bad
indices are the same list as verifying everything in order here
(tests/unit/test_sigproc.py).
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

import ledger
from ledger.verify.batchverify import start_event_signatures
from ledger.verify.rawsig import COUNT, INDEX, Raw

#: audits of fewer entries verify on the threads: the process's start (~60 ms of another
#: core) is then comparable with the whole verification
PROCESS_FROM = 4_000

#: the directory that holds the `ledger` package this process runs: the child imports the
#: same code
#: the bytes of batches the pipe has not taken yet, at most, before the replay waits for
#: the process (~10,000 items: the backlog of a process starting on a loaded machine)
WAITING = 1 << 22
_PIPE = 1 << 16  # bytes written at a time

_ROOT = str(Path(ledger.__file__).resolve().parent.parent)
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from ledger.verify.rawsig import serve; serve()"
)


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


class VerifierProcess:
    """A child process verifying batches of `Raw` items in order (see the module)."""

    def __init__(self, command: list[str] | None = None) -> None:
        self._sent: deque[list[Raw]] = deque()  # batches without their answer yet
        self._read = bytearray()  # answers' bytes not parsed yet
        self._queued = bytearray()  # batches' bytes not written to the pipe yet
        #: [size, bytes not yet written] of each batch with bytes in `_queued`: the last
        #: ones of `_sent`, in order
        self._unwritten: deque[list[int]] = deque()
        self._bad: list[int] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdin: IO[bytes] | None = None
        self._in = self._out = -1
        try:
            proc = self._proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
                command or [sys.executable, "-P", "-c", _CHILD, _ROOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            if proc.stdin is None or proc.stdout is None:
                raise ValueError("no pipes")
            self._stdin = proc.stdin
            self._in, self._out = proc.stdin.fileno(), proc.stdout.fileno()
            os.set_blocking(self._in, False)
            os.set_blocking(self._out, False)
        except (OSError, ValueError):
            self._stop()

    def send(self, items: list[Raw]) -> None:
        """Hand ``items`` over (their answer is read meanwhile or by `bad`). Never waits
        for the process while fewer than `WAITING` bytes are queued for its pipe (it
        may still be starting): what the pipe does not take now is written later."""
        self._sent.append(items)
        if self._proc is None:
            return  # verified here by `bad`
        data = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
        self._queued += data
        self._unwritten.append([len(data), len(data)])
        try:
            self._pump(WAITING)
        except OSError:  # the process is gone: what it did not answer is verified here
            self._stop()

    def _pump(self, keep: int) -> None:
        """Write what the pipe takes and read what the process answered, waiting for
        the process (`select`) only until at most ``keep`` bytes are left queued."""
        queued = self._queued
        while True:
            if queued:
                try:
                    self._written(os.write(self._in, bytes(queued[:_PIPE])))
                except BlockingIOError:
                    pass
            if not self._receive():
                raise BrokenPipeError("the verifier process ended")
            if len(queued) <= keep:
                return
            select.select([self._out], [self._in] if queued else [], [])

    def _written(self, count: int) -> None:
        del self._queued[:count]
        unwritten = self._unwritten
        while count:
            first = unwritten[0]
            done = min(count, first[1])
            first[1] -= done
            count -= done
            if not first[1]:
                unwritten.popleft()

    def bad(self) -> list[int]:
        """Wait for every answer; the indices of the items that do not verify, ascending.

        The batches the process has not begun to receive (it fell behind: a loaded
        machine) are taken back and verified here, on the verify threads, while it
        finishes the others."""
        here: Callable[[], list[int]] = list
        if self._proc is not None and self._stdin is not None:
            taken = self._take_back()
            if taken:  # on the threads while this one waits for the process
                here = start_event_signatures(taken)
            try:
                self._pump(0)
                self._stdin.close()  # the process answers what it has, then ends
                os.set_blocking(self._out, True)
                while self._sent and self._receive():
                    pass
            except OSError:
                pass
            self._stop()
        if self._sent:  # never answered: verified on this process
            wait = start_event_signatures([item for batch in self._sent for item in batch])
            self._bad.extend(wait())
            self._sent.clear()
        self._bad.extend(here())
        return sorted(self._bad)

    def _take_back(self) -> list[Raw]:
        """Drop from `_sent` and `_queued` the last batches none of whose bytes were
        written (a batch begun is finished by the process); return their items."""
        unwritten = self._unwritten
        begun = 1 if unwritten and unwritten[0][1] < unwritten[0][0] else 0
        taken: list[Raw] = []
        while len(unwritten) > begun:
            size, _ = unwritten.pop()
            del self._queued[len(self._queued) - size :]
            taken[:0] = self._sent.pop()
        return taken

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
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
        try:
            proc.wait(timeout=0 if self._sent else 5)  # all answered: it is ending
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
