"""Python's cyclic garbage collector: paused around a write transaction, and run less
often for a server's life.

A batch's write transaction allocates a few container objects per event (rows, records,
leaves, receipts) and frees nearly all of them when it ends; none is in a cycle. With
the collector on, those allocations set off collections that walk every young object
of the process, mid-batch, while they are all still alive (`bench.ingestcpu`'s
collector line: 7.0-7.4 us of the ~255 an event cost, docs/PERFORMANCE.md
"ingest27"). Paused, nothing is lost: the next collection runs after the block, when
the batch's objects are gone. The map step (ledger.service.headmap) pauses it too, also
when it runs outside an append's transaction.

`for_long_runs` raises the collector's thresholds for the whole life of a process that
serves appends (the server, api.heap): the pauses above do not cover the body's parse,
the quota's check or the receipts, and with the defaults (a young collection every 700
net allocations, the older generations every 10th and 100th time) the collections there
walked the batches in flight again and again. With the heap frozen at start (api.heap)
the full collection's own brake (a quarter more long-lived objects than at the last
one) no longer holds either, since almost nothing is counted long-lived.
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


#: `for_long_runs`' thresholds: a young collection every 10,000 net allocations of
#: container objects (instead of 700), the middle generation at every 20th young one
#: (200,000), the whole heap at every 10th middle one (2,000,000). A server's steady
#: batch ingest spent 5.8 us an event in the collector with the defaults, 3.0 with
#: these; 50,000 gave 2.1, but each young collection then walked the batches in flight
#: for ~30 ms, a pause every request in flight waited through (~5 ms at 10,000, a
#: middle one ~14 ms; docs/PERFORMANCE.md "cycles47").
LONG_RUN_THRESHOLDS = (10_000, 20, 10)


def for_long_runs() -> None:
    """Raise the collector's thresholds to `LONG_RUN_THRESHOLDS` for the rest of this
    process (a threshold already higher stays; a first threshold of 0, which turns
    automatic collection off, too). The collector stays on: cycles are still collected,
    later. Nothing of this code makes one per request or per event
    (tests/integration/test_append_cycles.py)."""
    found = gc.get_threshold()
    if found[0] == 0:  # automatic collection turned off by whoever runs the process: kept
        return
    gc.set_threshold(*(max(a, b) for a, b in zip(LONG_RUN_THRESHOLDS, found, strict=True)))
