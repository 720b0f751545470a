"""Completeness proofs against a real server that lies (issue 18; docs/FORMAT.md 14).

A proxy in front of a real server (uvicorn) plays the dishonest server: it cuts the
sold unit's last entries and says ``genuine``, or answers ``unknown`` for a unit the log
holds (with or without the map proof). ``provenance verify`` checks the view's map proof
under the map root the checkpoint signs and says ``invalid`` (``chain-incomplete``),
exit 1. An honest ``unknown`` for a serial never minted verifies with an absence proof.
The offline proof with its last entry cut, or with its map line removed, is refused by
``provenance verify --proof``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import LiveServer, start
from tests.e2e.test_pinned_keys import cli

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


class Proxy:
    """Forwards GETs to ``upstream``; unit views pass through ``rewrite``."""

    def __init__(self, upstream: str, rewrite: Rewrite) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                response = httpx.get(upstream + self.path, headers={"Accept": "application/json"})
                body = response.content
                if self.path.startswith("/v1/units/") and response.status_code == 200:
                    body = json.dumps(rewrite(response.json())).encode()
                    proxy.rewritten += 1
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A seeded server of this module's own."""
    tmp = tmp_path_factory.mktemp("complete")
    live = start(f"sqlite:///{tmp}/complete.db", tmp)
    yield live
    live.stop()


def _verify_through(
    server: LiveServer, rewrite: Rewrite, unit: tuple[str, str], home: Path, code: int = 1
) -> dict[str, Any]:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    proxy = Proxy(server.url, rewrite)
    try:
        report, _ = cli(
            "--server", proxy.url, "verify", "/".join(unit), "--log-key", key, home=home, code=code
        )
    finally:
        proxy.stop()
    assert proxy.rewritten == 1
    assert isinstance(report, dict)
    return report


def _cut_to_genuine(view: dict[str, Any]) -> dict[str, Any]:
    """Drop the sale (the last entry) and say genuine: every remaining proof still holds."""
    return {
        **view,
        "entries": view["entries"][:-1],
        "verdict": "genuine",
        "reasons": [{"code": "verified", "message": "ok", "evidence": {}}],
    }


def _unknown(keep_proof: bool) -> Rewrite:
    def rewrite(view: dict[str, Any]) -> dict[str, Any]:
        return {
            **view,
            "verdict": "unknown",
            "reasons": [{"code": "not-found", "message": "no such unit", "evidence": {}}],
            "unit": None,
            "entries": [],
            "map_proof": view["map_proof"] if keep_proof else None,
        }

    return rewrite


def test_a_view_with_its_last_entry_cut_is_refused(server: LiveServer, tmp_path: Path) -> None:
    report = _verify_through(server, _cut_to_genuine, server.units["sold"], tmp_path)
    assert report["verdict"] == "invalid" and report["served_verdict"] == "genuine"
    assert [r["code"] for r in report["reasons"]] == ["chain-incomplete"]
    assert "left out" in report["reasons"][0]["message"]


@pytest.mark.parametrize("keep_proof", [True, False], ids=["with-proof", "without-proof"])
def test_unknown_for_a_unit_the_log_holds_is_caught(
    server: LiveServer, tmp_path: Path, keep_proof: bool
) -> None:
    report = _verify_through(server, _unknown(keep_proof), server.units["recalled"], tmp_path)
    assert report["verdict"] == "invalid"
    assert [r["code"] for r in report["reasons"]] == ["chain-incomplete"]


def test_an_honest_unknown_is_proven_absent(server: LiveServer, tmp_path: Path) -> None:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    unit = "/".join(server.units["unknown"])
    report, _ = cli("--server", server.url, "verify", unit, "--log-key", key, home=tmp_path, code=1)
    assert report["verdict"] == "unknown" and report["disagreement"] is None
    size = int(httpx.get(f"{server.url}/v1/checkpoint").text.split("\n")[1])
    assert report["complete_at"] == size
    assert [r["code"] for r in report["reasons"]] == ["not-found"]


def test_an_offline_proof_cut_short_or_without_its_map_line_is_refused(
    server: LiveServer, tmp_path: Path
) -> None:
    key = httpx.get(f"{server.url}/v1/log/key").text.strip()
    gtin, serial = server.units["sold"]
    text = httpx.get(f"{server.url}/v1/units/{gtin}/{serial}/proof").text
    whole = tmp_path / "whole.unit-proof"
    whole.write_text(text)
    proven, _ = cli("verify", "--proof", str(whole), "--log-key", key, home=tmp_path)
    assert proven["verdict"] == "caution" and proven["complete"] is True
    header, _, rest = text.partition("\n\n")
    sections = rest.split("c2sp.org/tlog-proof@v1\n")[1:]
    cut = tmp_path / "cut.unit-proof"
    cut.write_text(header + "\n\n" + "".join("c2sp.org/tlog-proof@v1\n" + s for s in sections[:-1]))
    _, why = cli("verify", "--proof", str(cut), "--log-key", key, home=tmp_path, code=1)
    assert "left out" in why
    unmapped = tmp_path / "unmapped.unit-proof"
    lines = header.split("\n")
    assert lines[2].startswith("map ")
    unmapped.write_text("\n".join(lines[:2]) + "\n\n" + rest)
    _, why = cli("verify", "--proof", str(unmapped), "--log-key", key, home=tmp_path, code=1)
    assert "map line" in why
