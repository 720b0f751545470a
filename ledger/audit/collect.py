"""Fewer cyclic garbage collections while an audit runs.

An audit allocates a handful of objects per entry (the parsed event, its records, map
heads, hashes) and keeps many of them (the replayed state). CPython's cyclic collector
runs every 700 net allocations and, every tenth and hundredth time, walks the older
generations too, the replayed state included: measured with `gc.callbacks` on the
6,013-entry bench log, 6-21 % of the replay thread's time (9-30 µs an entry), a share
that grows with the log. The audit makes no reference cycles of its own (events,
records and heads are frozen dataclasses and tuples), so collecting during it frees
next to nothing.

`fewer_collections` raises the thresholds while at least one audit runs in the process
and puts back the ones it found when the last one ends; the collector stays enabled,
so cycles other threads make are still collected, only later.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: while an audit runs: a young collection every 50,000 net allocations (instead of
#: 700), the middle generation every 50 of those, the oldest (the whole heap) rarely
AUDIT_THRESHOLDS = (50_000, 50, 1_000)

_lock = threading.Lock()
_running = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with `AUDIT_THRESHOLDS` (never lower than the thresholds found);
    the thresholds found are back once no audit runs (nested or concurrent blocks
    share one saved setting)."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*(max(a, b) for a, b in zip(AUDIT_THRESHOLDS, _saved, strict=True)))
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
