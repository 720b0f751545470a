"""The resolver's unit views: from memory when it can answer, else from the database.

A view is its unit's log part (cached per (unit, log size): ledger.service.unitview),
its label judged per request, its signals (ledger.service.signals), and its scan count:
the unit's stored scans plus its queued ones (api.scans), each counted exactly once.

The hot path reads no database and does not leave the event loop: the log size read
within `SIZE_TTL` (an entry appended here is seen at once, one appended by another
process or worker within that long), the unit's base at that size, its stored scan
summary as last read (`ScanSummaries`: each batch this process stores is added to it
as the queue forgets the batch; read again for other processes' scans, at most
`SUMMARY_TTL` old), its stored signal facts and the witness summary (each with its own
TTL). A view older than `REFRESH_AFTER` starts a background read of its unit, one at a
time; a busy unit's stored scans are read again by age (`FACTS_REREAD`), not after each
flush. Whatever is missing sends the request the ordinary way: a database read on the
thread pool, which then fills the memory for the next views; a crowd of views of the
unit waits for that one read (single flight) instead of reading each.

A summary is kept only when read with no scan batch written meanwhile (the read may or
may not have seen a batch that committed during it): a read that overlapped a write is
read again alone, with new batches held back (`ScanFlusher.paused`) while the one under
way ends. Its signals, judged over the unit's stored scans and its queued ones, are
judged again from memory over the exact count once the write under way has ended (the
stored scans are kept by the count read with them), or read again, so that a batch is
not counted from the database and the queue both (`_read`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Coroutine
from operator import itemgetter
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.pinning import pin
from api.scanflush import ScanFlusher
from api.scanpack import Packed, unpack
from api.scans import ScanQueue
from ledger.events import format_time
from ledger.label import ScannedLabel
from ledger.service.ledger import Ledger
from ledger.service.signalcaches import FACTS_REREAD
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
#: reads of a unit a view not in memory waits for before reading for itself alone
WAIT_ROUNDS = 3
#: how long an exact summary read waits for the scan batch being written (seconds):
#: in the background, and when a view waits for it (a longer write is a stalled one)
SETTLE_WAIT = 1.0
STALL_WAIT = 0.05
#: reads of a view, or of its stored scan summary, at most while writes keep ending
#: during them
READS = 3

#: a packed scan's unit (`ScanSummaries.stored`)
_UNIT = itemgetter(0, 1)

__all__ = ["FACTS_REREAD", "SIZE_TTL", "SUMMARY_TTL", "ScanSummaries", "unit_view"]


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
        #: units whose summary is being read with scan writes held back (one at a time)
        self.exacting: set[tuple[str, str]] = set()

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
        if not self._found:
            return
        # per unit, not per scan: it runs on the event loop, a batch at a time
        for unit, count in Counter(map(_UNIT, batch)).items():
            found = self._found.get(unit)
            if found is None:
                continue
            summary = found[0]
            summary["count"] += count
            if summary["first"] is None:
                scan = unpack(next(p for p in batch if p[0] == unit[0] and p[1] == unit[1]))
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
    read on the thread pool, one read per unit at a time (`_shared`). Every queued
    scan is counted exactly once.

    Raises:
        StorageError: the database failed (a view not in memory).
    """
    gtin, serial, _, _, _, _ = request
    key = (home.log, gtin, serial)
    view = _from_memory(home, queue, summaries, request)
    if view is not None:
        # asked only when a refresh can start: one put off by a read under way is
        # due as soon as that read ends, not `REFRESH_AFTER` later
        if key not in summaries.reading and summaries.aging(home.log, gtin, serial):
            _start(key, summaries, _read(pin(home, http), queue, flusher, summaries, request))
    else:
        view = await _shared(key, home, http, queue, flusher, summaries, request)
    queued = queue.queued_count(gtin, serial)
    scans = view["scans"] = dict(view["scans"])
    scans["count"] += queued
    if scans["first"] is None and queued:  # the oldest queued scan unpacked only then
        _, oldest = queue.queued(gtin, serial)
        if oldest is not None:
            scans["first"] = first_scan({"at": format_time(oldest.at), "place": oldest.place})
    return view


