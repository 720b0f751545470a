"""Request size limits, enforced while the request streams in: nothing larger than the
limit ever reaches memory or disk.

A route that reads its body itself stops at its limit, but the multipart parser behind
``request.form()`` spools a whole upload to a temporary file before the route sees it (a
chunked 300 MB report grew the disk by 301 MB before its 413). `RequestLimits` sits in
front of every route:

- headers: more than `MAX_HEADERS` lines or `MAX_HEADER_BYTES` bytes (thousands of
  cookies, one huge one) are refused with 431 ``headers-too-large`` before any route
  parses them;
- a declared ``Content-Length`` above the route's limit is refused with 413
  ``payload-too-large`` before a byte of the body is read;
- every body, chunked or with a ``Content-Length`` that lies, is counted as it arrives;
  the chunk that passes the limit is never handed on: the app's read fails with
  `PayloadTooLargeError` (413), so a parser that was spooling stops there.

The limit depends on the route (`route_limits`): a report may carry a photo, a claim
holds a code, a write an event or a batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PayloadTooLargeError, problem
from ledger.errors import LedgerError
from ledger.service.catalog import MAX_UPLOAD
from ledger.service.licences import MAX_DOCUMENT
from ledger.service.reports import MAX_PHOTO
from ledger.service.settings import Settings

#: a report: the photo as base64 in JSON (4/3 of it) or as a multipart part, plus fields
REPORT_BODY: Final = MAX_PHOTO * 4 // 3 + 64 * 1024
#: the operator's onboarding form: a licence document and a few fields (multipart)
DOCUMENT_BODY: Final = MAX_DOCUMENT + 64 * 1024
#: a claim: a code, a language and a csrf token, as JSON or a form
CLAIM_BODY: Final = 8 * 1024
#: a witness cosignature: a checkpoint note and a consistency proof
COSIGNATURE_BODY: Final = 64 * 1024
#: a product picture uploaded in the console, as one multipart part, plus fields
IMAGE_BODY: Final = MAX_UPLOAD + 64 * 1024
MAX_HEADERS: Final = 100
MAX_HEADER_BYTES: Final = 32 * 1024

_LOG_PREFIX = re.compile(r"^/logs/[^/]+(?=/)")

Limits = Callable[[str, str], int]


class HeadersTooLargeError(LedgerError):
    """The request's headers are too many or too large (a cookie flood)."""

    code = "headers-too-large"
    status = 431


def route_limits(settings: Settings) -> Limits:
    """``limit(method, path)``: the largest body a request to that route may carry.

    The log-scoped ``/logs/{log}/...`` URLs have the limits of their unprefixed twins.
    Every request asks (`RequestLimits`): the fixed paths are one dict look-up, and only
    a path with a variable part is matched against the patterns.
    """
    exact: dict[str, int] = {
        "/v1/reports": REPORT_BODY,
        "/v1/entries": settings.max_event_bytes,
        "/v1/entries:batch": settings.max_batch_bytes,
        "/v1/epcis/capture": settings.max_batch_bytes,
        "/v1/checkpoint/cosignatures": COSIGNATURE_BODY,
        "/console/products/image": IMAGE_BODY,
        "/console/operator/actors": DOCUMENT_BODY,
    }
    patterns: list[tuple[re.Pattern[str], int]] = [
        (re.compile(r"/v1/reports/[^/]+/resolve"), settings.max_event_bytes),
        (re.compile(r"/v1/units/.+/claim"), CLAIM_BODY),
        (re.compile(r"/v1/products/[^/]+/image"), IMAGE_BODY),
        (re.compile(r"/console/operator/actors/[a-z0-9._-]+/document"), DOCUMENT_BODY),
    ]
    default = settings.max_event_bytes

    def limit(method: str, path: str) -> int:
        if method != "POST":  # every larger limit is a POST's
            return default
        if path.startswith("/logs/"):
            path = _LOG_PREFIX.sub("", path, count=1)
        size = exact.get(path)
        if size is not None:
            return size
        for pattern, size in patterns:
            if pattern.fullmatch(path):
                return size
        return default

    return limit


class RequestLimits:
    """ASGI middleware: the header bounds and the streaming body limit (module doc)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope``, refusing it (431, 413) as soon as it passes a bound."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits(scope["method"], scope.get("path", ""))
        refusal = self._refuse_early(scope, limit)
        if refusal is not None:
            await _answer(refusal, scope, receive, send)
            return
        counted = 0
        over = False
        started = False

        async def bounded() -> Message:
            nonlocal counted, over
            if over:  # a parser that swallowed the first refusal gets it again
                raise PayloadTooLargeError(f"the body exceeds the limit of {limit} bytes")
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > limit:
                    over = True
                    raise PayloadTooLargeError(f"the body exceeds the limit of {limit} bytes")
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded, watched)
        except Exception:
            # The app let the refusal (or what a parser made of it) escape: answer the
            # 413 here unless it already answered something.
            if not over or started:
                raise
            await _answer(
                PayloadTooLargeError(f"the body exceeds the limit of {limit} bytes"),
                scope,
                receive,
                send,
            )

    def _refuse_early(self, scope: Scope, limit: int) -> LedgerError | None:
        """The refusal the headers alone decide (too many, too large, a declared body
        over the route's ``limit``), or None."""
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if len(headers) > MAX_HEADERS:
            return HeadersTooLargeError(f"more than {MAX_HEADERS} header lines")
        if sum(len(k) + len(v) + 4 for k, v in headers) > MAX_HEADER_BYTES:
            return HeadersTooLargeError(f"the headers exceed {MAX_HEADER_BYTES} bytes")
        for name, value in headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return PayloadTooLargeError(f"the body is {int(value)} bytes; the limit is {limit}")
        return None


async def _answer(error: LedgerError, scope: Scope, receive: Receive, send: Send) -> None:
    """Send ``error`` as problem+json (the connection closes: the body stays unread)."""
    response = problem(error.status, error.code, error.message, error.field)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
