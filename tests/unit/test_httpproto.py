"""api.httpproto: a request uvicorn's parser cannot read is refused as problem+json (the
app never sees it), on httptools and on h11; a readable one still reaches the app."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from api import httpproto

#: a cookie holding a DEL byte: not a field-value (RFC 9110), refused by llhttp
BAD = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: pl_owner_0=\x7f\r\n\r\n"
#: a request line no parser reads
BROKEN = b"GET / HTTP/1.1 junk\x00\r\nHost: x\r\n\r\n"
GOOD = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


async def _app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    assert scope["type"] == "http"
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"3")]}
    await send(start)  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"app"})  # type: ignore[operator]


@pytest.fixture(params=["api.httpproto:ProblemH11Protocol", httpproto.PROTOCOL_PATH])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=free, http=request.param, log_level="error", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield free
    server.should_exit = True
    thread.join(10)


def _ask(port: int, raw: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return lines[0], headers, body


def test_an_unreadable_request_is_a_problem(port: int) -> None:
    status, headers, body = _ask(port, BROKEN)
    assert status.startswith("HTTP/1.1 400")
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert problem["type"] == "urn:provenance-ledger:problem:malformed-request"
    assert problem["status"] == 400 and problem["code"] == "malformed-request"


def test_a_control_byte_in_a_header_is_refused_or_read_never_a_crash(port: int) -> None:
    status, headers, body = _ask(port, BAD)
    if status.startswith("HTTP/1.1 400"):  # httptools refuses it; h11 reads it
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["code"] == "malformed-request"
    else:
        assert status.startswith("HTTP/1.1 200") and body == b"app"


def test_a_readable_request_reaches_the_app(port: int) -> None:
    status, _, body = _ask(port, GOOD)
    assert status.startswith("HTTP/1.1 200") and body == b"app"
