"""Unit views by (unit, log size), and what memory alone can serve of them.

`ViewCache` keeps a unit's `UnitBase` (ledger.service.unitview) per (GTIN, serial, log
size) within a byte budget, the log size as last read (`SIZE_TTL`), and the witness
summaries; `ViewCache.memory_view` answers from memory alone or raises
`NotInMemoryError`, and the caller reads the database instead.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ledger import gs1
from ledger.label import ScannedLabel
from ledger.service.unitview import UnitBase, build_base, finish
from ledger.shapes import WitnessSummaryShape
from ledger.signals.places import first_scan
from ledger.store import Store

#: the default byte budget of a `ViewCache` (estimated, see `UnitBase.nbytes`)
VIEW_CACHE_BYTES = 64 * 1024 * 1024
#: how long a log size read from the database is trusted by memory-only views
#: (seconds): an entry another process appends shows within this long
SIZE_TTL = 1.0


class NotInMemoryError(Exception):
    """A memory-only view (``memory_only=True``) needs a read the memory cannot answer:
    the caller serves the request the ordinary way (a database read off the event loop)."""


class ViewCache:
    """Unit bases (`UnitBase`) by (gtin, serial, log size), least recently used first
    out, at most ``max_bytes`` of them by their estimated size.

    The key holds nothing a caller chooses beyond the unit's identity: a label
    signature (``s=``), lot or expiry is judged per request against the cached base,
    so fresh ``s=`` values cost a signature check each and no memory. A base built
    at size n stays right until the log grows; under scan-heavy traffic a view costs
    a size lookup and a scan count.
    """

    def __init__(self, max_bytes: int = VIEW_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._bases: OrderedDict[tuple[str, str, int], UnitBase] = OrderedDict()
        #: the log size last read from the database, and when (monotonic seconds)
        self._size: tuple[int, float] | None = None
        #: when this process last appended (monotonic seconds): sizes read before are old
        self._grown_at = float("-inf")
        #: witness summaries by the size a chain needs, and when they were read
        self._witnesses: dict[int, tuple[WitnessSummaryShape, float]] = {}

    def witnesses(
        self, needed: int, read: Callable[[], WitnessSummaryShape], memory_only: bool
    ) -> WitnessSummaryShape:
        """The witness summary for a chain of ``needed`` entries: ``read`` it (a database
        read when witnesses are configured), or, ``memory_only``, the one read within
        `SIZE_TTL` (a cosignature shows within that long).

        Raises:
            NotInMemoryError: ``memory_only`` and none read recently.
        """
        now = time.monotonic()
        if memory_only:
            found = self._witnesses.get(needed)
            if found is None or now - found[1] >= SIZE_TTL:
                raise NotInMemoryError("witnesses")
            return found[0]
        summary = read()
        if len(self._witnesses) >= 1024:  # sizes are few; a bound all the same
            self._witnesses.clear()
        self._witnesses[needed] = (summary, now)
        return summary

    def grew(self) -> None:
        """Forget the remembered log size: this process appended (the next view reads it,
        and a read that began before the append is not kept)."""
        self._size = None
        self._grown_at = time.monotonic()

    def _remember_size(self, size: int, began: float) -> None:
        """Keep ``size`` as the log size read at ``began``, unless a larger size was
        read since that is still fresh: reads on replicas (or overlapping reads) may
        answer an older size, and a log never shrinks, so memory-only views never step
        back to a size older than one this process has already served."""
        if began <= self._grown_at:
            return  # read before this process's own append: it may not hold it
        found = self._size
        if found is not None and found[0] > size and began - found[1] < SIZE_TTL:
            return
        self._size = (size, began)

    def known_size(self) -> int | None:
        """The log size read within `SIZE_TTL` and not outdated by a local append, else None."""
        found = self._size
        if found is None or time.monotonic() - found[1] >= SIZE_TTL:
            return None
        return found[0]

    def cached_base(self, unit_id: gs1.UnitId, size: int) -> UnitBase | None:
        """The unit's base at ``size`` if cached (no database read)."""
        key = (unit_id.gtin, unit_id.serial, size)
        cached = self._bases.get(key)
        if cached is not None:
            self._bases.move_to_end(key)
        return cached

    def __len__(self) -> int:
        return len(self._bases)

    def base(
        self, store: Store, log: int, verifier_key: str, unit_id: gs1.UnitId, size: int
    ) -> UnitBase:
        """The unit's base at log size ``size``, from the cache or built now (and kept
        unless it alone is over the budget, or it is proven at an older checkpoint)."""
        key = (unit_id.gtin, unit_id.serial, size)
        cached = self._bases.get(key)
        if cached is not None:
            self._bases.move_to_end(key)
            return cached
        built = build_base(store, log, verifier_key, unit_id, size)
        # not one proven at a checkpoint before ``size`` (the stored map behind the log
        # for a moment): kept, it would be served until the log grew again
        if built.nbytes <= self.max_bytes and built.proven_size >= size:
            self._bases[key] = built
            self.nbytes += built.nbytes
            while self.nbytes > self.max_bytes:
                _, old = self._bases.popitem(last=False)
                self.nbytes -= old.nbytes
        return built

    def view(
        self,
        store: Store,
        log: int,
        verifier_key: str,
        unit_id: gs1.UnitId,
        signature: str | None,
        scanned: ScannedLabel | None = None,
    ) -> tuple[dict[str, Any], int]:
        """The unit view and the log size it was read at: its base from the cache
        while the log has not grown, its label judged now (``scanned``: the label
        scanned at the resolver, see `unit_view`), and the unit's scan summary."""
        began = time.monotonic()
        size, count, first = store.size_and_scans(log, unit_id.gtin, unit_id.serial)
        self._remember_size(size, began)
        built = self.base(store, log, verifier_key, unit_id, size)
        view = finish(built, signature, scanned)
        return {**view, "scans": {"count": count, "first": first_scan(first)}}, size

    def memory_view(
        self,
        unit_id: gs1.UnitId,
        signature: str | None,
        scanned: ScannedLabel | None,
        summary: dict[str, Any],
        min_size: int = 0,
    ) -> tuple[dict[str, Any], int]:
        """`view` from memory alone: the remembered log size (`known_size`, at least
        ``min_size``), the base cached at that size and the stored scan ``summary``
        (a view's ``scans``: count, first) the caller keeps; the label is judged now
        as always.

        Raises:
            NotInMemoryError: the size is not fresh or below ``min_size``, or no base is
                cached at it.
        """
        size = self.known_size()
        if size is None or size < min_size:
            raise NotInMemoryError("log size")
        built = self.cached_base(unit_id, size)
        if built is None:
            raise NotInMemoryError("unit base")
        view = finish(built, signature, scanned)
        return {**view, "scans": {"count": summary["count"], "first": summary["first"]}}, size
