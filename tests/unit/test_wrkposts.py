"""bench.wrkposts: wrk posts each pre-made body at most once and counts the answers that
are new receipts in a checkpoint including them apart from any other (session 34)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import wrkposts

pytestmark = pytest.mark.skipif(not wrkposts.available(), reason="wrk is not installed")


class _Log:
    """What the test server saw: each body's posts, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[bytes] = []


def _handler(log: _Log) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn

        def do_POST(self) -> None:  # http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with log.lock:
                index = len(log.bodies)
                log.bodies.append(body)
            event = json.loads(body)
            size = index if event.get("stale") else index + 1  # a checkpoint without it
            receipt = {"index": index, "leaf_hash": "x", "event_hash": "y", "duplicate": False}
            if event.get("again"):
                receipt["duplicate"] = True
            answer = {"receipts": [receipt], "size": size, "checkpoint": f"o\n{size}\nr\n\n"}
            data = json.dumps(answer, separators=(",", ":")).encode()
            self.send_response(409 if event.get("refuse") else 201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # what a thread out of bodies sends
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # wrk drops its connections at the end of its run: reset, nothing to say


@pytest.fixture
def server() -> Iterator[tuple[str, _Log]]:
    log = _Log()
    httpd = _Server(("127.0.0.1", 0), _handler(log))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/entries", log
    finally:
        httpd.shutdown()
        httpd.server_close()


def _bodies(count: int, **marks: bool) -> list[bytes]:
    return [json.dumps({"n": i, **marks}).encode() for i in range(count)]


def test_each_body_is_posted_once_and_every_new_receipt_counted(
    server: tuple[str, _Log],
) -> None:
    url, log = server
    posted = wrkposts.post_each(url, _bodies(50_000), 1, 8)
    assert not posted.ran_out and posted.refused == 0 and posted.first_status == 0
    assert posted.created > 0 and posted.seconds >= 1.0
    assert len(set(log.bodies)) == len(log.bodies)  # none twice
    assert posted.created <= len(log.bodies)  # (the last ones in flight are not counted)


def test_a_thread_out_of_bodies_stops_and_says_so(server: tuple[str, _Log]) -> None:
    """Its counts are then partial (its connections' answers in flight are dropped with
    it): the figure fails on ``ran_out`` whatever they say."""
    url, log = server
    posted = wrkposts.post_each(url, _bodies(40), 1, 8)
    assert posted.ran_out
    assert posted.created <= 40 and posted.refused == 0
    assert len(set(log.bodies)) == len(log.bodies) <= 40  # none twice


@pytest.mark.parametrize("mark", ["refuse", "again", "stale"])
def test_an_answer_not_a_new_receipt_in_its_checkpoint_is_counted_apart(
    server: tuple[str, _Log], mark: str
) -> None:
    url, _ = server
    posted = wrkposts.post_each(url, _bodies(50_000, **{mark: True}), 1, 4)
    assert not posted.ran_out
    assert posted.created == 0 and posted.refused > 0
    assert posted.first_status == (409 if mark == "refuse" else 201)


def test_a_body_on_two_lines_is_refused_before_wrk_runs() -> None:
    with pytest.raises(ValueError):
        wrkposts.post_each("http://127.0.0.1:1/", [b'{\n"n": 1}'], 1, 1)