async def _shared(
    key: tuple[int, str, str],
    home: Ledger,
    http: Request | None,
    queue: ScanQueue,
    flusher: ScanFlusher,
    summaries: ScanSummaries,
    request: tuple[str, str, str | None, str | None, ScannedLabel | None, int],
) -> dict[str, Any]:
    """The view of a unit not in memory: the unit's read under way is waited for and
    its memory used (single flight: a crowd of views of one unit costs one read, not
    one each); a read is started only when none is under way, and its starter gets
    its view. After `WAIT_ROUNDS` reads that left the memory short (a unit with few
    scans whose count moved again), the view is read for this request alone.

    Raises:
        StorageError: the database failed.
    """
    for _ in range(WAIT_ROUNDS):
        running = summaries.reading.get(key)
        if running is None:
            mine = _start(
                key, summaries, _read(pin(home, http), queue, flusher, summaries, request)
            )
            return dict(await asyncio.shield(mine))
        # another view's read: its memory (base, summary, facts) serves this view too,
        # and its stored scan summary when it could not be kept (a stalled write)
        await asyncio.wait([running])
        read = None
        if not running.cancelled() and running.exception() is None:
            read = running.result()["scans"]
        view = _from_memory(home, queue, summaries, request, read)
        if view is not None:
            return view
    return dict(await _read(pin(home, http), queue, flusher, summaries, request))


def _start(
    key: tuple[int, str, str],
    summaries: ScanSummaries,
    read: Coroutine[Any, Any, dict[str, Any]],
) -> asyncio.Future[dict[str, Any]]:
    """Run ``read`` as the unit's one read under way (``summaries.reading``; the
    callers start one only when none is)."""
    task = asyncio.ensure_future(read)
    summaries.reading[key] = task

    def done(finished: asyncio.Future[dict[str, Any]]) -> None:
        if summaries.reading.get(key) is finished:
            del summaries.reading[key]
        if not finished.cancelled() and finished.exception() is not None:
            # a read that failed: the next view reads again
            log.debug("reading %s failed: %s", key, finished.exception())

    task.add_done_callback(done)
    return task


