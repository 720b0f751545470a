"""Liveness and Prometheus metrics.

``/metrics`` tells how busy each log and route is, which scanners' traffic reveals in
aggregate: it answers only a scraper bearing ``PROVENANCE_METRICS_TOKEN``, and nothing
(404) on a server without that setting.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import Context, ctx
from api.problems import problem
from api.schemas import Health, problems
from ledger.errors import NotFoundError
from ledger.reqsig import AuthenticationError

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness: the database answers",
    response_model=Health,
    responses=problems(503),
)
async def healthz(request: Request) -> JSONResponse:
    """``{"status": "ok", "size": N}`` (the default log's size) when every log answers."""
    context = ctx(request)
    for ledger in context.deployment.ledgers.values():
        await run_in_threadpool(ledger.head)
    head = await run_in_threadpool(context.deployment.default.head)
    return JSONResponse({"status": "ok", "size": head.size}, headers={"Cache-Control": "no-store"})


@router.get(
    "/metrics",
    summary="Prometheus metrics (bearer token PROVENANCE_METRICS_TOKEN; 404 without one)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        },
        **problems(401, 404, 503),
    },
)
async def metrics(request: Request) -> Response:
    """Request counts and latencies, appended entries, scans, log sizes, replica lag:
    only for a scraper bearing ``PROVENANCE_METRICS_TOKEN``; without that setting the
    public port does not answer it at all (404)."""
    context = ctx(request)
    refusal = refuse(request, context.settings.metrics_token)
    if refusal is not None:
        return refusal
    await run_in_threadpool(_observe, context)
    return context.metrics.render()


def refuse(request: Request, token: str | None) -> Response | None:
    """None if the request bears ``token`` (``Authorization: Bearer TOKEN``), else the
    refusal: 404 ``not-found`` when no token is configured (the metrics are not served
    here), 401 ``unauthenticated`` with a Bearer challenge for no or another token."""
    if not token:
        return problem(404, NotFoundError.code, "no such resource")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compared in constant time, as bytes: a str comparison refuses non-ASCII input
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    response = problem(
        401,
        AuthenticationError.code,
        "the metrics need the bearer token PROVENANCE_METRICS_TOKEN",
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def _observe(context: Context) -> None:
    """Set what is read at scrape time: each log's size and write transactions, each
    replica's lag."""
    metrics = context.metrics
    reads: dict[tuple[str, str], int] = {}
    for name, ledger in context.deployment.ledgers.items():
        size = ledger.primary_size()
        metrics.log_size.labels(name).set(size)
        writes = ledger.write_totals()
        metrics.writes.set(name, writes.transactions, writes.waited, writes.held)
        for replica in ledger.replica_status(size):
            metrics.replica_up.labels(replica.name).set(1 if replica.up else 0)
            if replica.lag_entries is not None:
                metrics.replica_lag_entries.labels(name, replica.name).set(replica.lag_entries)
            if replica.lag_seconds is not None:
                metrics.replica_lag_seconds.labels(replica.name).set(replica.lag_seconds)
        reads.update(ledger.read_counts())  # logs sharing a store share counts
    for (database, role), count in reads.items():
        metrics.reads.labels(database, role).set(count)
