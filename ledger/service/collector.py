"""Python's cyclic garbage collector paused around a write transaction.

A batch's write transaction allocates a few container objects per event (rows, records,
leaves, receipts) and frees nearly all of them when it ends; none is in a cycle. With
the collector on, those allocations set off collections that walk every young object
of the process, mid-batch, while they are all still alive (`bench.ingestcpu`'s
collector line: 7.0-7.4 us of the ~255 an event cost, docs/PERFORMANCE.md
"ingest27"). Paused, nothing is lost: the next collection runs after the block, when
the batch's objects are gone. The map step (ledger.service.headmap) pauses it too, also
when it runs outside an append's transaction.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block, back on after if it was on when it began (so a
    pause inside another, or in another thread, never turns it on early for good)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
