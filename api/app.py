"""The FastAPI app factory.

`create_app(settings)` opens the ledger named by the settings (creating the database,
the log and its genesis entry on first use) and mounts one router per resource.
`create_app(ledger=...)` serves an already-open ledger (tests, the CLI's demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api import problems
from api.context import Context
from api.metrics import Metrics
from api.ratelimit import make_limiter
from api.routers import actors, entries, log, ops, units
from api.schemas import document_problems
from api.settings import Settings
from ledger import crypto
from ledger.errors import KeyFormatError
from ledger.service import Ledger, LogConfig

DESCRIPTION = """
A verifiable provenance ledger for product units. Partners append signed custody
events; anyone reads a unit's history with inclusion proofs to a signed C2SP checkpoint
and checks everything itself. Formats: docs/FORMAT.md; errors: RFC 9457 problem+json
with type `urn:provenance-ledger:problem:<code>`.
"""


def open_ledger(settings: Settings) -> Ledger:
    """Open the configured ledger, writing its genesis entry on first use.

    Raises:
        KeyFormatError: the operator key file is missing or unreadable.
        StorageError: the database cannot be opened.
    """
    try:
        pem = settings.operator_key_file.read_bytes()
    except OSError as e:
        raise KeyFormatError(
            f"cannot read the operator key {settings.operator_key_file}: {e.strerror}; "
            "set PROVENANCE_OPERATOR_KEY or run `provenance init`"
        ) from e
    key = crypto.private_key_from_pem(pem)
    ledger = Ledger.open(
        settings.database_url,
        LogConfig(origin=settings.origin, operator_key=key, name=settings.log_name),
    )
    ledger.init()
    return ledger


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    served = ledger or open_ledger(settings)
    context = Context(
        ledger=served,
        settings=settings,
        limiter=make_limiter(settings.rate, settings.burst, settings.redis_url),
        metrics=Metrics(),
        scan_secret=hashlib.sha256(
            b"provenance-ledger scan salt\n" + crypto.private_key_to_pem(served.config.operator_key)
        ).digest(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(context.flush_forever())
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await context.flush_scans()
            await context.limiter.close()
            if ledger is None:
                served.close()

    app = FastAPI(
        title="provenance-ledger",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = context
    problems.install(app)
    document_problems(app)
    app.add_middleware(_MetricsMiddleware, metrics=context.metrics)
    for module in (entries, units, log, actors, ops):
        app.include_router(module.router)
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
