"""JSON request bodies: only ``Content-Type: application/json`` is parsed as JSON.

A browser may send a cross-site ``fetch`` or form without asking the server first (no
CORS preflight) only with ``text/plain``, ``application/x-www-form-urlencoded`` or
``multipart/form-data``. A JSON endpoint that parsed such a body would let any page make
its visitors' browsers call it (a claim with a guessed code from each visitor's address),
so every route that parses JSON first asks `json_body`, and anything but
``application/json`` (parameters such as ``charset`` allowed) is refused with 415
``unsupported-media-type`` before the body is read.
"""

from __future__ import annotations

from fastapi import Request

from api.context import read_body
from ledger.errors import LedgerError

JSON = "application/json"
_JSON_BYTES = JSON.encode()


class UnsupportedMediaTypeError(LedgerError):
    """The body's ``Content-Type`` is not one this route parses (JSON routes:
    ``application/json``)."""

    code = "unsupported-media-type"
    status = 415


def is_json(request: Request) -> bool:
    """True when the one ``Content-Type`` header is ``application/json`` (any parameters)."""
    # the scope's raw list (ASGI header names are lowercase), not a `Headers` built for it
    values = [value for name, value in request.scope["headers"] if name == b"content-type"]
    return len(values) == 1 and values[0].split(b";", 1)[0].strip().lower() == _JSON_BYTES


def require_json(request: Request) -> None:
    """Refuse a body that is not declared ``application/json``; reads nothing.

    Raises:
        UnsupportedMediaTypeError: no, another, or more than one ``Content-Type``.
    """
    if not is_json(request):
        shown = request.headers.get("content-type", "none")[:60]
        raise UnsupportedMediaTypeError(
            f"this route takes application/json, not {shown!r}", field="Content-Type"
        )


async def json_body(request: Request, limit: int) -> bytes:
    """The raw body of a JSON request, at most ``limit`` bytes (still to be parsed: a
    signed request's MAC covers these exact bytes).

    Raises:
        UnsupportedMediaTypeError: the body is not declared ``application/json``.
        PayloadTooLargeError: the body exceeds ``limit``.
    """
    require_json(request)
    return await read_body(request, limit)
