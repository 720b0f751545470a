"""uvicorn's HTTP protocols, with the refusal they send themselves as problem+json.

A request the HTTP parser cannot read (a control character in a header, a broken
request line, a bad chunk size) never reaches the app: uvicorn answers it ``400`` with
the parser's message as ``text/plain`` and closes the connection. httptools (llhttp,
uvicorn's choice when installed) refuses more of them than h11 did, e.g. a cookie
holding a DEL byte, which RFC 9110's field-value grammar does not allow. These
subclasses send that refusal as every other API error is sent (docs/API.md,
``malformed-request``): the same status, connection close, and the parser's message
as ``detail``.

``PROTOCOL`` is the class `provenance serve` gives uvicorn (httptools when installed,
else h11); ``PROTOCOL_PATH`` names it for ``uvicorn --http`` on a command line.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import MALFORMED_REQUEST, MEDIA_TYPE, PROBLEM_TYPE

#: the problem code of a request the HTTP parser refused
CODE = MALFORMED_REQUEST
PROTOCOL_PATH = "api.httpproto:PROTOCOL"


def problem_body(message: str) -> bytes:
    """The problem+json body of the parser's refusal ``message``."""
    return json.dumps(
        {
            "type": PROBLEM_TYPE + CODE,
            "title": CODE.replace("-", " "),
            "status": 400,
            "detail": f"the request is not valid HTTP/1.1: {message}",
            "code": CODE,
        },
        separators=(",", ":"),
    ).encode()


def _response(message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = problem_body(message)
    lines = [b"HTTP/1.1 400 Bad Request\r\n"]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [
        b"content-type: " + MEDIA_TYPE.encode() + b"\r\n",
        b"cache-control: no-store\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(lines)


class ProblemH11Protocol(H11Protocol):
    """h11, refusing unreadable requests with problem+json."""

    def send_400_response(self, msg: str) -> None:
        """Answer the parser's refusal as a problem and close the connection."""
        self.transport.write(_response(msg, self.server_state.default_headers))
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency
    PROTOCOL: type[H11Protocol] | type = ProblemH11Protocol
else:

    class ProblemHttpToolsProtocol(HttpToolsProtocol):
        """httptools, refusing unreadable requests with problem+json."""

        def send_400_response(self, msg: str) -> None:
            """Answer the parser's refusal as a problem and close the connection."""
            self.transport.write(_response(msg, self.server_state.default_headers))
            self.transport.close()

    PROTOCOL = ProblemHttpToolsProtocol
