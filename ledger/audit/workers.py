"""The audit's order-free work on other processes: leaf parsing and signature checks.

The replay (ledger.audit.replay) is one Python thread by design: each entry's rules read
the state the entries before it left. Two of its steps do not depend on order: parsing
each leaf (`ledger.entry.Leaf.from_bytes`: the canonical check and the event's fields,
about a third of the replay's CPU) and verifying each event signature. On threads the
verification contends for the GIL with the replay (libsodium drops the GIL inside each
call, but every call needs it back); on processes neither step takes the replay's GIL.

So, for logs large enough to repay starting them, a shared pool of worker processes
(spawned, not forked: the auditing process may hold threads and database connections)
parses the next chunk while the replay runs the current one, and verifies each chunk's
signatures once the replay has named the keys. What comes back is the same `Leaf` the
replay would have parsed itself (pickled: about a tenth of the cost of parsing), or the
same error text, and the same list of bad indices; tests/unit/test_audit_workers.py
holds the two paths together on good and tampered logs. If the pool cannot start or
breaks, the work is done on this process instead: the result never depends on the pool.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import TypeVar

from ledger.audit.collect import fewer_collections
from ledger.entry import Leaf
from ledger.errors import LedgerError
from ledger.verify.batchverify import start_event_signatures
from ledger.verify.rawsig import Raw, bad_raw

#: below this many entries starting the processes (0.2-2 s: each imports the ledger)
#: costs more than they save, and the replay stays on this process as before
PROCESSES_FROM = 20_000

#: a leaf as the replay gets it: parsed, or the text of the error that refused it
Parsed = Leaf | str


T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()  # two audits on two threads share the pool
#: one no-op per worker, submitted by `warm`: done when every worker has started
_started: list[Future[None]] = []


def process_count(total: int, requested: int | None = None) -> int:
    """How many worker processes an audit of ``total`` entries uses (0: none).

    ``requested`` wins when given (0 keeps everything on this process). By default one
    per core (the replay shares them), at most 8; none for fewer than `PROCESSES_FROM`
    entries, on one core, or when the machine has no idle core (load average at or
    above the core count): the processes shorten the replay's own path by about 40 %
    but cost about 15 % more CPU in all (pickling, the hand-offs), a good trade only
    while there are idle cores to run them (docs/PERFORMANCE.md, figure 5).
    """
    if requested is not None:
        return max(0, requested)
    cores = os.cpu_count() or 1
    if total < PROCESSES_FROM or cores < 2 or os.getloadavg()[0] >= cores:
        return 0
    return min(8, cores)


def warm(processes: int) -> None:
    """Start ``processes`` workers now, without waiting for them (see `ready`)."""
    global _started
    if processes and not (_started and _pool_size >= processes):
        _started = _submit(_nothing, [() for _ in range(processes)]) or []


def ready(processes: int) -> bool:
    """Whether ``processes`` workers are up: until then the replay does the work itself
    rather than wait (starting a process imports the ledger: 0.2-2 s)."""
    return bool(processes) and len(_started) >= processes and all(f.done() for f in _started)


def _nothing() -> None:
    return None


def parse_leaves(leaves: Sequence[bytes], origin: str | None) -> list[Parsed]:
    """Each leaf parsed by `Leaf.from_bytes` against ``origin``, or the text of the
    `LedgerError` that refused it (what runs in a worker, and on this process)."""
    out: list[Parsed] = []
    with fewer_collections():  # a worker's parse allocates as much as the replay
        for data in leaves:
            try:
                out.append(Leaf.from_bytes(data, origin))
            except LedgerError as e:
                out.append(str(e))
    return out


def start_parse(
    leaves: Sequence[bytes], origin: str | None, processes: int
) -> Callable[[], list[Parsed]]:
    """Start parsing ``leaves``; calling the result returns `parse_leaves`' list.

    With ``processes`` > 0 the parts go to the worker pool at once; with 0 the parse
    happens on this thread when the result is called.
    """
    if not processes or not leaves:
        return lambda: parse_leaves(leaves, origin)
    parts = _split(leaves, processes)
    futures = _submit(parse_leaves, [(part, origin) for part in parts])
    if futures is None:
        return lambda: parse_leaves(leaves, origin)

    def wait() -> list[Parsed]:
        out: list[Parsed] = []
        for future, part in zip(futures, parts, strict=True):
            done: list[Parsed] = _result(future, partial(parse_leaves, part, origin))
            out.extend(done)
        return out

    return wait


def start_verify(
    items: Sequence[Raw], processes: int, threads: int | None = None
) -> Callable[[], list[int]]:
    """Start verifying ``items``; calling the result returns the bad indices, in order.

    With ``processes`` > 0 on the worker pool, else on the verify threads
    (`ledger.verify.batchverify.start_event_signatures`, ``threads`` of them).
    """
    if not processes or not items:
        return start_event_signatures(items, threads)
    parts = _split(items, processes)
    futures = _submit(bad_raw, [(part,) for part in parts])
    if futures is None:
        return start_event_signatures(items, threads)

    def wait() -> list[int]:
        found: list[int] = []
        for future, part in zip(futures, parts, strict=True):
            bad: list[int] = _result(future, partial(bad_raw, part))
            found.extend(bad)
        return sorted(found)

    return wait


def _split(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    size = -(-len(items) // parts)
    return [items[i : i + size] for i in range(0, len(items), size)]


def submit(function: Callable[..., T], calls: list[tuple[object, ...]]) -> list[Future[T]] | None:
    """Submit each call to the shared pool (started with `warm`); None when the pool
    cannot take work (the caller then does it another way)."""
    return _submit(function, calls)


def result(future: Future[T], here: Callable[[], T]) -> T:
    """A submitted call's result; if the pool broke meanwhile, ``here()`` (the same
    work on this process): a dead worker costs time, never a result."""
    return _result(future, here)


def _submit(function: Callable[..., T], calls: list[tuple[object, ...]]) -> list[Future[T]] | None:
    """Submit each call to the shared pool; None when the pool cannot take work."""
    global _pool, _pool_size
    with _lock:
        try:
            if _pool is None or _pool_size < len(calls):
                if _pool is not None:
                    _pool.shutdown(wait=False)  # what it was given still runs
                _pool_size = len(calls)
                context = multiprocessing.get_context("spawn")
                _pool = ProcessPoolExecutor(_pool_size, mp_context=context)
            return [_pool.submit(function, *args) for args in calls]
        except (OSError, RuntimeError, BrokenProcessPool):
            _discard_pool()
            return None


def _result(future: Future[T], here: Callable[[], T]) -> T:
    """The future's result; if the pool broke (a worker killed, say), ``here()``."""
    try:
        return future.result()
    except (BrokenProcessPool, OSError, CancelledError):
        with _lock:
            _discard_pool()
        return here()


def _discard_pool() -> None:
    global _pool, _pool_size
    if _pool is not None:
        _pool.shutdown(wait=False)  # a broken pool's futures have failed already
    _pool, _pool_size = None, 0
    _started.clear()
