"""The resolver's unit views: from memory when it can answer, else from the database.

A view is its unit's log part (cached per (unit, log size): ledger.service.unitview),
its label judged per request, its signals (ledger.service.signals), and its scan count:
the unit's stored scans plus its queued ones (api.scans), each counted exactly once.

The hot path reads no database and does not leave the event loop: the log size read
within `SIZE_TTL` (an entry appended here is seen at once, one appended by another
process or worker within that long), the unit's base at that size, its stored scan
summary as last read (`ScanSummaries`: kept while no scan batch of this process was
written since, at most `SUMMARY_TTL`), its stored signal facts and the witness summary
(each with its own TTL). Whatever is missing sends the request the ordinary way: a
database read on the thread pool, which then fills the memory for the next views.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.pinning import pin
from api.scans import Packed, ScanFlusher, ScanQueue, unpack
from ledger.events import format_time
from ledger.label import ScannedLabel
from ledger.service.ledger import Ledger
from ledger.service.viewcache import SIZE_TTL, NotInMemoryError
from ledger.signals.places import first_scan

log = logging.getLogger("provenance.views")

#: how long a unit's stored scan summary serves views at most (seconds): scans other
#: processes store show within this long (this process's are added as they are stored)
SUMMARY_TTL = 5.0
#: a view served from memory older than this starts a refresh of its unit (seconds)
REFRESH_AFTER = 0.25
#: units whose stored scan summary is kept at most (about 300 bytes each: ~15 MB)
SUMMARY_UNITS = 50_000

__all__ = ["SIZE_TTL", "SUMMARY_TTL", "ScanSummaries", "unit_view"]


class ScanSummaries:
    """Units' stored scan summaries (a view's ``scans``: count and first) as last read,
    with the queue's generation at the read (least recently used first out)."""

    def __init__(self, capacity: int = SUMMARY_UNITS) -> None:
        self.capacity = capacity
        self._found: OrderedDict[tuple[str, str], tuple[dict[str, Any], int, float]] = OrderedDict()
        #: when a read of each log's size (a view's) last began
        self._refreshed: dict[int, float] = {}
        #: the database reads of views under way, by (log, gtin, serial): one at a time
        self.reading: dict[tuple[int, str, str], asyncio.Future[dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._found)

    def aging(self, log: int, gtin: str, serial: str) -> bool:
        """Whether the unit's summary, or the log's size (read with any unit's), was
        read more than `REFRESH_AFTER` ago; if so, the caller refreshes it now."""
        now = time.monotonic()
        found = self._found.get((gtin, serial))
        if found is not None and now - found[2] < REFRESH_AFTER:
            if now - self._refreshed.get(log, 0.0) < REFRESH_AFTER:
                return False
        self._refreshed[log] = now
        return True

    def get(self, gtin: str, serial: str) -> dict[str, Any] | None:
        """The unit's summary if read within `SUMMARY_TTL`, with this process's stored
        batches since added (`stored`); else None."""
        found = self._found.get((gtin, serial))
        if found is None or time.monotonic() - found[2] >= SUMMARY_TTL:
            return None
        return found[0]

    def stored(self, batch: list[Packed]) -> None:
        """Add a batch just stored to the summaries of its units (called as the queue
        forgets it, so count = summary + queued stays exact)."""
        for packed in batch:
            found = self._found.get((packed[0], packed[1]))
            if found is None:
                continue
            summary = found[0]
            summary["count"] += 1
            if summary["first"] is None:
                scan = unpack(packed)
                summary["first"] = first_scan({"at": format_time(scan.at), "place": scan.place})

    def put(self, gtin: str, serial: str, summary: dict[str, Any], generation: int) -> None:
        """Keep ``summary``, read with no batch being written or settled during the
        read (at ``generation``, kept for the record)."""
        key = (gtin, serial)
        self._found[key] = (summary, generation, time.monotonic())
        self._found.move_to_end(key)
        while len(self._found) > self.capacity:
            self._found.popitem(last=False)


async def unit_view(
    home: Ledger,
    http: Request | None,
    queue: ScanQueue,
    flusher: ScanFlusher,
    summaries: ScanSummaries,
    request: tuple[str, str, str | None, str | None, ScannedLabel | None, int],
) -> dict[str, Any]:
    """The view of a unit: ``request`` is (gtin, serial, label signature, owner token,
    scanned label, min_size); ``home`` the unit's log (its caches), ``http`` the HTTP
    request its reads are pinned for (api.pinning). From memory when it can (module
    docstring), refreshed in the background once older than `REFRESH_AFTER`; else
    read on the thread pool, one read per unit at a time. Every queued scan is
    counted exactly once.

    Raises:
        StorageError: the database failed (a view not in memory).
    """
    gtin, serial, _, _, _, _ = request
    key = (home.log, gtin, serial)
    view = _from_memory(home, queue, summaries, request)
    if view is not None:
        if summaries.aging(home.log, gtin, serial) and key not in summaries.reading:
            _start(key, summaries, _read(pin(home, http), queue, flusher, summaries, request))
    else:
        running = summaries.reading.get(key)
        if running is not None:
            # one read per unit at a time: the others wait for it and use its memory
            await asyncio.wait([running])
            view = _from_memory(home, queue, summaries, request)
        if view is None:
            read = _start(
                key, summaries, _read(pin(home, http), queue, flusher, summaries, request)
            )
            view = await asyncio.shield(read)
    queued, oldest = queue.queued(gtin, serial)
    scans = view["scans"] = dict(view["scans"])
    scans["count"] += queued
    if scans["first"] is None and oldest is not None:
        scans["first"] = first_scan({"at": format_time(oldest.at), "place": oldest.place})
    return view


def _start(
    key: tuple[int, str, str],
    summaries: ScanSummaries,
    read: Coroutine[Any, Any, dict[str, Any]],
) -> asyncio.Future[dict[str, Any]]:
    """Run ``read`` as the unit's one read under way (``summaries.reading``)."""
    task = asyncio.ensure_future(read)
    summaries.reading.setdefault(key, task)

    def done(finished: asyncio.Future[dict[str, Any]]) -> None:
        if summaries.reading.get(key) is finished:
            del summaries.reading[key]
        if not finished.cancelled() and finished.exception() is not None:
            # a background refresh that failed: the next view reads again
            log.debug("refreshing %s failed: %s", key, finished.exception())

    task.add_done_callback(done)
    return task


def _from_memory(
    home: Ledger,
    queue: ScanQueue,
    summaries: ScanSummaries,
    request: tuple[str, str, str | None, str | None, ScannedLabel | None, int],
) -> dict[str, Any] | None:
    """The view from memory alone, or None when something is not there."""
    gtin, serial, signature, token, scanned, asked = request
    stored = summaries.get(gtin, serial)
    if stored is None:
        return None
    try:
        view = home.unit_view(
            gtin,
            serial,
            signature,
            owner_token=token,
            pending=queue.pending_scans(gtin, serial),
            scanned=scanned,
            memory=(stored, asked),
        )
    except NotInMemoryError:
        return None
    return dict(view)


async def _read(
    ledger: Ledger,
    queue: ScanQueue,
    flusher: ScanFlusher,
    summaries: ScanSummaries,
    request: tuple[str, str, str | None, str | None, ScannedLabel | None, int],
) -> dict[str, Any]:
    """The view read from the database, its stored scan summary re-read when a scan
    batch's write overlapped the read; the summary kept when none did."""
    gtin, serial, signature, token, scanned, _ = request
    before = queue.generation
    view: dict[str, Any] = dict(
        await run_in_threadpool(
            functools.partial(
                ledger.unit_view,
                gtin,
                serial,
                signature,
                owner_token=token,
                pending=queue.pending_scans(gtin, serial),
                scanned=scanned,
            )
        )
    )
    for _ in range(100):
        if queue.generation == before and before % 2 == 1:
            # a write was under way when the read began: wait a little for its end
            await flusher.settled(0.02)
            if queue.generation == before:
                # still under way (a stalled database): it has not committed, so
                # the read stands. `settled` alone cannot tell: the next batch's
                # write may already have begun when it returns
                break
        elif queue.generation == before:
            summaries.put(gtin, serial, {**view["scans"]}, before)
            break
        # A flush overlapped the read: re-read only the (one-row) scan summary.
        await asyncio.sleep(0.002)
        before = queue.generation
        count, first = await run_in_threadpool(ledger.scan_summary, gtin, serial)
        view["scans"] = {"count": count, "first": first_scan(first)}
    return view
