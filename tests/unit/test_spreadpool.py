"""ledger.verify.spreadpool: jobs submitted together start together, on threads of
their own; results, errors, cancelling, shutdown and the interpreter's exit."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from ledger.verify.spreadpool import SpreadPool


@pytest.fixture
def pool() -> Iterator[SpreadPool]:
    made = SpreadPool(2, "test-spread")
    yield made
    made.shutdown()


def test_two_jobs_submitted_back_to_back_run_at_once(pool: SpreadPool) -> None:
    """spread52: `ThreadPoolExecutor` woke one thread for two jobs put back to back by
    a thread holding the GIL, so the second waited for the first. Each job here waits
    for the other (a barrier of two): they complete only if both run at once."""
    for _ in range(50):
        barrier = threading.Barrier(2, timeout=5)
        futures = [pool.submit(barrier.wait) for _ in range(2)]
        sum(range(20_000))  # the submitter keeps the GIL a while, as a group's leader does
        assert sorted(f.result(timeout=10) for f in futures) == [0, 1]


def test_each_of_two_jobs_gets_a_thread_of_its_own(pool: SpreadPool) -> None:
    barrier = threading.Barrier(2, timeout=5)

    def name() -> str:
        barrier.wait()
        return threading.current_thread().name

    names = {f.result(timeout=10) for f in [pool.submit(name), pool.submit(name)]}
    assert names == {"test-spread_0", "test-spread_1"}


def test_a_busy_thread_is_passed_over(pool: SpreadPool) -> None:
    release = threading.Event()
    blocked = pool.submit(release.wait, 10)
    try:
        names = [pool.submit(lambda: threading.current_thread().name).result(10) for _ in range(3)]
    finally:
        release.set()
    assert blocked.result(timeout=10) is True
    assert len(set(names)) == 1  # all on the thread that was free


def test_results_and_errors_reach_the_caller_and_the_thread_goes_on(pool: SpreadPool) -> None:
    assert pool.submit(pow, 2, 10).result(timeout=10) == 1024
    assert pool.submit(lambda *, x: x + 1, x=1).result(timeout=10) == 2

    def fail() -> None:
        raise ValueError("refused")

    failed = pool.submit(fail)
    with pytest.raises(ValueError, match="refused"):
        failed.result(timeout=10)
    assert [pool.submit(len, "abc").result(timeout=10) for _ in range(4)] == [3] * 4


def test_an_event_loop_runs_its_calls_on_it(pool: SpreadPool) -> None:
    async def run() -> int:
        return await asyncio.get_running_loop().run_in_executor(pool, sum, [1, 2, 3])

    assert asyncio.run(run()) == 6


def test_a_shut_down_pool_refuses_work_after_running_what_it_was_given() -> None:
    pool = SpreadPool(2, "test-spread-end")
    gate = threading.Event()
    first = pool.submit(gate.wait, 10)
    queued = [pool.submit(time.sleep, 0) for _ in range(4)]
    gate.set()
    pool.shutdown(wait=True)
    assert first.result(timeout=1) is True
    assert all(f.done() and f.exception() is None for f in queued)
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(len, "x")
    assert not any(
        t.is_alive() for t in threading.enumerate() if t.name.startswith("test-spread-end")
    )


def test_shutdown_can_cancel_the_jobs_not_started() -> None:
    pool = SpreadPool(1, "test-spread-cancel")
    started, gate = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait(10)

    running = pool.submit(hold)
    assert started.wait(10)  # running, so not cancelled (CI: it was still queued once)
    waiting = [pool.submit(len, "x") for _ in range(3)]
    threading.Timer(0.2, gate.set).start()
    pool.shutdown(wait=True, cancel_futures=True)
    assert running.result(timeout=1) is True
    assert all(f.cancelled() for f in waiting)


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError):
        SpreadPool(0, "none")


def test_the_interpreter_exits_with_a_pool_alive() -> None:
    """Its threads are not daemons (a job is never cut off by the exit), so they must end
    at the interpreter's exit as `ThreadPoolExecutor`'s do, or it would never exit; the
    job queued before the exit still runs."""
    code = (
        "import time\n"
        "from ledger.verify.spreadpool import SpreadPool\n"
        "pool = SpreadPool(2, 'exit')\n"
        "pool.submit(time.sleep, 0.2)\n"
        "pool.submit(print, 'ran')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "ran"


class _PutHeldUp:
    """A thread's queue whose puts of jobs wait until told to go on: the submitter
    preempted between its check of the pool and its put."""

    def __init__(self, real: Any, in_put: threading.Event, go_on: threading.Event) -> None:
        self.real, self.in_put, self.go_on = real, in_put, go_on

    def put(self, item: Any) -> None:
        if item is not None:
            self.in_put.set()
            self.go_on.wait(0.5)
        self.real.put(item)

    def get_nowait(self) -> Any:
        return self.real.get_nowait()


def test_a_job_submitted_as_the_pool_shuts_down_is_run_or_refused_never_lost() -> None:
    """review52: the job was put on its queue after the pool's lock was let go, so a
    shutdown in between put the thread's end first: the job never ran nor was cancelled,
    and its caller (a group's leader) waited for ever. Now the shutdown waits for the put;
    the job runs."""
    pool = SpreadPool(1, "test-spread-race")
    in_put, go_on = threading.Event(), threading.Event()
    pool._queues = [_PutHeldUp(q, in_put, go_on) for q in pool._queues]  # type: ignore[misc]
    outcome: list[object] = []

    def submit() -> None:
        try:
            outcome.append(pool.submit(len, "abc"))
        except RuntimeError as refused:
            outcome.append(refused)

    submitter = threading.Thread(target=submit)
    submitter.start()
    assert in_put.wait(5)  # accepted, its put not done yet
    stopper = threading.Thread(target=pool.shutdown, kwargs={"wait": False})
    stopper.start()
    time.sleep(0.1)  # (before: the shutdown's end went first meanwhile)
    go_on.set()
    submitter.join(5)
    stopper.join(5)
    pool.shutdown(wait=True)
    (result,) = outcome
    assert isinstance(result, Future) and result.result(timeout=5) == 3


class _Big:
    payload = bytes(10**6)


def test_a_cancelled_jobs_arguments_are_let_go() -> None:
    """review52: a cancelled job's function, arguments and future stayed referenced by
    its idle thread until its next job."""
    pool = SpreadPool(1, "test-spread-keep")
    try:
        gate = threading.Event()
        running = pool.submit(gate.wait, 10)
        arg = _Big()
        kept = weakref.ref(arg)
        cancelled = pool.submit(id, arg)
        assert cancelled.cancel()
        del arg, cancelled
        gate.set()
        assert running.result(timeout=10)
        deadline = time.monotonic() + 5
        while kept() is not None and time.monotonic() < deadline:
            time.sleep(0.02)  # the thread takes the cancelled job, passes it, waits again
            gc.collect()
        assert kept() is None
    finally:
        pool.shutdown()


_ROOT = str(Path(__file__).resolve().parents[2])

#: the main thread has ended and a server thread still appends a group (the case the
#: quick threads' RuntimeError fallback is for): its pool is made during the exit
_LATE_GROUP = """
import threading, time
from ledger.verify import batchverify, spreadpool
from tests.unit.test_batchverify import _jobs
batchverify._threads = lambda: 2
jobs = _jobs(batchverify.START_FROM + 2)

def appender():
    while not spreadpool._exiting:
        time.sleep(0.01)
    print("late group:", batchverify.start_first_bad(jobs)(), flush=True)

threading.Thread(target=appender).start()
"""

#: a thread of the pool fails to start (a container's limit on processes)
_START_FAILS = """
import threading
from ledger.verify.spreadpool import SpreadPool
real, calls = threading.Thread.start, []
def start(self):
    calls.append(self)
    if len(calls) == 2:
        raise RuntimeError("can't start new thread")
    real(self)
threading.Thread.start = start
try:
    SpreadPool(2, "half")
except RuntimeError as e:
    print("refused:", e, flush=True)
threading.Thread.start = real
"""


@pytest.mark.parametrize(
    ("code", "says"),
    [(_LATE_GROUP, "late group: None"), (_START_FAILS, "refused")],
    ids=["made-during-the-exit", "a-thread-failed-to-start"],
)
def test_the_interpreter_exits_after_a_pool_made_late_or_half(code: str, says: str) -> None:
    """review52: a pool made once the exit had begun started threads nothing ended (the
    exit's hook had run), and so did one whose second thread failed to start: the
    interpreter waited for them for ever. `ThreadPoolExecutor` exits in the first case."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=_ROOT
        )
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"the interpreter never exited (its output: {hung.stdout!r})")
    assert done.returncode == 0, done.stderr
    assert says in done.stdout
