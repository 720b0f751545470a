"""The resolver's scans between their acknowledgement and their storage: the queue.

A resolver hit answers at once and queues its scan (`ScanQueue`); a background task
(api.scanflush) writes the queue in batches. While the database is away the queue is
bounded (`MAX_SCANS` scans and `MAX_BYTES` bytes): past that the oldest queued scan is
dropped and counted (``provenance_scans_dropped`` in ``/metrics``), so a stall costs
telemetry, never memory.

Views read the queue per unit (`ScanQueue.pending`), never by scanning it all.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter, deque
from collections.abc import Sequence
from operator import itemgetter
from typing import overload

from api.scanpack import Packed, facts_of, fields_of, packed_of, scan_bytes, unpack
from ledger.service.ledger import Scan
from ledger.signals.compute import ScanFact

log = logging.getLogger("provenance.scans")

# the packed form lives in api.scanpack; its names are the queue's too
__all__ = [
    "BATCH",
    "MAX_BYTES",
    "MAX_SCANS",
    "RECENT",
    "UNIT_BYTES",
    "ScanQueue",
]

#: the queue keeps at most this many scans ...
MAX_SCANS = 100_000
#: ... and at most this many bytes of them (estimated, `scan_bytes`)
MAX_BYTES = 32 * 1024 * 1024
#: scans written in one transaction at most (its bookkeeping runs on the event loop)
BATCH = 2_000
#: the pending scans of a unit a view judges with at most (the store reads as many)
RECENT = 500

#: a packed scan's unit, for the stored batch's bookkeeping (`ScanQueue.settle`)
_UNIT = itemgetter(0, 1)


#: an estimate of what the per-unit index holds for each unit with queued scans,
#: beyond its serial (which its scans share)
UNIT_BYTES = 200


class _Unit:
    """A unit's queued scans: how many, the oldest, the latest `RECENT` (oldest first)."""

    __slots__ = ("count", "first", "recent", "serial")

    def __init__(self, first: Packed) -> None:
        self.count = 0
        #: the one serial string every queued scan of the unit shares
        self.serial = first[1]
        self.first: Packed | None = first
        self.recent: list[Packed] = []


class _Lazy(Sequence[Scan]):
    """Packed scans seen as `Scan` objects, each unpacked when read; ``unit``: the
    (GTIN, serial) every one of them is a scan of, when they are one unit's."""

    def __init__(self, packed: list[Packed], unit: tuple[str, str] | None = None) -> None:
        self._packed = packed
        self._unit = unit

    def facts_of(self, gtin: str, serial: str) -> list[ScanFact] | None:
        """The scans as clone-signal facts (what ledger.service.signals makes of their
        `Scan` objects), oldest first, made straight from the packed form: a busy
        unit's signals read up to `RECENT` of them a few times a second. None unless
        these are the scans of unit (``gtin``, ``serial``)."""
        if self._unit != (gtin, serial):
            return None
        return facts_of(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    @property
    def newest(self) -> Packed | None:
        """The newest scan as the queue holds it (the same object while queued: what
        ledger.service.signals tells two queues of one length apart by)."""
        return self._packed[-1] if self._packed else None

    @overload
    def __getitem__(self, index: int) -> Scan: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Scan]: ...
    def __getitem__(self, index: int | slice) -> Scan | Sequence[Scan]:
        if isinstance(index, slice):
            return [unpack(p) for p in self._packed[index]]
        return unpack(self._packed[index])


