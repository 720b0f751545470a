"""The server process's heap and Python's cyclic garbage collector.

A full (generation 2) collection walks every container object the process holds. Once
a server has started, most of those are its code, its modules and the ledgers it opened
(about 190,000 objects for one log): a walk of 110-130 ms that stopped every request in
flight, about every half second under a steady write load (docs/PERFORMANCE.md, "The
collector's pauses"). `settle` collects once and then freezes (`gc.freeze`) what is
alive at that moment: later collections walk only what came after. Objects frozen are
never freed by the collector, so this runs once, at start, when what is alive is what
the server keeps (``PROVENANCE_GC_FREEZE=0`` turns it off; docs/OPERATIONS.md). It
also raises the collector's thresholds for the server's life
(`ledger.service.collector.for_long_runs`): with the heap frozen, a full collection
came every 70,000 net allocations, and a steady batch ingest spent 5.8 us an event in
the collector (3.0 now; docs/PERFORMANCE.md "cycles47").
"""

from __future__ import annotations

import gc

from ledger.service.collector import for_long_runs


def settle() -> int:
    """Collect the process's garbage, then move every object still alive out of the
    cyclic collector's reach, and raise its thresholds (`for_long_runs`); return how
    many objects are frozen now in all."""
    gc.collect()
    gc.freeze()
    for_long_runs()
    return gc.get_freeze_count()
