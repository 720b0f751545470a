"""Writing the resolver's scan queue (api.scans) to the database.

A background task (`ScanFlusher.flush_forever`) writes the queue in batches, one
transaction per log and batch. A database error leaves the batch queued and the task
waits (doubling from `RETRY_FIRST` to `RETRY_MAX` seconds) and tries again: the task
never dies. A clean stop drains the queue (`ScanFlusher.drain`), retrying until its
deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.concurrency import run_in_threadpool

from api.metrics import Metrics
from api.scanpack import Packed
from api.scans import ScanQueue
from ledger.errors import StorageError

log = logging.getLogger("provenance.scans")

#: the first wait after a failed write, and the longest (seconds)
RETRY_FIRST = 0.5
RETRY_MAX = 10.0
#: how long a clean stop keeps retrying to store the queue (seconds)
DRAIN_SECONDS = 30.0
#: how long a batch's write waits at most for readers holding writes back (seconds)
HOLD_MAX = 0.5


class PartlyStoredError(StorageError):
    """A batch's write that stored only ``stored`` of it (whole logs' parts, each in its
    own transaction) before the database's error ``cause`` (raised from it): those
    scans are not queued again (they would be stored twice), the rest are."""

    def __init__(self, stored: list[Packed], cause: Exception) -> None:
        super().__init__(str(cause))
        self.stored = stored


class ScanFlusher:
    """Writes a `ScanQueue` with ``write`` (a blocking call: one batch of packed scans,
    `api.scanpack.unpack` or `api.scanpack.rows_of` read them; raises on a database error),
    off the event loop, retrying with back-off."""

    def __init__(
        self,
        queue: ScanQueue,
        write: Callable[[list[Packed]], None],
        metrics: Metrics,
        stored: Callable[[list[Packed]], None] | None = None,
    ) -> None:
        self.queue = queue
        self._write = write
        self._metrics = metrics
        #: told of each batch stored, as it leaves the queue (api.unitviews.ScanSummaries)
        self._stored = stored
        self._batch: list[Packed] = []
        #: the batch being written, if any: its end settles it (`_done`), whoever waits
        self._writing: asyncio.Future[None] | None = None
        #: readers holding new batches back (`paused`), and what the flush waits on
        self._holds = 0
        self._resumed: asyncio.Event | None = None

    async def flush(self) -> None:
        """Write every queued scan now, batch by batch (first waiting for a write
        already under way, e.g. one whose flush was cancelled).

        Raises:
            Exception: the database's error of a batch; that batch and those after it
                stay queued.
        """
        overdue = False
        while True:
            if self._writing is not None:
                await asyncio.wait([self._writing])
                continue
            if not self.queue.waiting:
                return
            if self._holds and not overdue:
                # a reader's hold is short; many readers in turn must not starve the
                # writes, so after HOLD_MAX the batch is written all the same (the
                # readers see the generation move and keep nothing they read)
                # asyncio.timeout, not wait_for: Python 3.11's wait_for returns when the
                # hold ends as the flush is cancelled, and the cancellation is lost (the
                # flusher then never stops: a test's hang)
                try:
                    async with asyncio.timeout(HOLD_MAX):
                        await self._resume().wait()
                except TimeoutError:
                    overdue = True
                continue
            overdue = False
            batch = self._batch = self.queue.take()
            write = asyncio.ensure_future(run_in_threadpool(self._write, batch))
            self._writing = write
            # registered first, so the batch is settled before any awaiting code resumes
            write.add_done_callback(self._done)
            # a cancelled flush leaves the write going on in its thread; its end settles
            # the batch: stored, or queued again, never written twice
            await asyncio.shield(write)

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Begin no new batch's write inside this block for up to `HOLD_MAX` seconds
        (one under way goes on: `settled` waits for it). For a read of stored scan
        counts that must not overlap a write (api.unitviews), which still checks the
        queue's generation: a write held back longer begins all the same."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self._resume().set()
                self._resumed = None

    def _resume(self) -> asyncio.Event:
        if self._resumed is None:
            self._resumed = asyncio.Event()
        return self._resumed

    async def settled(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the write under way, if any, to end. Whether
        it did, the caller tells by the queue's generation: when this returns, the next
        batch's write may already have begun."""
        if self._writing is not None:
            await asyncio.wait([self._writing], timeout=timeout)

    def _done(self, write: asyncio.Future[None]) -> None:
        self._writing = None
        error = None if write.cancelled() else write.exception()
        batch, self._batch = self._batch, []
        if isinstance(error, PartlyStoredError):
            dropped, stored = self.queue.settle_part(error.stored), error.stored
        else:
            whole = not write.cancelled() and error is None
            dropped, stored = self.queue.settle(whole), batch if whole else []
        if stored and self._stored is not None:
            # in the same step as the queue forgets them: a view counts each scan once
            self._stored(stored)
        if dropped:
            self._metrics.scans_dropped.inc(dropped)
        self._metrics.scans_pending.set(len(self.queue))

    async def flush_forever(self, interval: float = 0.5) -> None:
        """Until cancelled: flush every ``interval`` seconds; after a failed flush wait
        `RETRY_FIRST` seconds, doubling up to `RETRY_MAX`, and try again."""
        wait = interval
        while True:
            await asyncio.sleep(wait)
            try:
                await self.flush()
            except Exception as e:  # the flusher must outlive any database error
                self._metrics.scan_flush_failures.inc()
                wait = RETRY_FIRST if wait == interval else min(RETRY_MAX, wait * 2)
                log.warning(
                    "storing %d scans failed (%s); retrying in %.1f s", len(self.queue), e, wait
                )
                continue
            wait = interval

    async def drain(self, seconds: float = DRAIN_SECONDS) -> int:
        """At a clean stop: store every queued scan, retrying with back-off for up to
        ``seconds``; return how many could not be stored (logged as an error)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        wait = RETRY_FIRST
        while True:
            try:
                await self.flush()
                return 0
            except Exception as e:
                self._metrics.scan_flush_failures.inc()
                if loop.time() + wait > deadline:
                    log.error("%d scans not stored at shutdown: %s", len(self.queue), e)
                    return len(self.queue)
                await asyncio.sleep(wait)
                wait = min(RETRY_MAX, wait * 2)
