"""A pool of threads, each taking its work from a queue of its own.

`concurrent.futures.ThreadPoolExecutor` feeds all its threads from one queue, and of
two jobs submitted back to back by a thread that keeps the GIL, it wakes one thread
only: CPython's queue (``_queue.SimpleQueue``) releases its one lock at the first put,
and at the second finds it released already (its first waiter has not run yet to take
it), so the second job waits until the first thread has finished the first. A group
commit's two halves of signatures, started that way before its leader makes its
leaves, were checked one after the other in about a third of its groups; 200 such pairs
of 16 libsodium checks ran one after the other 82 times, median 2.23 ms, and 1 time,
median 1.36 ms, with a queue per thread (docs/PERFORMANCE.md, "spread52").

`SpreadPool` hands each job to the thread with the fewest jobs queued, so jobs
submitted together start together. It is an `Executor`: an
event loop's ``run_in_executor`` takes it too. Its threads end at the interpreter's exit
as `ThreadPoolExecutor`'s do (the jobs queued before still run; a job submitted after
is refused with `RuntimeError`; a pool made after starts no thread), or at `shutdown`.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: a job: its future, the function and its arguments; None ends the thread
_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None

#: the pools alive in this process (ended at its exit)
_pools: weakref.WeakSet[SpreadPool] = weakref.WeakSet()
_exiting = False
_exit_lock = threading.Lock()  # `_exiting` and `_pools` against `_at_exit`


class SpreadPool(Executor):
    """``threads`` threads named ``{name}_{i}``, each with its own queue (module doc)."""

    def __init__(self, threads: int, name: str) -> None:
        if threads < 1:
            raise ValueError("a pool needs at least one thread")
        self._queues: list[queue.SimpleQueue[_Job]] = [queue.SimpleQueue() for _ in range(threads)]
        self._queued = [0] * threads  # jobs given to each thread and not finished
        self._lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []
        if _exiting:  # no thread that nothing would end (submit refuses work)
            self._closed = True
            return
        try:
            for i in range(threads):
                thread = threading.Thread(target=self._work, args=(i,), name=f"{name}_{i}")
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.shutdown(wait=False)  # the threads started end
            raise
        with _exit_lock:
            late = _exiting
            if not late:
                _pools.add(self)
        if late:  # `_at_exit` ran meanwhile, without this pool
            self.shutdown(wait=False)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on the least busy thread; its future.

        Raises:
            RuntimeError: the pool was shut down, or the interpreter is exiting.
        """
        with self._lock:
            if self._closed or _exiting:
                raise RuntimeError("cannot schedule new futures after shutdown")
            queued = self._queued
            index = queued.index(min(queued))
            queued[index] += 1
            future: Future[T] = Future()
            # (under the lock: a shutdown's end marker never goes before an accepted job)
            self._queues[index].put((future, fn, args, kwargs))
        return future

    def _work(self, index: int) -> None:
        jobs = self._queues[index]
        while (job := jobs.get()) is not None:
            future, fn, args, kwargs = job
            del job
            if not future.set_running_or_notify_cancel():
                self._finished(index)
                del future, fn, args, kwargs
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                self._finished(index)  # idle before its caller is woken (it may submit)
                future.set_exception(error)
                del error  # (its traceback holds this frame: no cycle kept)
            else:
                self._finished(index)
                future.set_result(result)
                del result
            del future, fn, args, kwargs

    def _finished(self, index: int) -> None:
        with self._lock:
            self._queued[index] -= 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new jobs and end the threads once each has run what it was given
        (``cancel_futures``: those not started are cancelled instead); with ``wait``,
        wait for that (not from one of the pool's own threads)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                for jobs in self._queues:
                    if cancel_futures:
                        _cancel_queued(jobs)
                    jobs.put(None)
        if wait:
            current = threading.current_thread()
            for thread in self._threads:
                if thread is not current:
                    thread.join()


def _cancel_queued(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        if job is not None:
            job[0].cancel()


def _at_exit() -> None:
    # before the interpreter joins its threads (as concurrent.futures does for its own):
    # each pool's threads end once their queued jobs have run
    global _exiting
    with _exit_lock:
        _exiting = True
        pools = list(_pools)
    for pool in pools:
        pool.shutdown(wait=True)


def _after_fork_in_child() -> None:
    # A forked child has none of its parent's threads, and a lock a parent's thread held
    # at the fork stays held: each pool it inherited refuses work (its callers start
    # their own, ledger.verify.batchverify) and is not waited for at its exit.
    global _exit_lock
    _exit_lock = threading.Lock()
    for pool in list(_pools):
        pool._lock = threading.Lock()
        pool._closed = True
        pool._threads = []


threading._register_atexit(_at_exit)  # type: ignore[attr-defined]
os.register_at_fork(after_in_child=_after_fork_in_child)
