"""Verify the signatures of a batch of events on every core, in threads.

libsodium (ledger.crypto) runs without the GIL (PyNaCl calls it through cffi, which
releases the GIL around C calls), so a few threads verify a large batch on all cores
without the start-up cost or pickling of a process pool. Small batches stay on the
calling thread (below `PARALLEL_FROM`; a group commit's, `start_first_bad`, go to the
quick threads from `START_FROM`). The outcome is the same as verifying in order: the
first bad event (by position) is the one reported, and every event is verified.

No I/O; the thread pools (ledger.verify.spreadpool: a queue per thread, so the parts of
one batch start together) are created on first use and shared by the process (a forked
child starts its own).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future

from ledger import entry
from ledger.entry import SignedEvent
from ledger.errors import LedgerError
from ledger.verify.rawsig import Raw, bad_raw
from ledger.verify.spreadpool import SpreadPool

PARALLEL_FROM = 64  # below this many events the hand-off costs more than it saves
#: `start_first_bad`: from this many events they go to the threads (the caller's own
#: Python runs meanwhile, so the hand-off, ~30-60 us, is paid back sooner)
START_FROM = 8

#: (position in the batch, signed event, raw public key)
Job = tuple[int, SignedEvent, bytes]
#: (position, what `verify_event` raised) of a bad one, or None
Bad = tuple[int, LedgerError] | None

_pool: SpreadPool | None = None
_quick: SpreadPool | None = None
#: taken to make a pool (two first callers at once would each start one, both kept)
_making = threading.Lock()


def _threads() -> int:
    return min(8, os.cpu_count() or 1)


def _first_bad(jobs: Sequence[Job]) -> tuple[int, LedgerError] | None:
    for position, signed, public in jobs:
        try:
            entry.verify_event(signed, public)
        except LedgerError as e:
            return position, e
    return None


def quick_pool() -> Executor:
    """The threads that check a request's few signatures off an event loop (api.quota's
    who-pays check) and a group commit's events (`start_first_bad`: up to its
    ``max_group``, 1,000 by default), created on first use. Not the batches' shared
    threads: neither waits behind a large batch's parts (a quota check may wait behind
    a group's, one part per thread). libsodium releases the GIL, so the loop goes on
    serving other requests meanwhile instead of waiting to take the GIL back after each
    verify (docs/PERFORMANCE.md, "loop30")."""
    global _quick
    if _quick is None:
        with _making:
            if _quick is None:
                _quick = SpreadPool(_threads(), "verify-quick")
    return _quick


def _after_fork() -> None:
    # A forked child has none of its parent's threads: pools started there would queue
    # its parts for threads that do not exist (a group's leader waiting forever); the
    # child starts its own at first use.
    global _pool, _quick, _making
    _pool = _quick = None
    _making = threading.Lock()  # (a parent's thread may have held it at the fork)


os.register_at_fork(after_in_child=_after_fork)


def first_bad_signature(jobs: Sequence[Job]) -> tuple[int, LedgerError] | None:
    """Verify every job; return (position, error) of the lowest bad position, or None.

    The error is what `ledger.entry.verify_event` raised for it (a `SignatureError`).
    """
    if len(jobs) < PARALLEL_FROM:  # (before `_threads`: os.cpu_count asks the OS, ~2 us)
        return _first_bad(jobs)
    threads = _threads()
    if threads == 1:
        return _first_bad(jobs)
    return _lowest(_started(_shared_pool(), jobs, threads))


def _shared_pool() -> SpreadPool:
    """The batches' shared threads, one per core (at most 8), made at first use."""
    global _pool
    if _pool is None:
        with _making:
            if _pool is None:
                _pool = SpreadPool(_threads(), "verify")
    return _pool


def _started(pool: Executor, jobs: Sequence[Job], threads: int) -> list[Future[Bad]]:
    """``jobs`` in ``threads`` parts of consecutive positions, each `_first_bad` on
    ``pool``. Raises RuntimeError if the pool refuses work."""
    size = -(-len(jobs) // threads)
    return [pool.submit(_first_bad, jobs[i : i + size]) for i in range(0, len(jobs), size)]


def _lowest(parts: Sequence[Future[Bad]]) -> Bad:
    """The lowest bad position the parts found (each waited for), or None."""
    found = [bad for bad in (part.result() for part in parts) if bad is not None]
    return min(found, key=lambda bad: bad[0]) if found else None


def start_first_bad(jobs: Sequence[Job]) -> Callable[[], tuple[int, LedgerError] | None]:
    """`first_bad_signature` started on the quick threads (`quick_pool`, one part per
    core), returning at once: calling the result waits for them and returns what
    `first_bad_signature` would. The caller's Python runs meanwhile (libsodium holds no
    GIL): a group commit's leader makes its leaves while its events are verified
    (ledger.service.append, `Appender.append_each`). The quick threads, not the batches'
    shared ones: a group of single events never waits behind a large batch's parts.
    Fewer than `START_FROM` jobs, or one core, or a pool that refuses work (the
    interpreter shutting down), are verified now, on this thread."""
    threads = _threads() if len(jobs) >= START_FROM else 1
    if threads == 1:
        bad = _first_bad(jobs)
        return lambda: bad
    try:
        parts = _started(quick_pool(), jobs, threads)
    except RuntimeError:  # the pool refuses work (the interpreter is shutting down)
        bad = _first_bad(jobs)  # (a part already started verifies for nothing)
        return lambda: bad
    return lambda: _lowest(parts)


def bad_event_signatures(items: Sequence[Raw], threads: int | None = None) -> list[int]:
    """Verify every event signature; return the indices that do not verify, in order.

    ``threads`` defaults to one per core (at most 8); 1 verifies on this thread.
    """
    return start_event_signatures(items, threads)()


def start_event_signatures(
    items: Sequence[Raw], threads: int | None = None
) -> Callable[[], list[int]]:
    """Start verifying every event signature on the shared threads and return at once.

    Calling the result waits for them and returns the indices that do not verify, in
    order; meanwhile the caller's Python keeps running (libsodium holds no GIL), which
    is how an audit verifies one chunk while it replays the next. ``threads`` as in
    `bad_event_signatures`; with 1, or fewer than `PARALLEL_FROM` items, they are
    verified now, on this thread.
    """
    count = threads or _threads()
    if len(items) < PARALLEL_FROM or count == 1:
        bad = bad_raw(items)
        return lambda: bad
    pool = _shared_pool()
    size = -(-len(items) // count)
    futures = [pool.submit(bad_raw, items[i : i + size]) for i in range(0, len(items), size)]
    return lambda: sorted(i for future in futures for i in future.result())
