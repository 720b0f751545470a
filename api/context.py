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

Reads of GET and HEAD requests may be served by a PostgreSQL streaming replica
(docs/SCALING.md); every other request reads the primary, so a write is never
decided on stale state (a claim's lockout, a report's triage). A client
that must see its own write sends the tree size its write returned, as ``?min_size=N``
or the header ``Provenance-Min-Size: N``; the ledgers handed out for reads wait briefly
for a replica that far along, else read the primary. Each is pinned to one database for
the request, so a request's reads agree with each other.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.forwarded import network_of, normal, resolve_client, trusted_address
from api.metrics import Metrics
from api.problems import PayloadTooLargeError, RateLimitedError
from api.ratelimit import Limiter
from api.scans import DRAIN_SECONDS, ScanFlusher, ScanQueue
from ledger.entry import SignedEvent
from ledger.errors import StorageError, ValidationError
from ledger.events import format_time
from ledger.label import ScannedLabel
from ledger.service.claims import owner_client, owner_hash
from ledger.service.deployment import Deployment
from ledger.service.ledger import Ledger, Scan
from ledger.service.settings import Settings
from ledger.signals.places import HEADER, HINT, first_scan, stored_place

MIN_SIZE_HEADER = "Provenance-Min-Size"
#: the server deletes past days' scan salts this often (seconds) ...
SALT_PURGE_SECONDS = 60.0
#: ... and runs the whole retention job every this many purges (hourly)
RETENTION_EVERY = 60
_PLACE = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_AGENTS = (
    ("wechat", re.compile(r"MicroMessenger", re.I)),
    ("alipay", re.compile(r"AlipayClient", re.I)),
    ("bot", re.compile(r"bot|crawl|spider|curl|wget|python", re.I)),
    ("mobile", re.compile(r"Mobile|Android|iPhone|iPad", re.I)),
)


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

    def __post_init__(self) -> None:
        self.flusher = ScanFlusher(self.scans, self._record_scans, self.metrics)

    def ledger_for(self, request: Request) -> Ledger:
        """The log the request's URL names (``/logs/{log}/...``), else the default log.

        Raises:
            NotFoundError: the URL names a log this deployment does not serve.
            ValidationError: a malformed ``min_size``.
        """
        ledger = self.deployment.for_log(request.path_params.get("log"))
        return _pin(ledger, request)

    def ledger_for_unit(self, gtin: str, request: Request | None = None) -> Ledger:
        """The log a unit (or product) with this GTIN lives in (reads pinned per request).

        Raises:
            GS1Error: the GTIN is malformed.
            ValidationError: a malformed ``min_size``.
        """
        return _pin(self.deployment.for_gtin(gtin), request)

    def ledger_for_brand(self, brand: str, request: Request | None = None) -> Ledger:
        """The log a brand's registrations and units live in (reads pinned per request).

        Raises:
            ValidationError: a malformed ``min_size``.
        """
        return _pin(self.deployment.for_brand(brand), request)

    def ledger_for_events(self, request: Request, events: Sequence[SignedEvent]) -> Ledger:
        """The one log these signed events are appended to.

        Raises:
            NotFoundError: the URL names a log this deployment does not serve.
            ValidationError: the events span logs or belong to another log than the
                URL names (field ``log``).
        """
        ledger = self.deployment.for_events(events, request.path_params.get("log"))
        return ledger.reading(primary=True)

    async def limit(self, request: Request, cost: int = 1) -> None:
        """Spend ``cost`` tokens (one request: 1) of the client's public budget, or
        raise 429 and spend nothing.

        Raises:
            RateLimitedError: the client is over its budget.
        """
        wait = await self.limiter.acquire(client_address(request), cost)
        if wait is not None:
            raise RateLimitedError(f"too many requests; retry in {wait} s", wait)

    def scan(self, request: Request, gtin: str, serial: str, place: str | None) -> Scan:
        """Queue a scan record for this resolver hit (flushed in the background).

        Its place is the trusted geolocation header's (`geo_place`), else the client's
        ``place`` hint, recorded as a hint (ledger.signals.places): only the former is
        evidence for a travel signal.

        A scan that brings the unit's owner cookie is recorded under the owner token's
        pseudonym instead of the daily client hash (ledger.service.claims.owner_client).
        """
        now = datetime.now(UTC)
        # the geolocation header is evidence only from a trusted proxy; ?place= is a hint
        trusted = geo_place(request, self.settings)
        hint = place.upper() if place and _PLACE.fullmatch(place.upper()) else None
        place = stored_place(trusted, HEADER) if trusted else stored_place(hint, HINT)
        scan = Scan(
            # interned: the queue holds many scans of few GTINs and places (api.scans)
            gtin=sys.intern(gtin),
            serial=serial,
            at=now,
            place=None if place is None else sys.intern(place),
            client=self._scan_client(request, gtin, serial, now),
            agent=agent_class(request.headers.get("user-agent", "")),
            # many-scanners counts networks: addresses of one network are one scanner;
            # keyed like the client hash (daily), per unit, never the address or prefix
            network=self.client_hash(
                f"network|{gtin}/{serial}|{network_of(client_address(request))}", now
            ),
        )
        dropped = self.scans.add(scan)
        self.metrics.scans.inc()
        if dropped:
            self.metrics.scans_dropped.inc(dropped)
        return scan

    def _scan_client(self, request: Request, gtin: str, serial: str, now: datetime) -> str:
        token = request.cookies.get(owner_cookie(gtin, serial))
        if token:
            return owner_client(owner_hash(token))
        return self.client_hash(client_address(request), now)

    def client_hash(self, address: str, now: datetime) -> str:
        """The client's hash of the UTC day of ``now``: keyed with the day's random salt,
        which every worker on the default log's database shares and which is deleted
        when the day ends (ledger.service.salt); never the raw address.

        Raises:
            StorageError: the database failed (the day's salt is read once per day).
        """
        return self.deployment.default.salt.client_hash(address, now)

    async def flush_scans(self) -> None:
        """Store every queued scan now (api.scans.ScanFlusher.flush).

        Raises:
            StorageError: a database failed; the scans not stored stay queued.
        """
        await self.flusher.flush()

    async def drain_scans(self, seconds: float = DRAIN_SECONDS) -> int:
        """At a clean stop: store every queued scan, retrying for up to ``seconds``;
        return how many could not be stored."""
        return await self.flusher.drain(seconds)

    def _record_scans(self, batch: list[Scan]) -> None:
        """Write each scan to its unit's log (one transaction per log)."""
        by_log: dict[int, tuple[Ledger, list[Scan]]] = {}
        for scan in batch:
            ledger = self.deployment.for_gtin(scan.gtin)
            by_log.setdefault(id(ledger), (ledger, []))[1].append(scan)
        for ledger, scans in by_log.values():
            ledger.record_scans(scans)

    async def unit_view(
        self,
        gtin: str,
        serial: str,
        signature: str | None,
        owner_token: str | None = None,
        request: Request | None = None,
        scanned: ScannedLabel | None = None,
    ) -> dict[str, Any]:
        """The unit view from the unit's log, every queued scan counted exactly once,
        judged with its clone signals and for the owner of ``owner_token``; ``scanned``
        is the label scanned at the resolver (ledger.label.ScannedLabel).

        Raises:
            GS1Error: the GTIN or serial is malformed.
            ValidationError: a malformed ``min_size`` on ``request``.
        """
        ledger = self.ledger_for_unit(gtin, request)
        queue = self.scans
        before = queue.generation
        _, _, pending = queue.pending(gtin, serial)
        view = await run_in_threadpool(
            functools.partial(
                ledger.unit_view,
                gtin,
                serial,
                signature,
                owner_token=owner_token,
                pending=pending,
                scanned=scanned,
            )
        )
        for _ in range(100):
            if queue.generation == before and before % 2 == 1:
                # a write was under way when the read began: wait a little for its end
                await self.flusher.settled(0.02)
                if queue.generation == before:
                    # still under way (a stalled database): it has not committed, so
                    # the read stands. `settled` alone cannot tell: the next batch's
                    # write may already have begun when it returns
                    break
            elif queue.generation == before:
                break
            # A flush overlapped the read: re-read only the (one-row) scan summary.
            await asyncio.sleep(0.002)
            before = queue.generation
            count, first = await run_in_threadpool(ledger.scan_summary, gtin, serial)
            view["scans"] = {"count": count, "first": first_scan(first)}
        queued, oldest, _ = queue.pending(gtin, serial)
        view["scans"]["count"] += queued
        if view["scans"]["first"] is None and oldest is not None:
            view["scans"]["first"] = first_scan(
                {"at": format_time(oldest.at), "place": oldest.place}
            )
        return view

    async def flush_forever(self, interval: float = 0.5) -> None:
        """Flush queued scans every ``interval`` seconds until cancelled, surviving
        database errors (api.scans.ScanFlusher.flush_forever)."""
        await self.flusher.flush_forever(interval)

    async def retain(self) -> dict[str, dict[str, int]]:
        """Run the retention job of every log now (ledger.service.retention); return
        each log's counts by kind.

        Raises:
            StorageError: a database failed.
        """
        done = {}
        for name, ledger in self.deployment.ledgers.items():
            report = await run_in_threadpool(ledger.retention.run)
            done[name] = report.to_dict()
        return done

    async def retain_forever(
        self, salt_interval: float = SALT_PURGE_SECONDS, every: int = RETENTION_EVERY
    ) -> None:
        """Until cancelled: delete past days' salts every ``salt_interval`` seconds (so
        a day's salt is gone within that long after the day ends, even on a quiet
        server), and run the whole retention job every ``every`` of those rounds. A
        failed round is retried at the next one (a database may be briefly away)."""
        rounds = 0
        while True:
            await asyncio.sleep(salt_interval)
            rounds += 1
            try:
                await run_in_threadpool(self.deployment.default.salt.purge)
                if rounds % every == 0:
                    await self.retain()
            except StorageError:
                continue


