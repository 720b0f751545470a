"""Prometheus metrics: requests by route and status, latency, log size, write lock times.

Each worker process has its own registry; scrape each worker, or put the workers
behind one scrape target per process.
"""

from __future__ import annotations

import time
from bisect import bisect_left

from fastapi import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Tally:
    """A counter of events on the event loop: a plain int (``value``, added to with no
    call and no lock, where a prometheus ``Counter`` takes a lock in three calls), shown
    as the counter ``name`` (``name_total``) when the registry is scraped."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.value = 0
        registry.register(self)

    def describe(self) -> list[Metric]:
        """The family, without its value (what the registry checks names with)."""
        return [CounterMetricFamily(self.name, self.documentation)]

    def collect(self) -> list[Metric]:
        """The family with its count now."""
        return [CounterMetricFamily(self.name, self.documentation, value=self.value)]


#: the request latency histogram's upper bounds, seconds (``+Inf`` besides)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class RequestTally:
    """HTTP requests by route template, method and status, and their latency by route,
    counted on the event loop: plain ints in dicts, one look-up each, where prometheus's
    ``Counter`` and ``Histogram`` take a label look-up and a lock a call (~6 us of a
    request's ~90 in the app, docs/PERFORMANCE.md "loop49"). Shown when the registry is
    scraped as the counter ``provenance_http_requests`` (``_total``) and the histogram
    ``provenance_http_request_seconds``, as those were.

    `record` is called by the one thread that runs the event loop, and the app's
    ``/metrics`` renders on it too; a scrape from another thread would still be sound:
    `collect` copies each dict first (one C call under the GIL, never a half-made
    entry). Unlike prometheus's own, the two families carry no ``_created`` samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counts: dict[tuple[str, str, str], int] = {}
        #: per route: a count per bucket (not cumulative; the last is +Inf), then the sum
        self._latency: dict[str, list[float]] = {}
        registry.register(self)

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request answered ``status`` after ``seconds``."""
        key = (route, method, str(status))
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        buckets = self._latency.get(route)
        if buckets is None:
            buckets = self._latency[route] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        buckets[-1] += seconds

    def count(self, route: str, method: str, status: int) -> int:
        """How many requests of ``route`` and ``method`` were answered ``status``."""
        return self._counts.get((route, method, str(status)), 0)

    def describe(self) -> list[Metric]:
        """The families, without their values (what the registry checks names with)."""
        return list(_request_families())

    def collect(self) -> list[Metric]:
        """The families with the counts now."""
        requests, latency = _request_families()
        for labels, value in sorted(dict(self._counts).items()):
            requests.add_metric(list(labels), value)
        bounds = [*(repr(float(b)) for b in LATENCY_BUCKETS), "+Inf"]
        for route, values in sorted(dict(self._latency).items()):
            cumulative, running = [], 0.0
            for bound, count in zip(bounds, values[:-1], strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([route], cumulative, sum_value=values[-1])
        return [requests, latency]


def _request_families() -> tuple[CounterMetricFamily, HistogramMetricFamily]:
    return (
        CounterMetricFamily(
            "provenance_http_requests", "HTTP requests", labels=["route", "method", "status"]
        ),
        HistogramMetricFamily(
            "provenance_http_request_seconds", "HTTP request latency", labels=["route"]
        ),
    )


class LogWrites:
    """Each log's write transactions in this process (`Ledger.write_totals`), set at
    scrape time (`set`) and shown as three counters by log: the transactions, the
    seconds they waited for the log's write lock, the seconds they held it (what is
    not counted: ledger.store.writetimes; docs/SCALING.md)."""

    _FAMILIES = (
        (
            "provenance_log_write_transactions",
            "This process's write transactions of the log (committed or not)",
        ),
        (
            "provenance_log_write_lock_wait_seconds",
            "Seconds this process's write transactions waited for the log's write lock",
        ),
        (
            "provenance_log_write_lock_held_seconds",
            "Seconds this process's write transactions held the log's write lock",
        ),
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self._values: dict[str, tuple[int, float, float]] = {}
        registry.register(self)

    def set(self, log: str, transactions: int, waited: float, held: float) -> None:
        """The totals of the log named ``log`` now."""
        self._values[log] = (transactions, waited, held)

    def describe(self) -> list[Metric]:
        """The families, without their values (what the registry checks names with)."""
        return [CounterMetricFamily(name, doc, labels=["log"]) for name, doc in self._FAMILIES]

    def collect(self) -> list[Metric]:
        """The families with each log's totals as last set."""
        families = []
        values_now = sorted(dict(self._values).items())  # (a scrape may `set` meanwhile)
        for at, (name, doc) in enumerate(self._FAMILIES):
            family = CounterMetricFamily(name, doc, labels=["log"])
            for log, values in values_now:
                family.add_metric([log], values[at])
            families.append(family)
        return families


class Metrics:
    """The app's metric families in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestTally(self.registry)
        self.log_size = Gauge(
            "provenance_log_size", "Entries in the log", ["log"], registry=self.registry
        )
        self.appended = Counter(
            "provenance_entries_appended", "Entries appended", registry=self.registry
        )
        self.scans = Tally("provenance_scans", "Resolver scans recorded", self.registry)
        self.scans_dropped = Counter(
            "provenance_scans_dropped",
            "Queued scans dropped, oldest first, while the database could not store them",
            registry=self.registry,
        )
        self.scans_pending = Gauge(
            "provenance_scans_pending",
            "Scans acknowledged and not yet stored",
            registry=self.registry,
        )
        self.scan_flush_failures = Counter(
            "provenance_scan_flush_failures",
            "Failed attempts to store queued scans (each is retried)",
            registry=self.registry,
        )
        self.replica_up = Gauge(
            "provenance_replica_up",
            "1 when the read replica answers, else 0 (its reads go to the primary)",
            ["replica"],
            registry=self.registry,
        )
        self.replica_lag_entries = Gauge(
            "provenance_replica_lag_entries",
            "Entries of the log the primary has and the replica has not replayed yet",
            ["log", "replica"],
            registry=self.registry,
        )
        self.replica_lag_seconds = Gauge(
            "provenance_replica_lag_seconds",
            "Seconds since the replica replayed its last transaction (grows while idle)",
            ["replica"],
            registry=self.registry,
        )
        self.writes = LogWrites(self.registry)
        self.reads = Gauge(
            "provenance_db_read_transactions",
            "Read transactions opened by this process, by database and role",
            ["database", "role"],
            registry=self.registry,
        )

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """Wrap ``app``: time and count every HTTP request by its route template.

        A plain ASGI wrapper (not Starlette's BaseHTTPMiddleware, which costs a task
        and a stream per request on the resolver's hot path).
        """

        tally = self.requests.record

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            status = [500]

            async def record(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, record)
            finally:
                name = getattr(scope.get("route"), "path", "unmatched")
                tally(name, scope["method"], status[0], time.perf_counter() - start)

        return wrapped

    def render(self) -> Response:
        """The text exposition of every metric."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
