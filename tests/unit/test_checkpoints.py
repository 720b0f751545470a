"""SQLite's WAL checkpoints off the committing thread (ledger.store.checkpoints): the
writing connections do not checkpoint after their commits, the checkpointer's thread
does once the WAL holds enough frames, a commit checkpoints itself past the bound, a
checkpoint another process holds is skipped, and closing the engines stops the thread."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.store import checkpoints
from ledger.store.checkpoints import Checkpointer
from ledger.store.database import Engines, connect
from ledger.store.repository import Store

_ROW = 3000  # bytes a row: about a page each


def _engines(path: Path, frames: int = 1000, bound: int = 16_000) -> Engines:
    engines = connect(f"sqlite:///{path}")
    assert engines.checkpointer is not None
    engines.checkpointer.frames = frames
    engines.checkpointer.bound = bound
    with engines.writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    return engines


def _write(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        for _ in range(rows):
            conn.exec_driver_sql(f"INSERT INTO t VALUES (randomblob({_ROW}))")


def _wal(path: Path) -> tuple[int, int]:
    """(frames not yet in the database, frames in the WAL), as SQLite's WAL-index says."""
    probe = Checkpointer(path)
    try:
        return probe._wal_frames()
    finally:
        probe.close()


def _wait(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wal-checkpoint")]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "ledger.db"


def test_writing_engines_do_not_autocheckpoint(db: Path) -> None:
    engines = _engines(db)
    try:
        for engine in (engines.writer, engines.bookkeeping):
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with engines.reader.connect() as conn:  # never writes: SQLite's default kept
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        engines.dispose()


def test_the_thread_checkpoints_past_the_threshold_only(db: Path) -> None:
    engines = _engines(db, frames=1000)
    checkpointer = engines.checkpointer
    assert checkpointer is not None
    try:
        _write(engines.writer, 200)  # below the threshold: no thread, nothing copied
        assert not checkpointer.alive and checkpointer.runs == 0
        pending, _length = _wal(db)
        assert pending >= 200
        _write(engines.writer, 1000)  # past it: the thread copies the WAL
        _wait(lambda: checkpointer.runs >= 1)
        assert checkpointer.alive and checkpointer.inline == 0
        assert _wal(db)[0] == 0
        _write(engines.writer, 10)  # the next write starts the WAL afresh
        assert _wal(db)[1] < 50
        with engines.reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1210
    finally:
        engines.dispose()


def test_the_bookkeeping_engine_wakes_it_too(db: Path) -> None:
    engines = _engines(db, frames=100)
    checkpointer = engines.checkpointer
    assert checkpointer is not None
    try:
        _write(engines.bookkeeping, 150)
        _wait(lambda: checkpointer.runs >= 1)
    finally:
        engines.dispose()


def test_a_commit_checkpoints_itself_past_the_bound(db: Path) -> None:
    # The thread never woken (its threshold out of reach): the bound keeps the WAL short.
    engines = _engines(db, frames=10**9, bound=500)
    checkpointer = engines.checkpointer
    assert checkpointer is not None
    try:
        for _ in range(12):
            _write(engines.writer, 200)
            assert _wal(db)[1] < 500 + 250  # one batch past the bound at most
        assert checkpointer.inline >= 3 and checkpointer.runs == 0 and not checkpointer.alive
    finally:
        engines.dispose()


def test_without_the_bound_the_wal_grows(db: Path) -> None:
    # The other way: neither threshold reached, nothing checkpoints and the WAL grows.
    engines = _engines(db, frames=10**9, bound=10**9)
    try:
        for _ in range(12):
            _write(engines.writer, 200)
        assert _wal(db)[1] >= 2400
        assert engines.checkpointer is not None and engines.checkpointer.inline == 0
    finally:
        engines.dispose()


def test_a_closed_checkpointer_leaves_commits_to_checkpoint_themselves(db: Path) -> None:
    engines = _engines(db, frames=100)
    checkpointer = engines.checkpointer
    assert checkpointer is not None
    try:
        checkpointer.close()
        _write(engines.writer, 150)
        assert checkpointer.inline == 1 and not checkpointer.alive
        assert _wal(db)[0] == 0
    finally:
        engines.dispose()


def _hold_checkpoint_lock(db: Path) -> subprocess.Popen[str]:
    """Another process holding the WAL's checkpoint lock (byte 121 of the -shm file,
    SQLite's unix VFS), as its own checkpoint would: until its stdin closes."""
    code = textwrap.dedent(
        f"""
        import fcntl, os, sys
        fd = os.open({str(db) + "-shm"!r}, os.O_RDWR)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 121)
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_checkpoint_another_process_runs_is_skipped(db: Path) -> None:
    engines = _engines(db, frames=100, bound=400)
    checkpointer = engines.checkpointer
    assert checkpointer is not None
    try:
        _write(engines.writer, 10)  # the -shm exists
        child = _hold_checkpoint_lock(db)
        try:
            _write(engines.writer, 150)  # the thread's checkpoint: busy, skipped
            _wait(lambda: checkpointer.busy >= 1)
            assert checkpointer.alive
            _write(engines.writer, 300)  # past the bound: the commit's own, busy too
            assert checkpointer.inline >= 1 and checkpointer.busy >= 2
            assert _wal(db)[0] >= 450  # nothing copied meanwhile
        finally:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.close()
            child.wait()
            child.stdout.close()
        _write(engines.writer, 150)  # released: this commit (past the bound) copies all
        assert _wal(db)[0] == 0
        with engines.reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 610
    finally:
        engines.dispose()


def test_close_stops_the_thread_and_closes_its_connection(db: Path) -> None:
    before = len(_checkpoint_threads())
    for _ in range(15):
        engines = _engines(db, frames=50)
        _write(engines.writer, 60)
        checkpointer = engines.checkpointer
        assert checkpointer is not None
        _wait(lambda c=checkpointer: c.runs >= 1)  # type: ignore[misc]
        assert len(_checkpoint_threads()) == before + 1
        engines.dispose()
        assert len(_checkpoint_threads()) == before
    # every connection closed: the last close folded the WAL in and removed it
    assert not Path(f"{db}-wal").exists()


def test_stores_opened_and_closed_leave_no_thread(tmp_path: Path) -> None:
    before = len(_checkpoint_threads())
    for number in range(5):
        store = Store.open(f"sqlite:///{tmp_path / f'{number}.db'}")  # migrations write
        assert store.engines.checkpointer is not None
        store.close()
        assert not store.engines.checkpointer.alive
    assert len(_checkpoint_threads()) == before


def test_postgres_engines_have_no_checkpointer() -> None:
    engines = connect("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        assert engines.checkpointer is None
    finally:
        engines.dispose()


_WRITER = textwrap.dedent(
    """
    import sys
    from ledger.store.database import connect
    engines = connect(f"sqlite:///{sys.argv[1]}")
    engines.checkpointer.frames = 100
    worker = sys.argv[2]
    with engines.writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS w (who TEXT, n INTEGER, x BLOB)")
    for n in range(int(sys.argv[3])):
        with engines.writer.begin() as conn:
            for _ in range(20):
                conn.exec_driver_sql(
                    "INSERT INTO w VALUES (?, ?, randomblob(3000))", (worker, n)
                )
        print(n, flush=True)  # acknowledged: committed
    c = engines.checkpointer
    print("done", c.runs, c.busy, c.inline, flush=True)
    engines.dispose()
    """
)


def _writer(db: Path, worker: str, batches: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db), worker, str(batches)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_several_processes_each_with_a_checkpointer(db: Path) -> None:
    sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").close()
    children = [_writer(db, w, 60) for w in ("a", "b", "c")]
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert all(child.returncode == 0 for child in children), outputs
    runs = 0
    for output in outputs:
        last = output.splitlines()[-1].split()
        assert last[0] == "done"
        runs += int(last[1])
    assert runs >= 1
    conn = sqlite3.connect(db)
    try:
        counts = dict(conn.execute("SELECT who, count(*) FROM w GROUP BY who").fetchall())
        assert counts == {"a": 1200, "b": 1200, "c": 1200}
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


def test_sigkill_while_checkpointing_loses_nothing_committed(db: Path) -> None:
    child = _writer(db, "k", 10_000)
    assert child.stdout is not None
    acknowledged = -1
    for line in child.stdout:
        acknowledged = int(line.split()[0])
        if acknowledged >= 150:  # many checkpoints in, some surely running
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (batches,) = conn.execute("SELECT count(DISTINCT n) FROM w").fetchone()
        assert batches >= acknowledged + 1  # each acknowledged batch is there
        (rows,) = conn.execute("SELECT count(*) FROM w").fetchone()
        assert rows == 20 * batches  # whole batches only
    finally:
        conn.close()


def test_a_forked_child_checkpoints_with_a_thread_of_its_own(db: Path) -> None:
    engines = _engines(db, frames=100)
    checkpointer = engines.checkpointer
    assert checkpointer is not None
    try:
        _write(engines.writer, 150)
        _wait(lambda: checkpointer.runs >= 1)
        engines.writer.dispose()  # connections are never shared across a fork
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            code = 1
            try:
                engines.writer.dispose(close=False)
                runs = checkpointer.runs
                _write(engines.writer, 150)
                _wait(lambda: checkpointer.runs > runs)
                code = 0 if checkpointer.alive else 2
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        engines.dispose()


def test_an_unreadable_wal_index_wakes_the_thread(db: Path) -> None:
    # The header not as expected (here: no -shm yet): the thread asks SQLite itself.
    probe = Checkpointer(db.with_name("nothing.db"), frames=7)
    try:
        assert probe._wal_frames() == (7, 0)
    finally:
        probe.close()
    assert checkpoints.DEFAULT_FRAMES <= checkpoints.DEFAULT_BOUND


_LINUX = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/fd (Linux only)"
)


class _Flushes:
    """`checkpoints._flush` recorded from now: each call's file and thread; with
    ``gate``, each call says it began (``began``) and then waits for the gate."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, gate: threading.Event | None = None):
        self.calls: list[tuple[str, threading.Thread]] = []
        self.began = threading.Event()
        real = checkpoints._flush

        def recorded(fd: int) -> None:
            self.began.set()
            if gate is not None:
                gate.wait(5)
            self.calls.append((os.readlink(f"/proc/self/fd/{fd}"), threading.current_thread()))
            real(fd)

        monkeypatch.setattr(checkpoints, "_flush", recorded)


@_LINUX
def test_the_wal_syncer_flushes_the_wal_file_on_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wal.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # its commits do not flush the WAL
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute("INSERT INTO t VALUES (randomblob(20000))")
    flushes = _Flushes(monkeypatch)
    link = tmp_path / "link.db"
    link.symlink_to(path)  # the WAL is beside the real file
    syncer = checkpoints.WalSyncer(link)
    try:
        syncer.sync()
        _wait(lambda: len(flushes.calls) == 1)
        thread = syncer._thread
        assert thread is not None and thread is not threading.current_thread()
        assert flushes.calls == [(f"{path}-wal", thread)]  # on the syncer's own thread
    finally:
        syncer.close()
        db.close()
    assert not thread.is_alive()
    syncer.sync()  # closed: nothing more
    time.sleep(0.05)
    assert len(flushes.calls) == 1


@_LINUX
def test_asks_during_a_flush_make_one_more_and_a_missing_wal_stops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "none.db"
    wal = f"{path}-wal"
    failed = threading.Event()
    real_open = os.open

    def watched_open(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        try:
            return real_open(name, flags, *args, **kwargs)
        except OSError:
            if str(name) == wal:
                failed.set()
            raise

    monkeypatch.setattr(os, "open", watched_open)
    syncer = checkpoints.WalSyncer(path)
    try:
        syncer.sync()  # no WAL file: the open fails, and the thread goes on
        assert failed.wait(5)
        Path(wal).write_bytes(b"frames")
        gate = threading.Event()
        flushes = _Flushes(monkeypatch, gate)
        syncer.sync()
        assert flushes.began.wait(5)  # the thread is in its flush, held at the gate
        for _ in range(5):
            syncer.sync()
        gate.set()
        _wait(lambda: len(flushes.calls) == 2)
        time.sleep(0.1)  # (a third flush would be a lost coalescing)
        assert [name for name, _ in flushes.calls] == [wal, wal]  # five asks, one flush
    finally:
        syncer.close()