def owner_cookie(gtin: str, serial: str) -> str:
    """The name of the cookie that holds a unit's owner token (one per unit)."""
    return "pl_owner_" + hashlib.sha256(f"{gtin}/{serial}".encode()).hexdigest()[:16]


def _pin(ledger: Ledger, request: Request | None) -> Ledger:
    """The ledger with this request's reads pinned: a request that may write reads the
    primary (never act on stale state); a read may use a replica, up to ``min_size``."""
    if request is None:
        return ledger.reading()
    if request.method not in ("GET", "HEAD"):
        return ledger.reading(primary=True)
    asked = min_size(request)
    # A fixed tree size in the URL (?size=, ?new=, /entries/{index}) exists on the primary:
    # a replica that has not reached it answers no better, so it is skipped (without a
    # wait: an invented size must not cost more than a read of the primary does).
    implied = _implied_size(request)
    if implied > asked:
        return ledger.reading(implied, wait=False)
    return ledger.reading(asked)


def _implied_size(request: Request) -> int:
    """The tree size the URL itself presumes, 0 if none."""
    found = 0
    index = request.path_params.get("index")
    for value, extra in (
        (request.query_params.get("size"), 0),
        (request.query_params.get("new"), 0),
        (index if isinstance(index, str) else None, 1),  # entry i exists: size i + 1
    ):
        if value and value.isascii() and value.isdigit() and len(value) < 19:
            found = max(found, int(value) + extra)
    return found


