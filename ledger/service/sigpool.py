"""A large batch's signatures verified in child processes, off this process's GIL.

The verify threads (ledger.verify.batchverify) run libsodium without the GIL but need it
back after every signature. In a server the write transaction's thread holds it nearly
all the time, and a waiting thread takes it back only after the switch interval (5 ms):
a batch of 1,000 took 100-190 ms of wall time on two cores for ~56 ms of verifying, the
next batch's write waited for it, and the hand-offs slowed the writer too
(docs/PERFORMANCE.md, "procverify40"). The audit met the same wall and verifies in a
process (ledger.audit.sigproc). Here the server keeps a pool of children, one per core,
each running `ledger.verify.rawsig.serve`: `bad_raw` over `ledger.sigcheck.verifies`,
the very check every other path runs. They are started at first use and kept; a child
exits when this process closes its stdin (or dies).

What a child is trusted with: it is this process's own child, running this package's
code, fed only through pipes this process holds, as the verify threads are. It answers
which items do not verify. Each item is made here from the event as `entry.verify_event`
would verify it (`entry.signature_parts`), after the key id check that `verify_event`
does first; a success is remembered on the event (`entry.remember_verified`) so the
append does not verify it again. The lowest position that fails, by the key id or by a
child, is verified again here by `entry.verify_event`, whose error is the one reported:
the outcome is `batchverify.first_bad_signature`'s, position for position.

Nothing is lost on the way: a child that does not start, dies, has not taken its part
and answered within `ANSWER_WAIT` of the batch's hand-over, or answers out of shape
(more failures than it was sent, an index it was not sent) is stopped (another starts
at the next use) and its part is verified on the calling thread; whatever fails, a
child not given back to the pool is stopped, so no caller waits for one that will not
come back. A forked copy of this process starts its own children.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
import weakref
from collections.abc import Sequence

from ledger import entry
from ledger.audit.sigproc import child_command, widen
from ledger.errors import LedgerError
from ledger.service.pipes import read_exactly, stop_child, write_all
from ledger.verify import batchverify
from ledger.verify.batchverify import Bad, Job
from ledger.verify.rawsig import COUNT, INDEX, Raw, bad_raw, frame

#: batches of fewer signatures stay on the verify threads: below this the hand-over
#: (framing, two pipe hops, ~1.5 ms for 1,000) is a larger share of the work
PROCESS_FROM = 256
#: the children's niceness: the server's own threads (the event loop parsing the next
#: body, the writer under the log's lock) are the serial part of a batch, and take a
#: core first; the children verify in the gaps. Alternated against 0 on this project's
#: 2-core machine, batches ran faster in 22 of 30 pairs and the cores were busier in
#: every `bench.ingestsplit` pair (docs/PERFORMANCE.md, "flake51")
NICE = 10
#: seconds a caller waits for a busy child before it looks again whether one was dropped
_WAIT_STEP = 0.05
#: seconds a child may take to answer a part (~30 ms for 500 on an idle core) before it
#: is stopped and its part verified on the calling thread
ANSWER_WAIT = 30.0


def lower_priority(pid: int, nice: int) -> None:
    """Run process ``pid`` at niceness ``nice`` (or its own, if higher); where
    priorities cannot be set (not POSIX, or refused), it runs as it is."""
    try:
        now = os.getpriority(os.PRIO_PROCESS, pid)
        if now < nice:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
    except (AttributeError, OSError):  # no such call here, or the child already gone
        pass


class _Child:
    """One verifier child (`ledger.verify.rawsig.serve`) and its raw pipes."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
            child_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,  # raw pipes: `select` sees every byte not yet read
        )
        if self.proc.stdin is None or self.proc.stdout is None:
            raise OSError("no pipes")
        lower_priority(self.proc.pid, NICE)
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self._in, False)  # written with a deadline (`pipes.write_all`)
        widen(self._in)  # a part (~210 kB for 500) goes in one write
        self._finalizer = weakref.finalize(self, stop_child, self.proc)

    def send(self, items: list[Raw], deadline: float) -> None:
        """Hand ``items`` over before ``deadline`` (`time.monotonic`). Raises OSError
        if the child is gone or does not take them in time."""
        write_all(self._in, frame(items), deadline)

    def bad(self, items: list[Raw], deadline: float) -> list[int] | None:
        """The answer to the `send` of ``items``: the indices among theirs that do not
        verify; None if the child ended, did not answer before ``deadline`` or answered
        out of shape (then it is of no further use: `stop` it)."""
        head = read_exactly(self._out, COUNT.size, deadline)
        if head is None:
            return None
        (bad,) = COUNT.unpack(head)
        if bad > len(items):
            return None
        data = read_exactly(self._out, bad * INDEX.size, deadline) if bad else b""
        if data is None:
            return None
        found = [index for (index,) in INDEX.iter_unpack(data)]
        if not found:  # (the usual answer: nothing to check it against)
            return found
        sent = {item[0] for item in items}
        return found if all(index in sent for index in found) else None

    def stop(self) -> None:
        """End the child (once)."""
        self._finalizer()

    def forget(self) -> None:
        """In a forked copy of the process that started the child: leave the child (its
        parent's) alone at exit; only this copy's ends of its pipes are closed."""
        self._finalizer.detach()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class SignaturePool:
    """Up to ``size`` verifier children shared by this process's threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[_Child] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._made = 0  # children started and not stopped

    def bad(self, items: Sequence[Raw]) -> list[int]:
        """The indices (the items' own, first member) of ``items`` whose signature does
        not verify, ascending: what `bad_raw` returns, verified on as many children as
        are free (at least one, waited for), one part each, all within one
        `ANSWER_WAIT`. A part whose child fails is verified on this thread. Raises
        OSError if no child can start."""
        if not items:
            return []
        children = self._take()
        given_back: set[int] = set()
        try:
            deadline = time.monotonic() + ANSWER_WAIT
            size = -(-len(items) // len(children))
            parts = [list(items[i : i + size]) for i in range(0, len(items), size)]
            sent: list[tuple[_Child | None, list[Raw]]] = []
            for child, part in zip(children, parts, strict=False):
                try:
                    child.send(part, deadline)
                except (OSError, ValueError):  # gone or stuck: its part is verified below
                    sent.append((None, part))
                    continue
                sent.append((child, part))
            found: list[int] = []
            for verifier, part in sent:
                answer = None if verifier is None else _answer(verifier, part, deadline)
                if answer is not None and verifier is not None:
                    self._idle.put(verifier)
                    given_back.add(id(verifier))
                found.extend(bad_raw(part) if answer is None else answer)
            for child in children[len(parts) :]:
                self._idle.put(child)
                given_back.add(id(child))
            return sorted(found)
        finally:  # whatever failed, a child not given back is stopped: none is lost
            for child in children:
                if id(child) not in given_back:
                    self._drop(child)

    def _take(self) -> list[_Child]:
        """Every free child, starting new ones up to `size`; at least one (waiting for
        one to be given back when all are busy). Raises OSError if none can start."""
        taken: list[_Child] = []
        while len(taken) < self.size:
            try:
                taken.append(self._idle.get_nowait())
                continue
            except queue.Empty:
                pass
            with self._lock:
                start = self._made < self.size
                if start:
                    self._made += 1
            if start:
                try:
                    taken.append(_Child())
                except OSError:
                    with self._lock:
                        self._made -= 1
                    if not taken:
                        raise
                    break
            elif taken:
                break
            else:  # all busy: wait for one, asking again now and then (a busy child that
                # fails is dropped, not given back: then a new one may start)
                try:
                    taken.append(self._idle.get(timeout=_WAIT_STEP))
                except queue.Empty:
                    continue
        return taken

    def _drop(self, child: _Child) -> None:
        child.stop()
        with self._lock:
            self._made -= 1

    def close(self) -> None:
        """Stop the idle children (those in use are stopped when dropped)."""
        while True:
            try:
                self._drop(self._idle.get_nowait())
            except queue.Empty:
                return


def _answer(child: _Child, part: list[Raw], deadline: float) -> list[int] | None:
    """`_Child.bad`, None also when reading it fails (the child is then dropped)."""
    try:
        return child.bad(part, deadline)
    except (OSError, ValueError):
        return None


_pool: SignaturePool | None = None
_pool_lock = threading.Lock()


def _cores() -> int:
    return min(8, os.cpu_count() or 1)


def pool() -> SignaturePool | None:
    """This process's pool (one child a core, at most 8), made at first use; None on a
    machine with one core or without POSIX pipes, where the threads verify."""
    global _pool
    if _pool is None and os.name == "posix" and _cores() >= 2:
        with _pool_lock:
            if _pool is None:
                _pool = SignaturePool(_cores())
    return _pool


def _after_fork() -> None:
    # the children are the parent's: a forked copy must not write to their pipes, nor
    # stop them at its exit; it starts its own at first use. (A child another thread had
    # taken is not reached here: the copy keeps its end of that child's pipes open)
    global _pool, _pool_lock
    old, _pool, _pool_lock = _pool, None, threading.Lock()
    while old is not None:
        try:
            old._idle.get_nowait().forget()
        except queue.Empty:
            return


os.register_at_fork(after_in_child=_after_fork)


def first_bad_signature(jobs: Sequence[Job]) -> Bad:
    """`batchverify.first_bad_signature`, the same outcome: every job verified, the
    lowest bad position returned with what `entry.verify_event` raises for it, or None.
    From `PROCESS_FROM` jobs not verified yet, on the verifier children (see the
    module); else, or without a pool, on the verify threads."""
    pending = [job for job in jobs if not entry.verified_under(job[1], job[2])]
    workers = pool() if len(pending) >= PROCESS_FROM else None
    if workers is None:
        return batchverify.first_bad_signature(pending)
    suspects: set[int] = set()
    items: list[Raw] = []
    for position, signed, public in pending:
        try:
            if not entry.names_key(signed, public):
                suspects.add(position)  # `verify_event` refuses it below
                continue
            domain, message = entry.signature_parts(signed)
        except LedgerError:  # (a key of the wrong length, an event bound to no log)
            suspects.add(position)  # `verify_event` raises it below, in its order
            continue
        items.append((position, public, domain, message, signed.sig))
    try:
        suspects.update(workers.bad(items))
    except OSError:  # no child could start: the threads verify them all
        return batchverify.first_bad_signature(pending)
    for position, signed, public in pending:
        if position not in suspects:
            entry.remember_verified(signed, public)
    for position, signed, public in sorted(pending, key=lambda job: job[0]):
        if position in suspects:
            try:
                entry.verify_event(signed, public)
            except LedgerError as e:
                return position, e
    return None
