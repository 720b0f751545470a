"""RFC 9457 problem details: every API error is ``application/problem+json``.

The ``type`` is ``urn:provenance-ledger:problem:<code>`` where ``<code>`` is the stable
`LedgerError.code` (or one of the HTTP-level codes below); ``title`` is fixed per code,
``detail`` says what went wrong, ``field`` names the offending field when one is to blame.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from ledger.errors import LedgerError, NotFoundError, SignatureError, ValidationError
from ledger.reqsig import AuthenticationError

PROBLEM_TYPE = "urn:provenance-ledger:problem:"
MEDIA_TYPE = "application/problem+json"

#: the problem codes the HTTP layer answers without a `LedgerError` of its own: Starlette's
#: errors by status (404 and 422 reuse the ledger's ``not-found`` and ``validation``)
HTTP_CODES: dict[int, str] = {
    404: NotFoundError.code,
    405: "method-not-allowed",
    406: "not-acceptable",
}
HTTP_ERROR = "http-error"  # any other status Starlette raises
INTERNAL = "internal"  # 500: an unexpected exception


class PayloadTooLargeError(LedgerError):
    """The request body is larger than the configured limit."""

    code = "payload-too-large"
    status = 413


class RateLimitedError(LedgerError):
    """The client sent more requests than its rate limit allows."""

    code = "rate-limited"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def problem(
    status: int, code: str, detail: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": code.replace("-", " "),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field:
        body["field"] = field
    body.update(extra)
    # nosniff here too: a 500 is answered outside the middleware that adds it (api/headers.py)
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def allowed_methods(request: Request) -> str:
    """The ``Allow`` value of a 405: every method of every route on this path.

    Starlette names only the methods of the first route whose path matched, but RFC 9110
    section 10.2.1 asks for all the methods the resource supports (``/v1/entries`` is
    both GET and POST, on two routes).
    """
    return ", ".join(sorted(_methods(request.app.router.routes, request.scope)))


def _methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """The methods of the routes whose path matches, looking into included routers."""
    methods: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            methods |= _methods(included.routes, scope)
        elif route.matches(scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return methods


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, error: LedgerError) -> JSONResponse:
        if isinstance(error, SignatureError | AuthenticationError):
            request.state.signature_failed = True  # charged by api.badsigs
        # Some refusals carry more than one reason (EPCIS capture: ``events``).
        extra = getattr(error, "problem_fields", {})
        response = problem(error.status, error.code, error.message, error.field, **extra)
        retry_after = getattr(error, "retry_after", None)  # 429 rate-limited, 423 claim-locked
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = str(first.get("msg", "invalid request"))
        return problem(ValidationError.status, ValidationError.code, message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(error.status_code, HTTP_ERROR)
        response = problem(error.status_code, code, str(error.detail))
        response.headers.update(error.headers or {})
        if error.status_code == 405:
            response.headers["Allow"] = allowed_methods(request)
        return response

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _error: Exception) -> JSONResponse:
        return problem(500, INTERNAL, "unexpected server error; nothing was written")
