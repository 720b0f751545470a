"""ledger.verify.spreadpool: jobs submitted together start together, on threads of
their own; results, errors, cancelling, shutdown and the interpreter's exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

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
    gate = threading.Event()
    running = pool.submit(gate.wait, 10)
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
