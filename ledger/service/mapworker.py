"""The map of heads' update for a large batch, in a child process beside the append.

(A group of single events, ledger.service.groupcommit, from `GROUP_EARLY_FROM` new
units, is handed over as a batch is: what follows says "batch" for both.)

A batch of 1,000 new units into a map of 10^5 keys costs the append ~24 ms of one
core in `BucketMap.update` and `rows` (docs/PERFORMANCE.md, "mapproc31"), all of it
Python, so a thread would only trade the GIL with the append; the append's own work
under the log's lock (the rules, the leaves' rows, the entries' and records' inserts,
~40 ms) leaves the second core idle meanwhile. `MapWorker` hands the update to one
child process per ledger as soon as the append knows the batch's heads, and collects
the new root and the changed buckets' rows when the append writes the map.

What the child computes is never trusted beyond what the append itself would have
computed:

- it runs the same `BucketMap` over the same stored buckets: the stored root row the
  append read inside its write transaction (the log's write lock held, so no other
  writer changes the map until this one commits) and, below the cached top, the
  committed buckets read through the child's own connection (the map this transaction
  has not written yet);
- the unit entries it is given are predicted (`ledger.map.heads.unit_entries`: each new
  unit event lands at the next index), and it computes their heads itself
  (`unit_heads_of`: each unit's key at its last entry); the append uses the answer only
  if the entries its own loop then added are exactly those, else it updates the map
  itself, as it does for small batches, registry events, a rebuilt map, or a child
  that is missing, slow, dead or failed;
- the root it gives goes into the checkpoint the log signs, and every audit replays
  the map from the entries and compares every signed root (docs/AUDIT.md).

The child also writes the rows, after the append commits: it answers a request with
the new root and the root's bucket only, and keeps the other rows; the append signs the
root, records in its transaction that the stored map is still that of the log's size
before the batch (`LogHead.map_size`; `defer`) and commits; then `release` has
the child write the rows in a transaction of its own, which lands only if the stored
map is still that one (the log's row says so: no other writer caught it up meanwhile),
and the log's next append waits for that (`settle`) before it opens its transaction.
Writing ~2,000 bucket rows, their WAL frames and their fsync (~19 ms a batch of 1,000
at 10^5 keys, docs/PERFORMANCE.md "mapdefer34") so leave the append's transaction for
the second core. A write that never lands (the child killed, or this process) leaves
the stored map behind the log: readers then serve the checkpoint at the map's size
(ledger.service.mapproofs), and the next append catches the map up from the entries
(ledger.service.headmap). While another process appends the same log (`crowded`), the
rows come back with the root and the append writes them, as before.

The child is `ledger.service.mapchild.serve`, run by this interpreter (``-P -c``, this
checkout's `ledger` first on its path); it learns the database's URL from its stdin,
never from its command line (which other users of the host can read). Messages are
pickles framed by their length, one request at a time, each answer tagged with its
request's number so an answer nobody collected (an append that raised) is skipped.
It exits when its stdin closes: when the ledger closes it, or when this process dies.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Any

import ledger
from ledger.audit.sigproc import widen
from ledger.errors import StorageError
from ledger.map import bucketmap
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import decode
from ledger.map.update import ROOT
from ledger.service.pipes import read_exactly, readable, stop_child

#: batches moving fewer keys update the map in the append (the hand-over's fixed cost,
#: ~1 ms, is then most of the update)
EARLY_FROM = 256
#: the same for a group of single events (group commit, `Appender.append_each`): its
#: writer shares one GIL with the server's event loop, and single events are bound by
#: that GIL, not by the wall time of a group, so a group hands its update to the child
#: (the second core's) from far fewer keys: 32 clients' single events 2,814-2,984 ->
#: 3,243-3,359 events/s on SQLite (docs/PERFORMANCE.md, "loop49")
GROUP_EARLY_FROM = 16
#: seconds the append (holding the log's write lock) waits for an answer before it stops
#: the child and updates the map itself (an answer takes ~25 ms at 10^5 keys)
ANSWER_WAIT = 5.0
#: seconds before a child that died or failed to start is started again
RESTART_AFTER = 60.0
#: seconds a process that met another writer of its log (`crowded`) has its batches'
#: map rows written in their own transactions, not left to the child
CROWDED_FOR = 30.0
_LENGTH = struct.Struct(">Q")
_log = logging.getLogger("provenance.map")
_ROOT_DIR = str(Path(ledger.__file__).resolve().parent.parent)
#: the source files of the code that updates, encodes and reads the map, as this
#: process loaded them (the child reads them again when it starts)
_MAP_CODE = (
    "map/bucketmap.py",
    "map/buckets.py",
    "map/trie.py",
    "map/update.py",
    "service/headmap.py",
    "service/mapchild.py",
    "service/mapworker.py",
    "store/database.py",
    "store/mapnodes.py",
)


def _code_id() -> bytes:
    digest = hashlib.sha256()
    for name in _MAP_CODE:
        try:
            digest.update((Path(ledger.__file__).parent / name).read_bytes())
        except OSError:
            digest.update(b"missing " + name.encode())
    # the walk the process loaded: its compiled module (as built) or the Python
    walk = bucketmap.compiled_walk
    digest.update(b"python" if walk is None else walk.SOURCE_SHA256.encode())
    return digest.digest()


#: the map code's fingerprint (`_code_id`) when this module was imported: a child whose
#: own differs is not used
CODE_ID = _code_id()
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from ledger.service.mapchild import serve; serve()"
)

#: (request number, the request's SHA-256, root hash, the root's bucket row); (number,
#: digest, None, the failure's text); a write's (number, digest, None, `WROTE` or
#: `STALE` or the failure's text); the ready line is (0, the child's `CODE_ID`, None,
#: "ready")
Answer = tuple[int, bytes, bytes | None, Any]
#: a write request's tag (its message: ``(WRITE, request number, size)``)
WRITE = "write"
#: the child's answers to a write: the rows landed; the stored map was no longer the
#: one of that size (another writer caught it up), nothing written
WROTE, STALE = "wrote", "stale"


def send(pipe: IO[bytes], message: object) -> bytes:
    """Write ``message`` whole (a raw pipe may take part of a write at a time); return
    the SHA-256 of its pickle (an answer names the request it answers by it)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[pipe.write(view) or 0 :]
    pipe.flush()
    return hashlib.sha256(data).digest()


