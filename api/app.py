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
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api import apidocs, heap, problems
from api.badsigs import BadSignatureGuard, make_guard_limiter
from api.bodylimit import RequestLimits, route_limits
from api.callers import network_key
from api.console import catalog as console_catalog
from api.console import hooks_worker
from api.console import operator as console_operator
from api.console import routes as console_routes
from api.console import scans as console_scans
from api.console import settings as console_settings
from api.context import Context
from api.csrf import CsrfGuard, csrf_secret, derive_key, parse_origins
from api.headers import SecurityHeaders, page_policy
from api.hotroutes import HotRoutes
from api.metrics import Metrics
from api.quota import WriteQuota
from api.ratelimit import make_limiter
from api.routers import (
    actors,
    brands,
    entries,
    epcis,
    home,
    log,
    ops,
    partners,
    products,
    proofs,
    reports,
    resolver,
    tiles,
    units,
)
from api.schemas import document_components
from ledger.service.console import ConsoleService
from ledger.service.console_monitor import ConsoleMonitor
from ledger.service.deployment import Deployment
from ledger.service.ledger import Ledger
from ledger.service.operator import OperatorService
from ledger.service.policies import Policies
from ledger.service.scanstats import ScanStatsService
from ledger.service.settings import Settings
from ledger.service.webhooks import WebhookService

#: Every router, one per URL prefix, in the order they are mounted (the resolver's
#: catch-all ``/01/{rest:path}`` last among the unit routes).
ROUTERS = (
    entries,
    units,
    reports,
    brands,
    resolver,
    home,
    log,
    proofs,
    tiles,
    actors,
    partners,
    ops,
    epcis,
    products,
)
#: Routers whose resources belong to one log, also mounted under ``/logs/{log}``.
LOG_SCOPED = (entries, log, proofs, tiles, actors, partners)

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
        ValidationError: the deployment file is invalid, or ``PROVENANCE_PUBLIC_ORIGINS``
            names something that is not an origin.
    """
    settings = settings or Settings.from_env()
    origins = parse_origins(settings.public_origins)  # before any database is opened
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
    )

    write_quota = WriteQuota.from_settings(settings)  # per actor (api.quota)
    bad_signatures = make_guard_limiter(settings.bad_signatures, settings.redis_url)
    # sign-in attempts to the console per client address (api.console.routes)
    console_logins = make_limiter(
        console_routes.LOGIN_RATE,
        console_routes.LOGIN_BURST,
        settings.redis_url,
        prefix="provenance:console-login",
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await context.retain()  # retention (ledger.service.retention), then hourly
        flusher = asyncio.create_task(context.flush_forever())
        retainer = asyncio.create_task(context.retain_forever())
        hooks = asyncio.create_task(hooks_worker.deliver_forever(_app.state.webhooks))
        dater = asyncio.create_task(context.date_forever())  # quiet logs stay dated
        if settings.gc_freeze:
            heap.settle()  # what the server keeps from now on: out of the collector's walks
        try:
            yield
        finally:
            for task in (flusher, retainer, hooks, dater):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await context.drain_scans()  # nothing acknowledged is lost on a clean stop
            # the views still being read in the background (api.unitviews) end before the
            # database closes: a read started after would leave a connection open
            await asyncio.gather(*context.summaries.reading.values(), return_exceptions=True)
            await context.limiter.close()
            await write_quota.close()
            await bad_signatures.close()
            await console_logins.close()
            if owned:
                deployment.close()

    app = FastAPI(
        title="provenance-ledger",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api.apidocs serves it, without a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,  # no OAuth here: one inline script less
    )
    app.state.ctx = context
    app.state.network_key = network_key(served.config.operator_key)  # once, not per report
    app.state.csrf = context.csrf = CsrfGuard(
        key=derive_key(csrf_secret(served.config.operator_key)),
        origins=origins,
        public_url=settings.public_url,
    )
    app.state.write_quota = write_quota
    app.state.console = ConsoleService(served)  # the console (docs/CONSOLE.md)
    app.state.scanstats = ScanStatsService(served)  # its scan analytics
    app.state.console_logins = console_logins
    # the console's webhooks and their worker (docs/CONSOLE.md, "Webhooks")
    app.state.webhooks = WebhookService(served, app.state.console, public_url=settings.public_url)
    app.state.console_monitor = ConsoleMonitor(served)  # the settings page's findings
    app.state.operator = OperatorService(app.state.console, served)  # the operator's pages
    problems.install(app)
    document_components(app)
    # The last added is the outermost: the headers go on every answer, the metrics count
    # the refusals of the size limits too, and those limits stand before every route.
    # The innermost answers single events and scans without the router (api.hotroutes).
    hot = [(entries.FAST_ROUTE, entries.ASKED), (resolver.FAST_ROUTE, resolver.ASKED)]
    app.add_middleware(HotRoutes, routes=hot, owner=app)
    app.add_middleware(RequestLimits, limits=route_limits(settings))
    app.add_middleware(BadSignatureGuard, limiter=bad_signatures)
    app.add_middleware(_MetricsMiddleware, metrics=context.metrics)
    app.add_middleware(
        SecurityHeaders, page=page_policy(), special=[(apidocs.DOCS, apidocs.docs_policy(app))]
    )
    apidocs.install_docs(app)
    for module in ROUTERS:
        app.include_router(module.router)
    entries.install_fast_route(app.router.routes)  # POST /v1/entries: single events
    # last, so first of all (api.hotroutes answers both raw routes before the router;
    # where they stand in it is what it checks them against)
    resolver.install_fast_route(app.router.routes)  # GET /01/... without FastAPI's params
    app.include_router(console_routes.router)
    app.include_router(console_settings.router)
    app.include_router(console_catalog.router)
    app.include_router(console_operator.router)
    app.include_router(console_scans.router)
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
