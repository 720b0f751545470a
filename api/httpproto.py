"""uvicorn's HTTP protocols, with the refusal they send themselves as problem+json.

A request the HTTP parser cannot read (a control character in a header, a broken
request line, a bad chunk size) never reaches the app: uvicorn answers it ``400`` with
the parser's message as ``text/plain`` and closes the connection. httptools (llhttp,
uvicorn's choice when installed) refuses more of them than h11 did, e.g. a cookie
holding a DEL byte, which RFC 9110's field-value grammar does not allow. These
subclasses send that refusal as every other API error is sent (docs/API.md,
``malformed-request``): the same status, connection close, and the parser's message
as ``detail``.

``PROTOCOL`` is the class `provenance serve` gives uvicorn (httptools, a dependency);
``PROTOCOL_PATH`` names it for ``uvicorn --http`` on a command line. `ProblemH11Protocol`
is the same refusal on h11.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.problems import MALFORMED_REQUEST, MEDIA_TYPE, problem_body

PROTOCOL_PATH = "api.httpproto:PROTOCOL"


def refusal(message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole HTTP/1.1 answer to a request the parser refused with ``message``: 400,
    uvicorn's default headers (date, server), problem+json, connection close."""
    detail = f"the request is not valid HTTP/1.1: {message}"
    body = json.dumps(problem_body(400, MALFORMED_REQUEST, detail), separators=(",", ":"))
    lines = [b"HTTP/1.1 400 Bad Request\r\n"]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [
        b"content-type: " + MEDIA_TYPE.encode() + b"\r\n",
        b"cache-control: no-store\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
        body.encode(),
    ]
    return b"".join(lines)


class _ProblemRefusal:
    """`send_400_response` for uvicorn's protocol classes (mixed in before them)."""

    transport: Any
    server_state: Any

    def send_400_response(self, msg: str) -> None:
        """Answer the parser's refusal as a problem and close the connection."""
        self.transport.write(refusal(msg, self.server_state.default_headers))
        self.transport.close()


class ProblemHttpToolsProtocol(_ProblemRefusal, HttpToolsProtocol):
    """httptools, refusing unreadable requests with problem+json."""


class ProblemH11Protocol(_ProblemRefusal, H11Protocol):
    """h11, refusing unreadable requests with problem+json."""


PROTOCOL = ProblemHttpToolsProtocol