def _from_memory(
    home: Ledger,
    queue: ScanQueue,
    summaries: ScanSummaries,
    request: tuple[str, str, str | None, str | None, ScannedLabel | None, int],
    read: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The view from memory alone, or None when something is not there; ``read``: the
    stored scan summary a read just gave, if the memory keeps none."""
    gtin, serial, signature, token, scanned, asked = request
    stored = summaries.get(gtin, serial) or read
    if stored is None:
        return None
    try:
        view = home.unit_view(
            gtin,
            serial,
            signature,
            owner_token=token,
            # read here and now, on the event loop: the queue's own list, not a copy
            pending=queue.pending_scans(gtin, serial, shared=True),
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
    """The view read from the database (`_database_view`). One that a scan write
    overlapped may count the batch in its signals from the database and the queue
    both, or in neither: with new batches held back and the write under way waited
    for up to `STALL_WAIT`, its count is settled (`_settled_scans`) and its signals
    judged again from memory over it (stored scans are kept by the count read with
    them), or it is read again: `READS` reads at most, also during a stalled write.
    The last stands: a write whose thread returns over ``READS x STALL_WAIT`` after
    its commit can leave that one view counting its batch twice in its signals."""
    gtin, serial = request[0], request[1]
    view, clean = await _database_view(ledger, queue, summaries, request)
    if clean:
        return view
    again = None
    async with flusher.paused():
        for attempt in range(READS):
            # the signals judged over that read may count the batch twice: not reused
            ledger.forget_signals(gtin, serial)
            await flusher.settled(STALL_WAIT)
            view["scans"] = await _settled_scans(ledger, queue, flusher, summaries, (gtin, serial))
            again = _from_memory(ledger, queue, summaries, request, view["scans"])
            if again is not None or attempt == READS - 1:
                break
            view, clean = await _database_view(ledger, queue, summaries, request)
            if clean:
                return view
    return again if again is not None else view


async def _database_view(
    ledger: Ledger,
    queue: ScanQueue,
    summaries: ScanSummaries,
    request: tuple[str, str, str | None, str | None, ScannedLabel | None, int],
) -> tuple[dict[str, Any], bool]:
    """The view read on the thread pool, and whether it is clean: no scan write began
    or ended during the read, nor was one under way (then its stored scan summary is
    kept: what it counted is exactly what the queue no longer holds)."""
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
    clean = queue.generation == before and before % 2 == 0
    if clean:
        summaries.put(gtin, serial, {**view["scans"]}, before)
    return view, clean


async def _settled_scans(
    ledger: Ledger,
    queue: ScanQueue,
    flusher: ScanFlusher,
    summaries: ScanSummaries,
    unit: tuple[str, str],
) -> dict[str, Any]:
    """The unit's exact stored scan summary after a read a write overlapped: the kept
    one (exact: each stored batch is added to it), with the read for other processes'
    scans going on by itself (a refresh waits no longer than `STALL_WAIT` for a write,
    nor do the views waiting for it); with none kept, read while no batch is written."""
    kept = summaries.get(*unit)
    if kept is None:
        # no summary kept: this view (and those waiting for it) waits for the write
        return await _exact_summary(ledger, queue, flusher, summaries, unit, STALL_WAIT)
    if unit not in summaries.exacting:
        summaries.exacting.add(unit)
        exact = asyncio.ensure_future(_exact_summary(ledger, queue, flusher, summaries, unit))
        exact.add_done_callback(functools.partial(_exacted, summaries, unit))
    return dict(kept)


def _exacted(summaries: ScanSummaries, unit: tuple[str, str], done: asyncio.Future[Any]) -> None:
    summaries.exacting.discard(unit)
    if not done.cancelled() and done.exception() is not None:
        # the kept summary stands; the next refresh reads again
        log.debug("reading the scan summary of %s failed: %s", unit, done.exception())


async def _exact_summary(
    ledger: Ledger,
    queue: ScanQueue,
    flusher: ScanFlusher,
    summaries: ScanSummaries,
    unit: tuple[str, str],
    wait: float = SETTLE_WAIT,
) -> dict[str, Any]:
    """The unit's stored scan summary (count, first) read while no batch is written:
    new batches held back (`ScanFlusher.paused`) and the one under way, if any, waited
    for up to ``wait`` seconds; kept (`ScanSummaries.put`) when no write was under way.
    A write still under way then is slow or stalled (a locked or lost database): the
    queue still counts its batch, and the read may or may not have seen it (the write
    may commit during the read, its end seen on this loop only later). So after such a
    read the write is waited for once more, up to ``wait``: if it ends (or ended during
    the read), the summary is read again, the queue no longer counting the batch (up to
    `READS` reads; the last stands if writes keep ending: under load a page counted a
    first check as none, or twice, tests/integration/test_scan_path.py); if it does
    not, it is taken as stalled before its commit, the summary read stands for this
    view, and is not kept. Not covered: a write whose thread is held up longer than
    ``wait`` between its commit and its return is counted twice by this one view."""
    gtin, serial = unit
    async with flusher.paused():
        for _ in range(READS):
            await flusher.settled(wait)
            stalled = queue.writing
            generation = queue.generation
            count, first = await run_in_threadpool(ledger.scan_summary, gtin, serial)
            if stalled and queue.generation == generation:
                # the write under way may have committed during the read, its end not
                # seen yet: a moment more for it (a stalled one has not committed)
                await flusher.settled(wait)
            if queue.generation == generation:
                break  # no write ended (nor began) during or just after the read
        summary = {"count": count, "first": first_scan(first)}
        if not stalled and queue.generation == generation:
            # (a write held back past HOLD_MAX may have begun: then nothing is kept)
            summaries.put(gtin, serial, summary, generation)
    return dict(summary)
