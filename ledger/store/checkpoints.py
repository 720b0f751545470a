"""SQLite's WAL checkpoints, run off the committing thread.

SQLite's own autocheckpoint runs inside the connection that commits, right after its
commit, once the WAL holds 1,000 frames: on a large map that checkpoint (~2,000 pages
copied into the database file and fsynced) was half of what the map added to an append's
commit (docs/PERFORMANCE.md, "map28"). The store's writing connections therefore run
with ``wal_autocheckpoint=0``, and after each of their commits tell the engine set's
`Checkpointer`, which reads how far the WAL is ahead of the database from the WAL-index
(the ``-shm`` file, ~2 us) and, past `Checkpointer.frames` frames not yet copied, wakes
its daemon thread. That thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own
connection; sqlite3 releases the GIL while the checkpoint copies and fsyncs, so its I/O
overlaps the next batch's Python.

What does not change: each commit still fsyncs the WAL (``synchronous=FULL`` on the
writer), and a checkpoint is SQLite's own crash-safe copy whichever connection runs it,
so a crash (SIGKILL included) loses nothing committed. A PASSIVE checkpoint never waits
for a reader or a writer; one that finds another process's checkpoint running (uvicorn
workers on one file, each with its checkpointer) answers busy and is skipped: the other
one is doing the work.

The WAL stays bounded: if the thread falls behind (the WAL file's used length reaches
`Checkpointer.bound` frames, or the thread cannot run), the committing connection
checkpoints itself after its commit, as SQLite's autocheckpoint did, first waiting for
this process's running checkpoint to end. The WAL restarts from its beginning at the
first write after a checkpoint has copied every frame (no reader on an older snapshot),
so the file is reused rather than grown.

`WalSyncer` is for a writer whose commits do not fsync (``synchronous=NORMAL``: the
map's child process, whose lost writes are caught up from the log): a thread of its
own flushes the WAL file after each of its writes, so that the appends' next commit
(which does fsync the WAL, whole) seldom has those frames left to flush.

The WAL-index header read is the documented format (https://www.sqlite.org/walformat.html,
"The WAL-Index Header", version 3007000 since SQLite 3.7.0, native byte order). It only
decides when to wake the thread: a header that does not read as expected wakes it after
every commit, and the thread's PRAGMA answers from SQLite itself.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
import weakref
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)

#: frames not yet copied into the database at which a commit wakes the thread (SQLite's
#: own autocheckpoint threshold)
DEFAULT_FRAMES = 1000
#: WAL length in frames at which the committing connection checkpoints itself (64 MiB
#: of 4 KiB pages)
DEFAULT_BOUND = 16_000

_WAL_INDEX_VERSION = 3007000
#: iVersion (u32) at 0, mxFrame (u32) at 16 of the first header copy; nBackfill (u32)
#: at 96, in the checkpoint information after the header's two copies of 48 bytes
_HEADER = struct.Struct("=I12xI")
_BACKFILL = struct.Struct("=I")
_BACKFILL_AT = 96

#: every live checkpointer, so that a forked child starts its own thread (below)
_LIVE: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


class Checkpointer:
    """Checkpoints one SQLite database's WAL in a daemon thread of its own, woken by
    the commits of the store's writing connections (`committed`).

    The thread and its connection are made at the first wake, so a store that never
    writes starts none; `close` stops the thread and closes its connection.
    """

    def __init__(self, path: Path, *, frames: int = DEFAULT_FRAMES, bound: int = DEFAULT_BOUND):
        self.path = path
        #: frames not yet copied into the database at which a commit wakes the thread
        self.frames = frames
        #: WAL length (frames) at which a commit checkpoints on its own connection
        self.bound = bound
        #: checkpoints the thread ran, found busy (another checkpoint running), and run
        #: by committing connections themselves (the bound reached)
        self.runs = 0
        self.busy = 0
        self.inline = 0
        self._closed = False
        self._shm: int | None = None  # the WAL-index file, opened at the first commit
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        self._wake = threading.Event()
        #: held while this process runs a checkpoint (the thread's or a commit's own)
        self._running = threading.Lock()
        self._guard = threading.Lock()  # starting and stopping the thread
        self._thread: threading.Thread | None = None

    def committed(self, connection: sqlite3.Connection) -> None:
        """Called by a writing connection right after its commit: wake the thread once
        the WAL holds `frames` frames not yet in the database, or, past `bound` (the
        thread behind or not running), checkpoint on ``connection`` now (PASSIVE: a
        reader or another process's checkpoint is never waited for)."""
        pending, length = self._wal_frames()
        if length >= self.bound:
            self.checkpoint_inline(connection)
        elif pending >= self.frames and not self._start():
            self.checkpoint_inline(connection)  # closed: nobody else will

    def checkpoint_inline(self, connection: sqlite3.Connection) -> None:
        """Run a PASSIVE checkpoint on ``connection`` (outside any transaction), after
        this process's running one ends; a busy or failing checkpoint is logged and
        left for the next commit."""
        with self._running:
            row = self._passive(connection)
            if row is False:
                return
        self.inline += 1
        if row is not None and row[0]:
            self.busy += 1

    def _passive(self, connection: sqlite3.Connection) -> Any:
        """``PRAGMA wal_checkpoint(PASSIVE)``'s row on ``connection`` (busy, frames,
        copied), or False when it failed (logged; the next commit tries again)."""
        try:
            return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as e:
            _log.warning("WAL checkpoint of %s failed: %s", self.path, e)
            return False

    def close(self) -> None:
        """Stop the thread after its running checkpoint, and close its connection."""
        with self._guard:
            self._closed = True
            thread, self._thread = self._thread, None
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._guard:
            shm, self._shm = self._shm, None
        if shm is not None:
            os.close(shm)

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _start(self) -> bool:
        """Wake the thread, starting it first if need be; False once closed."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            with self._guard:
                if self._closed:
                    return False
                thread = self._thread
                if thread is None or not thread.is_alive():
                    thread = threading.Thread(
                        target=self._loop, name=f"wal-checkpoint {self.path.name}", daemon=True
                    )
                    self._thread = thread
                    thread.start()
        self._wake.set()
        return True

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA wal_autocheckpoint=0")  # it never writes; for the record
            conn.execute("PRAGMA synchronous=FULL")  # the database file fsynced after a copy
        except sqlite3.Error as e:
            _log.warning("WAL checkpointer for %s cannot connect: %s", self.path, e)
            return  # commits past the bound checkpoint themselves
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                with self._running:
                    row = self._passive(conn)
                    if row is False:
                        continue
                self.runs += 1
                if row is not None and row[0]:
                    self.busy += 1  # another process's checkpoint: it does the work
        finally:
            conn.close()

    def _wal_frames(self) -> tuple[int, int]:
        """(frames not yet copied into the database, frames in the WAL) from the
        WAL-index header; (`frames`, 0) when it cannot be read as expected, so that
        the thread is woken and SQLite itself answers."""
        try:
            shm = self._shm if self._shm is not None else self._open_shm()
            header = os.pread(shm, _BACKFILL_AT + 4, 0)
        except OSError:  # not there yet, or closed meanwhile
            return self.frames, self._frames_by_size()
        if len(header) < _BACKFILL_AT + 4:
            return self.frames, self._frames_by_size()
        version, length = _HEADER.unpack_from(header)
        if version != _WAL_INDEX_VERSION:
            return self.frames, self._frames_by_size()
        (backfilled,) = _BACKFILL.unpack_from(header, _BACKFILL_AT)
        return max(length - backfilled, 0), length

    def _frames_by_size(self) -> int:
        """The WAL file's length in 4 KiB frames at most (0 if it cannot be read): when
        the header cannot be read the bound still holds (a WAL never shrinks below its
        used length; a longer file only checkpoints sooner)."""
        try:
            return os.stat(f"{self.path}-wal").st_size // (4096 + 24)
        except OSError:
            return 0

    def _open_shm(self) -> int:
        """The WAL-index file's descriptor, opened once (OSError: no such file, or
        this checkpointer closed)."""
        fd = os.open(f"{self.path}-shm", os.O_RDONLY)
        with self._guard:  # two committing threads may both get here
            if self._shm is None and not self._closed:
                self._shm, fd = fd, -1
            shm = self._shm
        if fd >= 0:
            os.close(fd)
        if shm is None:
            raise OSError("checkpointer closed")
        return shm


class CheckpointingConnection(sqlite3.Connection):
    """A sqlite3 connection that tells its `checkpointer` (if any) after each commit."""

    checkpointer: Checkpointer | None = None

    def commit(self) -> None:
        """Commit (the WAL fsynced as ``synchronous`` says), then tell the checkpointer."""
        super().commit()
        checkpointer = self.checkpointer
        if checkpointer is not None:
            try:
                checkpointer.committed(self)
            except Exception:  # the commit is durable: a checkpoint's trouble is not its own
                _log.exception("WAL checkpoint after a commit to %s failed", checkpointer.path)


class WalSyncer:
    """Flushes a SQLite database's WAL file to disk on a daemon thread of its own when
    asked (`sync`), for a writer whose commits do not (``synchronous=NORMAL``: the map's
    child process, ledger.service.mapchild).

    Why: the WAL is one file, so the next commit that does fsync it (the appends'
    ``synchronous=FULL``, under the log's write lock) would flush that writer's frames
    too: ~6 MB of a batch's map rows at 10^5 keys, 2.5 ms more in every such commit
    (docs/PERFORMANCE.md, "walsync36"). Flushed here right after that writer's commit,
    they are usually on disk before the next append commits (if not, that commit's
    fsync waits for the flush under way). Asks made while a flush runs are served by one
    more flush; a flush that fails is ignored (it only moves work the next fsync of the
    WAL does anyway: no guarantee rests on it).
    """

    def __init__(self, path: Path) -> None:
        # SQLite puts the WAL beside the database's real file (a symlink followed)
        self.wal = f"{os.path.realpath(path)}-wal"
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def sync(self) -> None:
        """Have the thread flush the WAL file soon (starts it at the first call)."""
        if self._closed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="wal-sync", daemon=True)
            self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            try:  # opened each time: a WAL file removed and made again is the new one
                fd = os.open(self.wal, os.O_RDONLY)
                try:
                    _flush(fd)
                finally:
                    os.close(fd)
            except OSError:
                continue

    def close(self, wait: float = 1.0) -> None:
        """Stop the thread, after the flush it is running (waiting up to ``wait``
        seconds for it)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait)


def _flush(fd: int) -> None:
    """``fdatasync`` where the platform has it (Linux), else ``fsync``."""
    getattr(os, "fdatasync", os.fsync)(fd)


def _after_fork() -> None:
    # A forked child has none of its parent's threads and may have copied a lock held
    # by one: each checkpointer starts afresh (its thread at the child's first commit).
    for checkpointer in list(_LIVE):
        checkpointer._reset()


os.register_at_fork(after_in_child=_after_fork)
