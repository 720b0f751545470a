"""What every route needs: the right log's ledger, the settings, the limiter, metrics, scans.

One `Context` per app, created by the app factory and stored on ``app.state.ctx``.

Routes never hold "the" ledger: a deployment may run several logs (ledger.service.deployment).
They ask the context for the one that serves the request:

- `Context.ledger_for(request)`: the log the URL names (``/logs/{log}/...``), else the
  default log; for log-level resources (entries, checkpoints, proofs, actors,
  cosignatures);
- `Context.ledger_for_unit(gtin)`: the log a unit lives in (routed by its GTIN's
  company prefix); for the resolver and unit APIs;
- `Context.ledger_for_brand(brand)`: the log a brand's units live in (alerts);
- `Context.ledger_for_events(request, events)`: the one log a batch of signed events is
  appended to (routed by the events; the URL's log must agree).

Each is pinned for the request (api.pinning: a replica or the primary). The jobs
around it live in their own modules: who the client is (api.clients), which database a
read goes to (api.pinning), what a scan records (api.scanrecord), the queue and flusher
of scans (api.scans), unit views from memory or the database (api.unitviews), the
periodic jobs (api.housekeeping), reading a body (api.readbody). The names those
modules give routes are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from api import housekeeping, unitviews
from api.clients import agent_class, client_address, geo_place, is_https
from api.csrf import CsrfGuard
from api.metrics import Metrics
from api.pinning import MIN_SIZE_HEADER, implied_size, min_size, pin
from api.problems import RateLimitedError
from api.ratelimit import Limiter
from api.readbody import read_body
from api.scanflush import DRAIN_SECONDS, PartlyStoredError, ScanFlusher
from api.scanpack import Packed, rows_of
from api.scanrecord import Pseudonyms, owner_cookie, queue_scan
from api.scans import ScanQueue
from ledger.entry import SignedEvent
from ledger.label import ScannedLabel
from ledger.service.deployment import Deployment
from ledger.service.ledger import Ledger
from ledger.service.scanfacts import ScanRow
from ledger.service.settings import Settings

__all__ = [
    "MIN_SIZE_HEADER",
    "Context",
    "_implied_size",
    "agent_class",
    "client_address",
    "ctx",
    "geo_place",
    "is_https",
    "min_size",
    "owner_cookie",
    "read_body",
]

_implied_size = implied_size  # the name tests and older callers know


@dataclass
class Context:
    """Shared per-app state."""

    deployment: Deployment
    settings: Settings
    limiter: Limiter
    metrics: Metrics
    #: scans acknowledged and not yet stored (api.scans)
    scans: ScanQueue = field(default_factory=ScanQueue)
    flusher: ScanFlusher = field(init=False)
    #: units' stored scan summaries, for views from memory (api.unitviews)
    summaries: unitviews.ScanSummaries = field(default_factory=unitviews.ScanSummaries)
    #: the day's client hashes last computed (api.scanrecord; set from the deployment)
    pseudonyms: Pseudonyms = field(init=False)
    #: the app's CSRF guard (api.csrf.guard's, set with it): the resolver's page reads
    #: it here, where the app's state answers it only after a failed attribute lookup
    csrf: CsrfGuard | None = None

    def __post_init__(self) -> None:
        self.pseudonyms = Pseudonyms(self.deployment.default.salt)
        self.flusher = ScanFlusher(
            self.scans, self._record_scans, self.metrics, self.summaries.stored
        )

    def ledger_for(self, request: Request) -> Ledger:
        """The log the request's URL names (``/logs/{log}/...``), else the default log.

        Raises:
            NotFoundError: the URL names a log this deployment does not serve.
            ValidationError: a malformed ``min_size``.
        """
        ledger = self.deployment.for_log(request.path_params.get("log"))
        return pin(ledger, request)

    def ledger_for_unit(self, gtin: str, request: Request | None = None) -> Ledger:
        """The log a unit (or product) with this GTIN lives in (reads pinned per request).

        Raises:
            GS1Error: the GTIN is malformed.
            ValidationError: a malformed ``min_size``.
        """
        return pin(self.deployment.for_gtin(gtin), request)

    def ledger_for_brand(self, brand: str, request: Request | None = None) -> Ledger:
        """The log a brand's registrations and units live in (reads pinned per request).

        Raises:
            ValidationError: a malformed ``min_size``.
        """
        return pin(self.deployment.for_brand(brand), request)

    def ledger_for_events(self, request: Request, events: Sequence[SignedEvent]) -> Ledger:
        """The one log these signed events are appended to.

        Raises:
            NotFoundError: the URL names a log this deployment does not serve.
            ValidationError: the events span logs or belong to another log than the
                URL names (field ``log``).
        """
        return self.ledger_to_queue(request, events).reading(primary=True)

    def ledger_to_queue(self, request: Request, events: Sequence[SignedEvent]) -> Ledger:
        """The one log these signed events go to, as the ledger itself, not a copy
        reading on the primary (`ledger_for_events`): for a route that only asks who pays
        (`Ledger.key_owners` reads on the primary itself) and queues its event for a
        group (`Ledger.submit`), which the ledger's own appender writes whatever the copy.

        Raises:
            NotFoundError: the URL names a log this deployment does not serve.
            ValidationError: the events span logs or belong to another log than the
                URL names (field ``log``).
        """
        return self.deployment.for_events(events, request.path_params.get("log"))

    async def limit(self, request: Request, cost: int = 1) -> None:
        """Spend ``cost`` tokens (one request: 1) of the client's public budget, or
        raise 429 and spend nothing.

        Raises:
            RateLimitedError: the client is over its budget.
        """
        wait = await self.limiter.acquire(client_address(request), cost)
        if wait is not None:
            raise RateLimitedError(f"too many requests; retry in {wait} s", wait)

    def scan(
        self,
        request: Request,
        gtin: str,
        serial: str,
        place: str | None,
        *,
        now: datetime,
        agent: str | None,
        owner_token: str | None,
    ) -> None:
        """Queue a scan record for this resolver hit (api.scanrecord.queue_scan, whose
        arguments these are; flushed in the background).

        Raises:
            StorageError: the database failed (the day's salt is read once per day).
        """
        dropped = queue_scan(
            request,
            self.settings,
            self.pseudonyms,
            self.scans,
            gtin,
            serial,
            place,
            now=now,
            agent=agent,
            owner_token=owner_token,
        )
        self.metrics.scans.value += 1
        if dropped:
            self.metrics.scans_dropped.inc(dropped)

    def client_hash(self, address: str, now: datetime) -> str:
        """The client's hash of the UTC day of ``now``, keyed with the day's random salt
        every worker on the default log's database shares (ledger.service.salt).

        Raises:
            StorageError: the database failed (the day's salt is read once per day).
        """
        return self.deployment.default.salt.client_hash(address, now)

    async def flush_scans(self) -> None:
        """Store every queued scan now (api.scanflush.ScanFlusher.flush).

        Raises:
            StorageError: a database failed; the scans not stored stay queued.
        """
        await self.flusher.flush()

    async def drain_scans(self, seconds: float = DRAIN_SECONDS) -> int:
        """At a clean stop: store every queued scan, retrying for up to ``seconds``;
        return how many could not be stored."""
        return await self.flusher.drain(seconds)

    def _record_scans(self, batch: list[Packed]) -> None:
        """Write each queued scan to its unit's log (one transaction per log), as its
        scans-table row (`api.scanpack.rows_of`).

        Raises:
            PartlyStoredError: a log's write failed after others' had been stored.
            StorageError: the first log's write failed (nothing was stored).
        """
        rows = rows_of(batch)
        # a batch holds few GTINs, most often of one log: routed once each, and the
        # rows split only when they go to several logs
        ledgers = {gtin: self.deployment.for_gtin(gtin) for gtin in {row[0] for row in rows}}
        if len({id(ledger) for ledger in ledgers.values()}) == 1:
            next(iter(ledgers.values())).record_scan_rows(rows)
            return
        by_log: dict[int, tuple[Ledger, list[ScanRow], list[Packed]]] = {}
        for row, packed in zip(rows, batch, strict=True):
            ledger = ledgers[row[0]]
            part = by_log.setdefault(id(ledger), (ledger, [], []))
            part[1].append(row)
            part[2].append(packed)
        stored: list[Packed] = []
        for ledger, part_rows, part_packed in by_log.values():
            try:
                ledger.record_scan_rows(part_rows)
            except Exception as e:
                if stored:  # the logs written before: not queued again
                    raise PartlyStoredError(stored, e) from e
                raise
            stored += part_packed

    async def unit_view(
        self,
        gtin: str,
        serial: str,
        signature: str | None,
        owner_token: str | None = None,
        request: Request | None = None,
        scanned: ScannedLabel | None = None,
        asked: int | None = None,
    ) -> dict[str, Any]:
        """The unit view from the unit's log, every queued scan counted exactly once,
        judged with its clone signals and for the owner of ``owner_token``; ``scanned``
        is the label scanned at the resolver (ledger.label.ScannedLabel); ``asked``:
        the request's ``min_size`` when the caller read it (`api.pinning.asked_size`;
        None: read from ``request``). From memory when it can answer (api.unitviews).

        Raises:
            GS1Error: the GTIN or serial is malformed.
            ValidationError: a malformed ``min_size`` on ``request``.
        """
        home = self.deployment.for_gtin(gtin)
        if asked is None:
            asked = 0 if request is None else min_size(request)
        return await unitviews.unit_view(
            home,
            request,
            self.scans,
            self.flusher,
            self.summaries,
            (gtin, serial, signature, owner_token, scanned, asked),
        )

    async def flush_forever(self, interval: float = 0.5) -> None:
        """Flush queued scans every ``interval`` seconds until cancelled, surviving
        database errors (api.scanflush.ScanFlusher.flush_forever)."""
        await self.flusher.flush_forever(interval)

    async def retain(self) -> dict[str, dict[str, int]]:
        """Run the retention job of every log now (api.housekeeping.retain).

        Raises:
            StorageError: a database failed.
        """
        return await housekeeping.retain(self.deployment)

    async def retain_forever(
        self,
        salt_interval: float = housekeeping.SALT_PURGE_SECONDS,
        every: int = housekeeping.RETENTION_EVERY,
    ) -> None:
        """Purge salts and run retention until cancelled (api.housekeeping.retain_forever);
        each purge also drops the past days' client hashes this worker kept in memory."""
        await housekeeping.retain_forever(
            self.deployment,
            salt_interval,
            every,
            on_purge=lambda: self.pseudonyms.forget_before(datetime.now(UTC)),
        )

    async def date_forever(self) -> None:
        """Re-date quiet logs' checkpoints until cancelled (api.housekeeping.date_forever)."""
        await housekeeping.date_forever(self.deployment)


def ctx(request: Request) -> Context:
    """The app's `Context`."""
    context: Context = request.app.state.ctx
    return context