class ScanQueue:
    """Scans acknowledged and not yet stored, oldest first, bounded by count and bytes.

    The batch being written stays counted (``writing``) until it committed or came
    back, so a view counts each scan once: from the queue or from the database.
    ``generation`` is odd while a batch is being written and moves at both ends of a
    write: a view that read across a change re-reads (api.unitviews).
    """

    def __init__(self, max_scans: int = MAX_SCANS, max_bytes: int = MAX_BYTES) -> None:
        self.max_scans = max_scans
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.dropped = 0
        self.generation = 0
        self._queued: deque[Packed] = deque()
        self._writing: list[Packed] = []
        #: the per-unit index, by GTIN then serial (the serial strings are the scans')
        self._units: dict[str, dict[str, _Unit]] = {}

    def __len__(self) -> int:
        return len(self._queued) + len(self._writing)

    @property
    def waiting(self) -> int:
        """Scans queued and not in the batch being written."""
        return len(self._queued)

    @property
    def writing(self) -> bool:
        """Whether a batch is being written."""
        return bool(self._writing)

    def add(self, scan: Scan) -> int:
        """Queue ``scan``; drop the oldest queued scans past the bounds; return how
        many were dropped."""
        return self.record(*fields_of(scan))

    def record(
        self,
        gtin: str,
        serial: str,
        micros: int,
        place: str | None,
        client: str | bytes,
        agent: str,
        network: str | bytes | None,
        region: str | None,
    ) -> int:
        """Queue the scan of these fields (those of a `Scan`, its time as `micros_of`
        gives it, the hashes as they are or `squeeze`d), as `add` queues a `Scan` of
        them: the resolver's scans are packed from its record without a `Scan` object
        in between. Drop the oldest queued
        scans past the bounds; return how many were dropped."""
        serials = self._units.get(gtin)
        if serials is None:
            serials = self._units[gtin] = {}
        unit = serials.get(serial)
        shared = serial if unit is None else unit.serial  # one string a unit's scans share
        packed = packed_of(gtin, shared, micros, place, client, agent, network, region)
        if unit is None:
            unit = serials[serial] = _Unit(packed)
            self.nbytes += UNIT_BYTES + sys.getsizeof(serial)
        self._queued.append(packed)
        self.nbytes += scan_bytes(packed)
        unit.count += 1
        unit.recent.append(packed)
        if len(unit.recent) > RECENT:
            del unit.recent[0]
        if (
            len(self._queued) + len(self._writing) <= self.max_scans
            and self.nbytes <= self.max_bytes
        ):
            return 0  # within the bounds (`_bound`'s test, without its call)
        return self._bound()

    def pending(self, gtin: str, serial: str) -> tuple[int, Scan | None, list[Scan]]:
        """The unit's queued scans: how many, the oldest, and the latest `RECENT`."""
        unit = self._units.get(gtin, {}).get(serial)
        if unit is None:
            return 0, None, []
        first = None if unit.first is None else unpack(unit.first)
        return unit.count, first, [unpack(p) for p in unit.recent]

    def queued_count(self, gtin: str, serial: str) -> int:
        """How many scans of the unit are queued (nothing unpacked)."""
        unit = self._units.get(gtin, {}).get(serial)
        return 0 if unit is None else unit.count

    def queued(self, gtin: str, serial: str) -> tuple[int, Scan | None]:
        """The unit's queued scans: how many, and the oldest (nothing else unpacked)."""
        unit = self._units.get(gtin, {}).get(serial)
        if unit is None:
            return 0, None
        return unit.count, None if unit.first is None else unpack(unit.first)

    def pending_scans(self, gtin: str, serial: str, *, shared: bool = False) -> Sequence[Scan]:
        """The unit's latest `RECENT` queued scans, unpacked only when read (a view
        whose signals are cached reads just how many there are). A copy of the queue's
        list, unless ``shared``: then the queue's own, which the next scan queued or
        stored changes, for a caller that reads it at once on the event loop and keeps
        nothing of it (a view from memory: a copy of up to 500 scans a page)."""
        unit = self._units.get(gtin, {}).get(serial)
        if unit is None:
            return ()
        return _Lazy(unit.recent if shared else list(unit.recent), (gtin, serial))

    def take(self, limit: int = BATCH) -> list[Packed]:
        """Move the oldest ``limit`` queued scans to the batch being written (still
        counted by views; `unpack` each); `settle` ends the write."""
        if self._writing:
            raise RuntimeError("a batch is already being written")
        while self._queued and len(self._writing) < limit:
            self._writing.append(self._queued.popleft())
        self.generation += 1
        return list(self._writing)

    def settle(self, stored: bool) -> int:
        """End the write of the batch `take` gave: ``stored``, it leaves the queue;
        else it goes back to the queue's front, then the bounds drop the oldest;
        return how many were dropped."""
        batch, self._writing = self._writing, []
        dropped = 0
        if stored:
            self._forget_stored(batch)
        else:
            self._queued.extendleft(reversed(batch))
            dropped = self._bound()
        self.generation += 1
        return dropped

    def settle_part(self, stored: Sequence[Packed]) -> int:
        """End the write of the batch `take` gave when only ``stored`` of it (the scans
        of whole units: one log's part, ledger by ledger) was stored: those leave the
        queue, the rest go back to its front (in their order), then the bounds drop the
        oldest; return how many were dropped."""
        batch, self._writing = self._writing, []
        done = {id(scan) for scan in stored}
        self._forget_stored([scan for scan in batch if id(scan) in done])
        self._queued.extendleft(reversed([scan for scan in batch if id(scan) not in done]))
        dropped = self._bound()
        self.generation += 1
        return dropped

    def _bound(self) -> int:
        """Drop the oldest queued scans past the bounds; return how many."""
        dropped = 0
        while self._queued and (len(self) > self.max_scans or self.nbytes > self.max_bytes):
            self._forget(self._queued.popleft())
            dropped += 1
        self.dropped += dropped
        return dropped

    def _forget_stored(self, batch: list[Packed]) -> None:
        """`_forget` of every scan of a stored batch (the oldest queued scans, in their
        order: each unit's are its oldest), worked out per unit, not per scan: it runs
        on the event loop, a batch of up to `BATCH` scans at a time."""
        self.nbytes -= sum(map(scan_bytes, batch))
        gone = {id(scan) for scan in batch}
        for (gtin, serial), count in Counter(map(_UNIT, batch)).items():
            serials = self._units[gtin]
            unit = serials[serial]
            unit.count -= count
            if unit.count == 0:
                del serials[serial]
                if not serials:
                    del self._units[gtin]
                self.nbytes -= UNIT_BYTES + sys.getsizeof(unit.serial)
                continue
            # the unit's stored scans among its recent ones (its oldest; a scan the
            # bounds dropped while the batch was written may stay in front of them)
            recent = unit.recent
            if not gone.isdisjoint(map(id, recent)):
                recent[:] = [scan for scan in recent if id(scan) not in gone]
            if id(unit.first) in gone:
                # the oldest queued scan was stored: the next oldest is known while
                # every queued scan is among the recent ones, else the oldest recent
                # stands for it
                unit.first = recent[0] if recent else None

    def _forget(self, scan: Packed) -> None:
        """Take a scan that left the queue (stored or dropped) out of the counts."""
        self.nbytes -= scan_bytes(scan)
        serials = self._units[scan[0]]
        unit = serials[scan[1]]
        unit.count -= 1
        if unit.count == 0:
            del serials[scan[1]]
            if not serials:
                del self._units[scan[0]]
            self.nbytes -= UNIT_BYTES + sys.getsizeof(unit.serial)
            return
        recent = unit.recent
        # recent holds the scan only if it held every queued scan of the unit; the
        # scans leave oldest first, so it is at the front, or (a scan dropped behind
        # its unit's batch being written) near it
        if len(recent) > unit.count:
            if recent[0] is scan:
                del recent[0]
            else:
                at = next((i for i, p in enumerate(recent) if p is scan), None)
                if at is not None:
                    del recent[at]
        if unit.first is scan:
            # the next oldest is known while every queued scan is among the recent
            # ones; otherwise the oldest recent one stands for it (shown only while the
            # database has no scan of the unit)
            unit.first = unit.recent[0] if unit.recent else None
