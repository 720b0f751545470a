"""Liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import Context, ctx
from api.schemas import Health, problems

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
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        },
        **problems(503),
    },
)
async def metrics(request: Request) -> Response:
    """Request counts and latencies, appended entries, scans, log sizes, replica lag."""
    context = ctx(request)
    await run_in_threadpool(_observe, context)
    return context.metrics.render()


def _observe(context: Context) -> None:
    """Set the gauges read at scrape time: each log's size, each replica's lag."""
    metrics = context.metrics
    reads: dict[tuple[str, str], int] = {}
    for name, ledger in context.deployment.ledgers.items():
        metrics.log_size.labels(name).set(ledger.primary_size())
        for replica in ledger.replica_status():
            metrics.replica_up.labels(replica.name).set(1 if replica.up else 0)
            if replica.lag_entries is not None:
                metrics.replica_lag_entries.labels(name, replica.name).set(replica.lag_entries)
            if replica.lag_seconds is not None:
                metrics.replica_lag_seconds.labels(replica.name).set(replica.lag_seconds)
        reads.update(ledger.read_counts())  # logs sharing a store share counts
    for (database, role), count in reads.items():
        metrics.reads.labels(database, role).set(count)
