"""The FastAPI app factory.

`create_app(settings)` opens the logs named by the settings (creating each database,
log and genesis entry on first use; one log unless ``PROVENANCE_LOGS`` names several)
and mounts one router per resource. `create_app(ledger=...)` serves an already-open
ledger (tests, the CLI's demo), `create_app(deployment=...)` an open deployment.

The log-scoped routers are mounted twice: at their single-log URLs (``/v1/checkpoint``:
the default log) and under ``/logs/{log}`` (``/logs/acme/v1/checkpoint``), so a client or
a CDN names a log in the path (docs/SCALING.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api import problems
from api.context import Context
from api.metrics import Metrics
from api.quota import WriteQuota
from api.ratelimit import make_limiter
from api.routers import (
    actors,
    brands,
    entries,
    epcis,
    log,
    ops,
    proofs,
    reports,
    resolver,
    units,
)
from api.schemas import document_problems
from ledger import crypto
from ledger.service.deployment import Deployment
from ledger.service.ledger import Ledger
from ledger.service.policies import Policies
from ledger.service.settings import Settings

#: Every router, one per URL prefix, in the order they are mounted (the resolver's
#: catch-all ``/01/{rest:path}`` last among the unit routes).
ROUTERS = (entries, units, reports, brands, resolver, log, proofs, actors, ops, epcis)
#: Routers whose resources belong to one log, also mounted under ``/logs/{log}``.
LOG_SCOPED = (entries, log, proofs, actors)

DESCRIPTION = """
A verifiable provenance ledger for product units. Partners append signed custody
events; anyone reads a unit's history with inclusion proofs to a signed C2SP checkpoint
and checks everything itself. Formats: docs/FORMAT.md; errors: RFC 9457 problem+json
with type `urn:provenance-ledger:problem:<code>`.
"""


def create_app(
    settings: Settings | None = None,
    ledger: Ledger | None = None,
    deployment: Deployment | None = None,
) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment).

    Raises:
        KeyFormatError: an operator key cannot be read.
        StorageError: a database cannot be opened.
        ValidationError: the deployment file is invalid.
    """
    settings = settings or Settings.from_env()
    owned = ledger is None and deployment is None
    policies = Policies.from_env()  # an open ledger or deployment keeps its own policies
    if deployment is None:
        deployment = (
            Deployment.single(ledger)
            if ledger
            else Deployment.open(settings.deployment(), policies=policies)
        )
    served = deployment.default
    context = Context(
        deployment=deployment,
        settings=settings,
        limiter=make_limiter(settings.rate, settings.burst, settings.redis_url),
        metrics=Metrics(),
        scan_secret=hashlib.sha256(
            b"provenance-ledger scan salt\n" + crypto.private_key_to_pem(served.config.operator_key)
        ).digest(),
    )

    write_quota = WriteQuota.from_settings(settings)  # per actor (api.quota)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for each in deployment.ledgers.values():  # scan retention (ledger.service.policies)
            await run_in_threadpool(each.signals.prune_scans)
        flusher = asyncio.create_task(context.flush_forever())
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await context.flush_scans()
            await context.limiter.close()
            await write_quota.close()
            if owned:
                deployment.close()

    app = FastAPI(
        title="provenance-ledger",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = context
    app.state.write_quota = write_quota
    problems.install(app)
    document_problems(app)
    app.add_middleware(_MetricsMiddleware, metrics=context.metrics)
    for module in ROUTERS:
        app.include_router(module.router)
    for module in LOG_SCOPED:
        app.include_router(module.router, prefix="/logs/{log}", include_in_schema=False)
    return app


class _MetricsMiddleware:
    """ASGI middleware adapter for `Metrics.asgi`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.handler = metrics.asgi(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


def app_from_env() -> FastAPI:
    """Uvicorn factory entry point: ``uvicorn --factory api.app:app_from_env``."""
    return create_app()
