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
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from api.consumer.claim_page import wait_words
from api.consumer.error_page import render_error_page, wants_html
from api.consumer.i18n import choose_language
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
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
HTTP_ERROR = "http-error"  # any other status Starlette raises
INTERNAL = "internal"  # 500: an unexpected exception
MALFORMED_REQUEST = "malformed-request"  # 400: not HTTP/1.1 the parser reads (api.httpproto)


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
    body = problem_body(status, code, detail, field, **extra)
    # nosniff here too: a 500 is answered outside the middleware that adds it (api/headers.py)
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def problem_body(
    status: int, code: str, detail: str, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The RFC 9457 object of a problem: ``type`` from the stable ``code``, its fixed
    ``title``, ``status``, ``detail``, ``code``, and ``field`` when one is to blame."""
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
    return body


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


def shopper_page(
    request: Request, status: int, code: str, retry_after: int | None = None
) -> HTMLResponse | None:
    """The error as a page in words for a shopper's browser (a GET outside ``/v1/``, or
    the page's forms, whose ``Accept`` puts ``text/html`` first), or None: API clients
    keep problem+json."""
    kind = request.headers.get("content-type", "")
    form = request.method == "POST" and kind.startswith(_FORMS)
    if not form and (request.method not in ("GET", "HEAD") or request.url.path.startswith("/v1/")):
        return None
    if not wants_html(request.headers.get("accept")):
        return None
    lang = choose_language(request.headers.get("accept-language"), request.query_params.get("lang"))
    wait = wait_words(retry_after, lang) if retry_after is not None else ""
    headers = {"Cache-Control": "no-store", "Content-Language": lang, "Vary": "Accept"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return HTMLResponse(render_error_page(code, lang, wait=wait), status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, error: LedgerError) -> Response:
        if isinstance(error, SignatureError | AuthenticationError):
            request.state.signature_failed = True  # charged by api.badsigs
        retry_after = getattr(error, "retry_after", None)  # 429 rate-limited, 423 claim-locked
        page = shopper_page(request, error.status, error.code, retry_after)
        if page is not None:
            return page
        # Some refusals carry more than one reason (EPCIS capture: ``events``).
        extra = getattr(error, "problem_fields", {})
        response = problem(error.status, error.code, error.message, error.field, **extra)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        page = shopper_page(request, ValidationError.status, ValidationError.code)
        if page is not None:
            return page
        first = error.errors()[0] if error.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = str(first.get("msg", "invalid request"))
        return problem(ValidationError.status, ValidationError.code, message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(error.status_code, HTTP_ERROR)
        page = shopper_page(request, error.status_code, code)
        if page is not None and error.status_code != 405:
            return page
        response = problem(error.status_code, code, str(error.detail))
        response.headers.update(error.headers or {})
        if error.status_code == 405:
            response.headers["Allow"] = allowed_methods(request)
        return response

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _error: Exception) -> JSONResponse:
        return problem(500, INTERNAL, "unexpected server error; nothing was written")