def min_size(request: Request) -> int:
    """The tree size the client needs to see (``?min_size=`` or ``Provenance-Min-Size``).

    Raises:
        ValidationError: not a non-negative decimal integer below 2^63.
    """
    raw = request.query_params.get("min_size") or request.headers.get(MIN_SIZE_HEADER)
    if raw is None:
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValidationError("min_size is a tree size: a decimal integer", field="min_size")
    return int(raw)


def client_address(request: Request) -> str:
    """The client's address: the one identity that rate limits, claim lockouts, scan
    client ids and signals all use.

    It is the socket peer, unless the peer lies in ``PROVENANCE_TRUSTED_PROXIES``: then
    ``X-Forwarded-For`` is read from the right, skipping trusted hops, and the first
    untrusted hop is the client (`api.forwarded.resolve_client`). uvicorn runs without proxy headers
    (``proxy_headers=False``), so the peer is the socket's, never a header's.
    """
    peer = _peer(request)
    trusted = ctx(request).settings.trusted_proxies
    if not trusted:
        return normal(peer) or peer
    return resolve_client(peer, request.headers.getlist("x-forwarded-for"), trusted)


def geo_place(request: Request, settings: Settings) -> str | None:
    """The scan's place from the geolocation header ``PROVENANCE_PLACE_HEADER`` (e.g.
    ``CF-IPCountry``), upper case, when the connection comes from a trusted proxy
    (``PROVENANCE_TRUSTED_PROXIES``) that sets it; None otherwise. From anyone else the
    header is the client's own word, so it is ignored (not even kept as a hint)."""
    if not settings.place_header:
        return None
    value = request.headers.get(settings.place_header)
    peer = normal(_peer(request))
    if not value or peer is None or not trusted_address(peer, settings.trusted_proxies):
        return None
    value = value.strip().upper()
    return value if _PLACE.fullmatch(value) else None


def _peer(request: Request) -> str:
    """The socket peer's address (the one place that reads it)."""
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    """True when the shopper's connection is TLS: the socket's own scheme, or, from a
    peer in ``PROVENANCE_TRUSTED_PROXIES`` (a proxy that terminated TLS), an
    ``X-Forwarded-Proto`` naming ``https``; or the public URL is ``https://``. Decides the
    ``Secure`` flag of cookies. A stranger's ``X-Forwarded-Proto`` is ignored."""
    if request.url.scheme == "https":
        return True
    settings = ctx(request).settings
    if settings.public_url.lower().startswith("https://"):
        return True
    peer = normal(_peer(request))
    if peer is None or not trusted_address(peer, settings.trusted_proxies):
        return False
    hops = (
        hop.strip().lower()
        for v in request.headers.getlist("x-forwarded-proto")
        for hop in v.split(",")
    )
    return "https" in hops


def agent_class(user_agent: str) -> str:
    """A coarse class of user agent: wechat, alipay, bot, mobile or desktop."""
    for name, pattern in _AGENTS:
        if pattern.search(user_agent):
            return name
    return "desktop"


def ctx(request: Request) -> Context:
    """The app's `Context`."""
    context: Context = request.app.state.ctx
    return context


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes without reading them all.

    Raises:
        PayloadTooLargeError: the body (or its declared length) exceeds ``limit``.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
