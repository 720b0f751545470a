"""api.hotroutes.handler_for picks the handler Starlette's exception middleware would
call, for every kind of error and handler table: checked against Starlette itself (an
app built with the same handlers, each handler answering its own name)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.hotroutes import handler_for


class BaseError(Exception):
    pass


class ChildError(BaseError):
    pass


class GrandChildError(ChildError):
    pass


class OtherError(Exception):
    pass


def _handler(name: str) -> Any:
    async def handle(request: Request, error: Exception) -> PlainTextResponse:
        return PlainTextResponse(name, status_code=299)

    handle.__name__ = name
    return handle


TABLES: list[dict[Any, Any]] = [
    {BaseError: _handler("base"), Exception: _handler("exception")},
    {BaseError: _handler("base"), ChildError: _handler("child"), 500: _handler("500")},
    {HTTPException: _handler("http"), 404: _handler("404"), 500: _handler("500")},
    {404: _handler("404")},
    {},
]
ERRORS = [
    BaseError(),
    ChildError(),
    GrandChildError(),
    OtherError(),
    HTTPException(404),
    HTTPException(500),
    HTTPException(418),
]


def _starlettes_choice(handlers: dict[Any, Any], error: Exception) -> str | None:
    """The name of the handler Starlette answers ``error`` with, or None when it
    raises it on (past its exception middleware, to the server's error middleware)."""

    async def fail(request: Request) -> PlainTextResponse:
        raise error

    inner = {k: v for k, v in handlers.items() if k not in (500, Exception)}
    app = Starlette(routes=[Route("/", fail)], exception_handlers=inner)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    try:
        asyncio.run(app(scope, receive, send))
    except type(error):
        return None
    body = b"".join(m.get("body", b"") for m in sent)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    if status != 299:  # Starlette's own handler of HTTPException (none of ours)
        return "starlette"
    return body.decode()


@pytest.mark.parametrize("table", range(len(TABLES)))
@pytest.mark.parametrize("error", ERRORS, ids=repr)
def test_the_same_handler_as_starlettes(table: int, error: Exception) -> None:
    handlers = TABLES[table]
    chosen = handler_for(error, handlers)
    expected = _starlettes_choice(handlers, error)
    if expected == "starlette":  # an app without a handler of HTTPException: the
        assert chosen is None  # FastAPI app always has one (it registers it itself)
        return
    assert (None if chosen is None else chosen.__name__) == expected


class _Owner:
    """What `HotRoutes` reads of an app: its router's routes and exception handlers."""

    def __init__(self, routes: list[Route], handlers: dict[Any, Any]) -> None:
        self.router = type("R", (), {"routes": routes})()
        self.exception_handlers = handlers


async def _raise_other(request: Request) -> PlainTextResponse:
    raise OtherError("the endpoint failed")


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _passed_on(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("the app", status_code=404)(scope, receive, send)


def _call(app: Any, path: str) -> tuple[int | None, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    return status, b"".join(m.get("body", b"") for m in sent)


ASKED = [("GET", "/hot")]


def test_a_hot_route_must_be_the_routers_first_answer_and_an_async_endpoint_alone() -> None:
    """Built in front of a router that would answer its requests by another route first,
    or without it, or around an endpoint the hot path would call wrongly: refused."""
    from api.hotroutes import HotRoutes

    hot = Route("/hot", _ok)
    other = Route("/other", _ok)
    HotRoutes(_passed_on, [(hot, ASKED)], _Owner([other, hot], {}))  # fine
    with pytest.raises(RuntimeError, match="answers GET /hot: before"):
        HotRoutes(_passed_on, [(hot, ASKED)], _Owner([Route("/{x}", _ok), hot], {}))
    with pytest.raises(RuntimeError, match="not in the app's router"):
        HotRoutes(_passed_on, [(hot, ASKED)], _Owner([other], {}))

    def sync(request: Request) -> PlainTextResponse:
        return PlainTextResponse("sync")

    class Passing:  # a route's own middleware, which the hot path would skip
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await self.app(scope, receive, send)

    guarded = Route("/hot", _ok, middleware=[Middleware(Passing)])
    for route in (Route("/hot", sync), guarded, Route("/hot", _ok, max_body_size=10)):
        with pytest.raises(RuntimeError, match="async endpoint alone"):
            HotRoutes(_passed_on, [(route, ASKED)], _Owner([route], {}))


def test_errors_are_answered_by_sync_or_async_handlers_or_left_unanswered() -> None:
    """A sync handler runs (on a thread), an async one is awaited, one answering None
    sends nothing, as Starlette's wrapper; the error's traceback is dropped once
    handled; a path no hot route matches goes on to the app."""
    from api.hotroutes import HotRoutes

    error = OtherError("reused")

    async def raise_it(request: Request) -> PlainTextResponse:
        raise error

    def sync_handler(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("sync handler", status_code=299)

    async def silent(request: Request, exc: Exception) -> None:
        return None

    hot = Route("/hot", raise_it)
    app = HotRoutes(_passed_on, [(hot, ASKED)], _Owner([hot], {OtherError: sync_handler}))
    assert _call(app, "/hot") == (299, b"sync handler")
    assert error.__traceback__ is None
    assert _call(app, "/else") == (404, b"the app")
    quiet = HotRoutes(_passed_on, [(hot, ASKED)], _Owner([hot], {OtherError: silent}))
    assert _call(quiet, "/hot") == (None, b"")
    bare = Route("/hot", _raise_other)
    unhandled = HotRoutes(_passed_on, [(bare, ASKED)], _Owner([bare], {}))
    with pytest.raises(OtherError):
        _call(unhandled, "/hot")
