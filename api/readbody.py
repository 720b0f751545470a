"""Reading a request body under a byte limit."""

from __future__ import annotations

from fastapi import Request
from starlette.requests import ClientDisconnect

from api.problems import PayloadTooLargeError


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes without reading them all.

    Read straight from the scope's raw headers and the request's ``receive``: no
    `Headers` built and no stream generator, ~5 us of a single event's ~90 in the app
    (docs/PERFORMANCE.md, "loop49"). The body is read once: nothing keeps it for a
    second reader (no route reads it twice).

    Raises:
        PayloadTooLargeError: the body (or its declared length) exceeds ``limit``.
        ClientDisconnect: the client went away before the body's end.
    """
    for name, value in request.scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise PayloadTooLargeError(
                    f"the body is {value.decode()} bytes; the limit is {limit}"
                )
            break
    receive = request.receive
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
