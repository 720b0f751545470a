"""cli/backends/http.py: the CLI's HTTP connection on the standard library.

Against a real local HTTP server (``http.server`` in a thread): query strings as the
server expects them, JSON and raw bodies, problems turned into `RemoteError` with the
problem's code, one kept connection for many requests, a connection the server closed
while idle replaced without the caller noticing, and a server that is not there is
``unreachable`` in one line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cli.backends.http import Http, RemoteError


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []  # noqa: RUF012 - shared by the test and the handler

    def _answer(self, status: int, body: bytes, kind: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "body": body,
                "type": self.headers.get("Content-Type"),
                "port": self.client_address[1],
            }
        )
        return body

    def do_GET(self) -> None:
        self._record()
        if self.path.startswith("/base/v1/problem"):
            problem = {"code": "not-found", "detail": "no such unit", "field": "serial"}
            self._answer(404, json.dumps(problem).encode(), "application/problem+json")
        elif self.path.startswith("/base/v1/text"):
            self._answer(200, "héllo\n".encode(), "text/plain; charset=utf-8")
        elif self.path.startswith("/base/v1/bye"):
            self._answer(200, b"{}", "application/json", close=True)
        else:
            self._answer(200, json.dumps({"path": self.path}).encode(), "application/json")

    def do_POST(self) -> None:
        body = self._record()
        self._answer(200, body or b"{}", "application/json")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/base"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_requests_bodies_and_query_strings(server: str) -> None:
    http = Http(server + "/")
    answer = http.json(http.get("/v1/units/x", s="a b", flag=True, empty=None))
    assert answer == {"path": "/base/v1/units/x?s=a+b&flag=true&empty="}
    echoed = http.json(http.request("POST", "/v1/post", json={"a": [1, "é"]}))
    assert echoed == {"a": [1, "é"]}
    assert Handler.seen[-1]["type"] == "application/json"
    raw = http.request("POST", "/v1/post", content=b'{"k":1}', headers={"Content-Type": "x/y"})
    assert raw.json() == {"k": 1} and Handler.seen[-1]["type"] == "x/y"
    assert http.text("/v1/text") == "héllo\n"
    http.close()


def test_one_connection_is_kept_and_replaced_when_the_server_closes_it(server: str) -> None:
    http = Http(server)
    for _ in range(3):
        http.get("/v1/a")
    assert len({seen["port"] for seen in Handler.seen}) == 1
    http.get("/v1/bye")  # the server says Connection: close
    http.get("/v1/after")
    ports = [seen["port"] for seen in Handler.seen]
    assert ports[-1] != ports[-2]
    http.close()


def test_a_problem_becomes_a_remote_error_with_its_code(server: str) -> None:
    http = Http(server)
    with pytest.raises(RemoteError) as refused:
        http.json(http.get("/v1/problem"))
    assert (refused.value.status, refused.value.code) == (404, "not-found")
    assert (refused.value.message, refused.value.field) == ("no such unit", "serial")
    with pytest.raises(RemoteError) as refused:
        http.text("/v1/problem")
    assert refused.value.code == "not-found"
    http.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "ftp://example.org", "nonsense"])
def test_no_server_is_unreachable_in_one_line(url: str) -> None:
    with pytest.raises(RemoteError) as refused:
        Http(url).get("/v1/checkpoint")
    assert refused.value.code == "unreachable"
    assert str(refused.value.message).startswith("cannot reach ")
    assert "\n" not in str(refused.value.message)
