"""The app's most frequent requests answered inside its own middleware, before Starlette's
exception middleware, FastAPI's exit stack and the router.

A single event (``POST /v1/entries``) and a scan (``GET /01/...``) are the requests a
server answers most; each already has a raw route (`api.fastroute`) that skips FastAPI's
request handling. Reaching it still took the layers FastAPI and Starlette put between
the app's middleware and an endpoint: the exception middleware, the exit stack of
FastAPI's dependencies (neither route has any), the router's matching and Starlette's
endpoint wrapper, each with a wrapper of ``send``: 13-19 us of a single event's ~165 us
on the event loop (docs/PERFORMANCE.md, "gather48"). `HotRoutes`, the innermost of the
app's middleware, answers a request that one of its routes matches fully by calling
the route's endpoint itself; every other request goes on to the app as before.

What the skipped layers did for these requests, it does the same way:

- the route's match is Starlette's own (`Route.matches`), and the router, the route and
  the match's scope are added as the router adds them;
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

import functools
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.fastroute import refuse_answered

#: (the route, requests it answers that no other route of the app may answer: (method,
#: path) pairs)
HotRoute = tuple[Route, Sequence[tuple[str, str]]]


class HotRoutes:
    """ASGI middleware: ``routes`` answered here (module doc), ``owner``'s exception
    handlers answering their errors; everything else passed on to ``app``."""

    def __init__(self, app: ASGIApp, routes: Sequence[HotRoute], owner: Any) -> None:
        """Built with the app's middleware stack (at its first request, every route
        mounted by then).

        Raises:
            RuntimeError: a route is not in ``owner``'s router, or a route the router
                has before it answers one of its requests (the router would have served
                that request so: `api.fastroute.install_first` checks the same when it
                puts a raw route first, and routes may have been put before it since,
                as the bench's app puts its own); or a route's endpoint is not an async
                function answered by Starlette's wrapper alone (a route's own middleware
                or body limit would be skipped here). Programming errors.
        """
        self.app = app
        # each route's path up to its first parameter: a request of another start is
        # not matched against it
        self.routes = [(route.path.split("{", 1)[0], route) for route, _ in routes]
        self.owner = owner  # the Starlette app: its router and exception handlers
        mounted: list[Any] = list(owner.router.routes)
        for route, asked in routes:
            at = next((i for i, r in enumerate(mounted) if r is route), None)
            if at is None:
                raise RuntimeError(f"{route!r} is not in the app's router")
            refuse_answered(mounted[:at], asked, f"before {route!r}")
            app_name = getattr(route.app, "__qualname__", "")
            if not _is_async(route.endpoint) or app_name != "request_response.<locals>.app":
                raise RuntimeError(f"{route!r} is not an async endpoint alone")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``scope`` by a hot route that matches it fully, else pass it on."""
        if scope["type"] == "http":
            path: str = scope["path"]
            for start, route in self.routes:
                if path.startswith(start):
                    match, child = route.matches(scope)
                    if match is Match.FULL:  # what the router adds to the scope
                        scope.setdefault("router", self.owner.router)
                        scope["route"] = route
                        scope.update(child)
                        await self._answer(route, scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _answer(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        """The endpoint's response, or its error's handler's, as Starlette's exception
        wrapper answers it: a handler may be sync (run on a thread) and may answer
        nothing; the error's traceback is dropped once handled (one error instance may
        be raised again: a failed group's, in each of its callers)."""
        request = Request(scope, receive, send)
        try:
            response: Response | None = await route.endpoint(request)
        except Exception as error:
            handler = handler_for(error, self.owner.exception_handlers)
            if handler is None:
                raise
            if _is_async(handler):
                response = await handler(request, error)
            else:
                response = await run_in_threadpool(handler, request, error)
            error.__traceback__ = None
        if response is not None:
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


def _is_async(obj: Any) -> bool:
    """Whether calling ``obj`` returns a coroutine, as Starlette decides it (a partial's
    function, or an object's ``__call__``)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or (
        callable(obj) and inspect.iscoroutinefunction(obj.__call__)
    )
