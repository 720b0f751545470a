"""The app's most frequent requests answered inside its own middleware, before Starlette's
exception middleware, FastAPI's exit stack and the router.

A single event (``POST /v1/entries``) and a scan (``GET /01/...``) are the requests a
server answers most; each already has a raw route (`api.fastroute`) that skips FastAPI's
request handling. Reaching it still took the layers FastAPI and Starlette put between
the app's middleware and an endpoint: the exception middleware, the exit stack of
FastAPI's dependencies (neither route has any), the router's matching and Starlette's
endpoint wrapper, each with a wrapper of ``send``: ~20 us of a single event's ~150 us
on the event loop (docs/PERFORMANCE.md, "gather48"). `HotRoutes`, the innermost of the
app's middleware, answers a request that one of its routes matches fully by calling
the route's endpoint itself; every other request goes on to the app as before.

What the skipped layers did for these requests, it does the same way:

- the route's match is Starlette's own (`Route.matches`), and its scope is added, with
  the router, as the router adds them;
- an exception the endpoint raises is answered by the app's handler for it, looked up
  as Starlette's exception middleware looks it up (a handler for an `HTTPException`'s
  status code first, then for the exception's class or the nearest of its bases); one
  with no handler, or a handler of ``Exception`` or 500, is raised on to the server's
  error middleware, as before;
- the size limits, bad-signature guard, metrics and headers stand in front of it as in
  front of every route (they are outside it).

An endpoint here must answer with a `Response` it returns (it sends nothing itself).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

#: (the start every path the route answers has, the route)
HotRoute = tuple[str, Route]


class HotRoutes:
    """ASGI middleware: ``routes`` answered here (module doc), ``owner``'s exception
    handlers answering their errors; everything else passed on to ``app``."""

    def __init__(self, app: ASGIApp, routes: Sequence[HotRoute], owner: Any) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.owner = owner  # the Starlette app: its router and exception handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``scope`` by a hot route that matches it fully, else pass it on."""
        if scope["type"] == "http":
            path: str = scope["path"]
            for start, route in self.routes:
                if path.startswith(start):
                    match, child = route.matches(scope)
                    if match is Match.FULL:
                        scope.setdefault("router", self.owner.router)
                        scope.update(child)
                        await self._answer(route, scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _answer(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response: Response = await route.endpoint(request)
        except Exception as error:
            handler = handler_for(error, self.owner.exception_handlers)
            if handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, error)
            else:
                response = await run_in_threadpool(handler, request, error)
        await response(scope, receive, send)


def handler_for(error: Exception, handlers: Mapping[Any, Any]) -> Any:
    """The handler Starlette's exception middleware would call for ``error`` among an
    app's ``handlers`` ({exception class or status code: handler}), or None when it
    would call none and the error goes on to the server's error middleware (its
    handler of ``Exception`` or 500 is that middleware's, not this one's). Starlette's
    own answer to an `HTTPException` no handler takes is not looked up: a FastAPI app
    always has a handler of it (tests/unit/test_hot_routes.py)."""
    if isinstance(error, HTTPException):
        by_status = handlers.get(error.status_code)
        if by_status is not None and error.status_code != 500:
            return by_status
    for cls in type(error).__mro__:
        if cls is Exception:
            return None
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    return None
