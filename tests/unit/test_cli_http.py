"""cli/backends/http.py: the CLI's HTTP connection on the standard library.

Against a real local HTTP server (``http.server`` in a thread): query strings as the
server expects them, JSON and raw bodies, problems turned into `RemoteError` with the
problem's code, one kept connection for many requests, a connection the server closed
while idle replaced without the caller noticing, a server that is not there is
``unreachable`` in one line, and a gzip answer decoded, bounded and checked (a broken,
truncated, padded, oversized or foreign-encoded answer refused in one line).
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cli.backends import http as http_backend
from cli.backends.http import Http, RemoteError


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []  # noqa: RUF012 - shared by the test and the handler

    #: what /base/v1/packed/<name> answers: (body, Content-Encoding)
    packed: dict[str, tuple[bytes, str]] = {}  # noqa: RUF012 - set by the test

    def _answer(
        self, status: int, body: bytes, kind: str, close: bool = False, encoding: str = ""
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if encoding:
            self.send_header("Content-Encoding", encoding)
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
                "accept-encoding": self.headers.get("Accept-Encoding"),
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
        elif self.path.startswith("/base/v1/packed/"):
            body, encoding = self.packed[self.path.rsplit("/", 1)[1]]
            self._answer(200, body, "application/json", encoding=encoding)
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


def test_gzip_answers_are_decoded_and_bad_ones_refused(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = json.dumps({"entries": [{"index": i, "proof": ["h" * 43] * 9} for i in range(500)]})
    whole = gzip.compress(view.encode())
    bomb = gzip.compress(b" " * (2 * 1024 * 1024))  # 2 MB of spaces in ~2 kB
    Handler.packed = {
        "good": (whole, "gzip"),
        "GOOD": (whole, " GZIP "),
        "plain": (view.encode(), "identity"),
        "truncated": (whole[:-20], "gzip"),
        "padded": (whole + b"more", "gzip"),
        "crc": (whole[:-8] + bytes([whole[-8] ^ 1]) + whole[-7:], "gzip"),
        "garbage": (b"\x1f\x8b not really", "gzip"),
        "bomb": (bomb, "gzip"),
        "brotli": (b"\x0b\x02\x80{}\x03", "br"),
        "twice": (gzip.compress(whole), "gzip, gzip"),
        "empty": (b"", "gzip"),  # as a 204 or 304 would come: nothing to decode
    }
    client = Http(server)
    try:
        for name in ("good", "GOOD", "plain"):
            assert client.json(client.get(f"/v1/packed/{name}")) == json.loads(view)
        assert Handler.seen[0]["accept-encoding"] == "gzip"
        assert client.get("/v1/packed/empty").content == b""
        monkeypatch.setattr(http_backend, "MAX_DECODED", 1024 * 1024)
        asked: list[int] = []
        real = zlib.decompressobj

        class Capped:
            """zlib's decoder, recording the output bound each call is given."""

            def __init__(self, wbits: int) -> None:
                self._inner = real(wbits=wbits)

            def decompress(self, data: bytes, max_length: int = 0) -> bytes:
                asked.append(max_length)
                return self._inner.decompress(data, max_length)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

        monkeypatch.setattr(http_backend.zlib, "decompressobj", Capped)
        refusals = {
            "truncated": "truncated",
            "padded": "bytes after",
            "crc": "broken gzip",
            "garbage": "broken gzip",
            "bomb": "over 1 MiB",
            "brotli": "encoding ['br']",
            "twice": "encoding ['gzip', 'gzip']",
        }
        for name, words in refusals.items():
            with pytest.raises(RemoteError) as refused:
                client.get(f"/v1/packed/{name}")
            assert refused.value.code == "http-error" and words in str(refused.value), name
            assert "\n" not in str(refused.value)
        # the bound is the decoder's: the bomb was never inflated past it
        assert asked and set(asked) == {http_backend.MAX_DECODED}
        monkeypatch.undo()
        assert len(zlib.decompress(bomb, wbits=31)) > 1024 * 1024
    finally:
        client.close()
