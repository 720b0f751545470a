"""Prometheus metrics: requests by route and status, latency, log size.

Each worker process has its own registry; scrape each worker, or put the workers
behind one scrape target per process.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    """The app's metric families in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "provenance_http_requests",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "provenance_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.log_size = Gauge("provenance_log_size", "Entries in the log", registry=self.registry)
        self.appended = Counter(
            "provenance_entries_appended", "Entries appended", registry=self.registry
        )
        self.scans = Counter("provenance_scans", "Resolver scans recorded", registry=self.registry)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Time and count every request by its route template."""
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        self.requests.labels(name, request.method, str(response.status_code)).inc()
        self.latency.labels(name).observe(time.perf_counter() - start)
        return response

    def render(self) -> Response:
        """The text exposition of every metric."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
