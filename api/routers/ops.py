"""Liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import ctx
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
    """Request counts and latencies by route, appended entries, scans, each log's size."""
    context = ctx(request)
    for name, ledger in context.deployment.ledgers.items():
        head = await run_in_threadpool(ledger.head)
        context.metrics.log_size.labels(name).set(head.size)
    return context.metrics.render()
