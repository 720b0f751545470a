"""A dishonest server for tests: a proxy in front of a real one that rewrites what it serves.

`Proxy` forwards GETs to ``upstream``; the JSON of unit views passes through ``rewrite``,
and the JSON of the paths in ``others`` through their own rewrite, so a test can play a
server that lies about a verdict, leaves entries out or hides an actor's facts, while
every proof and signature it passes on stays as the real server made it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


class Proxy:
    """Forwards GETs to ``upstream``; unit views pass through ``rewrite``, and the answers
    of paths in ``others`` through their own rewrite."""

    def __init__(
        self, upstream: str, rewrite: Rewrite, others: dict[str, Rewrite] | None = None
    ) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                response = httpx.get(upstream + self.path, headers={"Accept": "application/json"})
                body = response.content
                if self.path.startswith("/v1/units/") and response.status_code == 200:
                    body = json.dumps(rewrite(response.json())).encode()
                    proxy.rewritten += 1
                elif self.path.split("?")[0] in (others or {}) and response.status_code == 200:
                    body = json.dumps((others or {})[self.path.split("?")[0]](response.json()))
                    body = body.encode()
                self.send_response(response.status_code)
                self.send_header("Content-Type", response.headers.get("content-type", "text/plain"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.rewritten = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
