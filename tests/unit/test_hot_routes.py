"""api.hotroutes.handler_for picks the handler Starlette's exception middleware would
call, for every kind of error and handler table: checked against Starlette itself (an
app built with the same handlers, each handler answering its own name)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
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