def receive(pipe: IO[bytes]) -> tuple[Any, bytes] | None:
    """The next message on a blocking stream and the SHA-256 of its pickle, or None at
    its end (the child's side)."""
    head = pipe.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    data = pipe.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data), hashlib.sha256(data).digest()  # noqa: S301 - our own parent


def _answer(fd: int, deadline: float) -> Answer | None:
    """The child's next answer, or None (its end, or ``deadline`` passed)."""
    head = read_exactly(fd, _LENGTH.size, deadline)
    if head is None:
        return None
    data = read_exactly(fd, _LENGTH.unpack(head)[0], deadline)
    if data is None:
        return None
    try:
        number, digest, root, rows = pickle.loads(data)  # noqa: S301 - our own child's pipe
    except Exception:
        return None
    return number, digest, root, rows


class MapWorker:
    """One child process updating one log's map (see the module doc).

    ``url`` is the database's (the primary's) URL, ``log`` the log's number in it.
    Thread-safe: a request and its answer are exchanged under one lock, and the log's
    write lock already lets one append of the log at a time reach it.
    """

    def __init__(self, url: str, log: int, command: list[str] | None = None) -> None:
        self._url = url
        self._log = log
        self._command = command or [sys.executable, "-P", "-c", _CHILD, _ROOT_DIR]
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._failed_at = -RESTART_AFTER
        self._number = 0
        self._waiting: int | None = None  # the request whose answer is not read yet
        self._digest = b""  # its pickle's SHA-256, which its answer must name
        #: (request, the log's size before its batch): rows the child keeps, to write
        #: once the append that took them commits (`defer`, `release`)
        self._deferred: tuple[int, int] | None = None
        #: (request, the write message's SHA-256): a write asked for, not acknowledged
        self._writing: tuple[int, bytes] | None = None
        #: until when (`time.monotonic`) the rows are not left to the child (`crowded`)
        self._crowded_until = 0.0
        self._pid = os.getpid()  # the process that started the child
        self._ready = False  # the child said it is ready (`serve`'s first answer)
        self._lock = threading.Lock()
        #: notified when a deferral is released or abandoned (`settle` waits for it)
        self._undeferred = threading.Condition(self._lock)
        self._closed = False

    def crowded(self) -> None:
        """Another process appends this log too: an append of this one found the map
        behind it (that process's child had not written its rows), or this child's
        write found the map caught up. For `CROWDED_FOR` seconds the rows are handed
        back with the root and written in the append's transaction (`is_crowded`): two
        writers that each left their rows to a child would each catch up the other's
        batch in its own transaction."""
        self._crowded_until = time.monotonic() + CROWDED_FOR

    def is_crowded(self) -> bool:
        """Whether another writer was met within `CROWDED_FOR` seconds (`crowded`)."""
        return time.monotonic() < self._crowded_until

    def submit(
        self, root_row: bytes | None, units: list[tuple[int, bytes, str, str]], keep: bool = True
    ) -> int | None:
        """Ask for the update of the map whose stored root row is ``root_row`` (None: an
        empty map) by the heads of ``units`` (each unit entry's index, leaf hash, GTIN-14
        and serial, in log order: `ledger.map.heads.unit_heads_of`); the request's number
        for `result`, or None when no child can take it (then the caller updates the map
        itself). ``keep``: the child answers the root's bucket row only and keeps the
        other rows for `release`; else it answers them all."""
        with self._lock:
            proc = self._running()
            if proc is None or proc.stdin is None or proc.stdout is None:
                return None
            if not self._is_ready(proc, time.monotonic()):
                # still starting (~0.5-1 s of imports): the append does this one itself
                # rather than wait for the child
                return None
            if self._writing is not None:
                if proc.stdout is None or not readable(proc.stdout.fileno()):
                    # the child is still writing (it waits for this transaction's lock:
                    # waiting for it here would wait for ourselves): do this one here
                    return None
                self._settle(proc, ANSWER_WAIT)
                if self._proc is None:
                    return None
            if self._waiting is not None:
                # an answer nobody collected (its append raised): read it first, so that
                # neither side waits on a full pipe the other does not read
                self._collect(proc, self._waiting, ANSWER_WAIT)
                if self._proc is None:
                    return None
            self._number += 1
            try:
                self._digest = send(proc.stdin, (self._number, root_row, units, keep))
            except (OSError, ValueError):
                self._fail()
                return None
            self._waiting = self._number
            return self._number

    def result(self, number: int, wait: float = ANSWER_WAIT) -> tuple[bytes, list[Any]] | None:
        """The root hash and the changed buckets' rows (`BucketMap.rows`; the root's
        only, as ``[(ROOT, row)]``, when the request said ``keep``: the child keeps the
        others for `defer` and `release`) answering request ``number``; None when the
        child failed, died or did not answer within ``wait`` seconds (it is then
        stopped, and started again later)."""
        with self._lock:
            proc = self._proc
            if proc is None or self._waiting != number or self._pid != os.getpid():
                return None
            return self._collect(proc, number, wait)

    def _collect(
        self, proc: subprocess.Popen[bytes], number: int, wait: float
    ) -> tuple[bytes, list[Any]] | None:
        """Read answers up to request ``number``'s (see `result`)."""
        self._waiting, expected = None, self._digest
        if proc.stdout is None:
            return None
        deadline = time.monotonic() + wait
        while True:
            answer = _answer(proc.stdout.fileno(), deadline)
            if answer is None:
                self._fail()
                return None
            got, digest, root, rows = answer
            if got < number:
                continue  # the ready line, or an earlier answer (not expected: one is
                # in flight at a time)
            if got != number or digest != expected or root is None:
                return None  # the child's update failed (or answered something else)
            return root, rows

    def defer(self, number: int, size: int) -> None:
        """The append that took request ``number``'s answer signs its root without its
        rows: its transaction records that the stored map stays that of the log's first
        ``size`` entries, and `release` has the child write the rows once it commits
        (`abandon` if it does not)."""
        with self._lock:
            self._deferred = (number, size)

    def abandon(self, number: int) -> None:
        """The append that deferred request ``number``'s rows (`defer`) did not commit:
        nothing is written (the child drops the rows at its next request)."""
        with self._lock:
            if self._deferred is not None and self._deferred[0] == number:
                self._deferred = None
                self._undeferred.notify_all()

    def release(self, number: int) -> None:
        """The append that deferred request ``number``'s rows (`defer`) committed: have
        the child write them now, in a transaction of its own that lands only if the
        stored map is still the one of the size `defer` named (else another writer
        caught it up, and nothing is written). Does not wait (`settle` does)."""
        with self._lock:
            deferred = self._deferred
            if deferred is None or deferred[0] != number:
                return
            self._deferred = None
            self._undeferred.notify_all()
            proc = self._proc
            if proc is None or proc.stdin is None or self._pid != os.getpid():
                return
            try:
                digest = send(proc.stdin, (WRITE, *deferred))
            except (OSError, ValueError):
                self._fail()
                return
            self._writing = (deferred[0], digest)

    def pending(self) -> bool:
        """Whether rows are left to the child and not yet written (deferred by an append
        of this process, or released and not acknowledged)."""
        with self._lock:
            return self._deferred is not None or self._writing is not None

    def settle(self, wait: float = ANSWER_WAIT) -> None:
        """Wait up to ``wait`` seconds for the rows an append of this process left to
        the child to be written: for that append to commit and release them (or to
        abandon them), then for the child's write (a child that does not answer in time
        is stopped: the next append then catches the map up itself). The log's appends
        call it before their write transaction, so that they find the map the child
        wrote instead of catching it up."""
        with self._lock:
            self._undeferred.wait_for(lambda: self._deferred is None, timeout=wait)
            proc = self._proc
            if proc is not None and self._writing is not None and self._pid == os.getpid():
                self._settle(proc, wait)

    def _settle(self, proc: subprocess.Popen[bytes], wait: float) -> None:
        """Read the acknowledgement of the write in `_writing` (see `settle`; set)."""
        if self._writing is None:
            return
        (number, digest), self._writing = self._writing, None
        if proc.stdout is None:
            return
        answer = _answer(proc.stdout.fileno(), time.monotonic() + wait)
        if answer is None:  # died, or too slow: the map is caught up without it
            self._fail()
            return
        got, named, _root, outcome = answer
        if got != number or named != digest:
            self._fail()  # not the answer expected: the exchange is out of step
        elif outcome == STALE:  # another writer caught the map up first
            self.crowded()
        elif outcome != WROTE:  # the next append catches the map up
            _log.warning("the map's child could not write a batch's map rows: %s", outcome)

    def started(self, wait: float) -> bool:
        """Start the child if it is not running and wait up to ``wait`` seconds for it
        to be ready; whether it is."""
        with self._lock:
            proc = self._running()
            return proc is not None and self._is_ready(proc, time.monotonic() + wait)

    def _is_ready(self, proc: subprocess.Popen[bytes], deadline: float) -> bool:
        """Whether the child has said it is ready (`serve`'s first answer), waiting for
        that until ``deadline`` at most."""
        if not self._ready:
            said = None if proc.stdout is None else _answer(proc.stdout.fileno(), deadline)
            if said is None:
                if proc.poll() is not None:
                    self._fail()
                return False
            if said[:2] != (0, CODE_ID):
                # not the code this process runs (e.g. installed over it since it began):
                # its updates could differ from ours, so it is not used
                self._fail()
                return False
            self._ready = True
        return True

    def close(self) -> None:
        """Stop the child, once its write (`release`) is done (waits for it at most
        `ANSWER_WAIT` and then ~2 s)."""
        with self._lock:
            proc = self._proc
            if proc is not None and self._writing is not None and self._pid == os.getpid():
                self._settle(proc, ANSWER_WAIT)
            self._closed = True
            self._halt()

    def _running(self) -> subprocess.Popen[bytes] | None:
        if self._closed:
            return None
        if self._pid != os.getpid():
            # a forked copy of the process that started the child: the child is that
            # process's (its answers must not be read here): this copy closes only its own
            # copies of the pipes, which leaves the child's ends open, and starts its own
            if self._finalizer is not None:
                self._finalizer.detach()
            for pipe in () if self._proc is None else (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
            self._finalizer, self._proc, self._waiting = None, None, None
            self._deferred, self._writing = None, None
            self._pid, self._failed_at = os.getpid(), -RESTART_AFTER
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._proc is not None:
            self._fail()
        if time.monotonic() - self._failed_at < RESTART_AFTER:
            return None
        try:
            proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,  # raw pipes: `select` then sees every byte not yet read
            )
            if proc.stdin is None or proc.stdout is None:
                raise ValueError("no pipes")
            widen(proc.stdin.fileno())
            widen(proc.stdout.fileno())
            send(proc.stdin, (self._url, self._log))
        except (OSError, ValueError):
            self._failed_at = time.monotonic()
            return None
        self._proc = proc
        self._ready = False
        self._finalizer = weakref.finalize(self, stop_child, proc)
        return proc

    def _fail(self) -> None:
        self._failed_at = time.monotonic()
        self._halt()

    def _halt(self) -> None:
        self._waiting, self._deferred, self._writing = None, None, None
        if self._finalizer is not None:
            self._finalizer()  # stops the child once
            self._finalizer = None
        self._proc = None


def adopted(rows: Any) -> BucketMap | None:
    """A map holding only the root bucket found in ``rows`` (the child's answer); None
    when there is none or the rows are not (position, bucket row) pairs that decode."""
    try:
        for pos, data in rows:
            if pos == ROOT:
                return BucketMap(root_bucket=decode(data))
    except (TypeError, ValueError, StorageError):  # CorruptBucketError is a StorageError
        return None
    return None


__all__ = [
    "CODE_ID",
    "EARLY_FROM",
    "GROUP_EARLY_FROM",
    "STALE",
    "WRITE",
    "WROTE",
    "Answer",
    "MapWorker",
    "adopted",
    "receive",
    "send",
]
