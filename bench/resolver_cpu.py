"""The server's CPU per request: bare endpoint, resolver JSON, consumer page, and the
page without a scan, on one uvicorn worker under ``wrk -c64``.

On a machine shared with other work, requests/s and p99 swing several-fold from run to
run (other processes take the cores); the CPU time the server process itself spends
per request (from /proc, its threads included: bench.proccpu) swings far less, so
this is the figure to compare two commits by when the machine is not quiet. The page
(``Accept: text/html``, Chinese, the label's valid signature, no cookie: a fresh CSRF
nonce each time, as a first visit) records a counted scan; ``?lang=zh-CN`` (a language
switch) records none, so the difference is the scan's cost (its record, the flusher's
writes, the signals over the unit's growing scans).

    .venv/bin/python -m bench.resolver_cpu [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import bench.server as served
from bench.proccpu import cpu_seconds
from bench.resolver import BROWSER
from ledger import label
from ledger.gs1 import UnitId
from tests.e2e.server import seed
from tests.factories import key
from tests.integration.world import config


def run(seconds: float, rounds: int) -> list[dict[str, float]]:
    """Per round: milliseconds of server CPU per request, by path name."""
    started: list[subprocess.Popen[Any]] = []
    popen = served.subprocess.Popen

    def keep(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        process = popen(*args, **kwargs)
        started.append(process)
        return process

    out = []
    with tempfile.TemporaryDirectory(prefix="bench-resolver-cpu-") as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        _, units = seed(url_db, "bench-resolver")
        gtin, serial = units["sold"]
        signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(2))
        path = f"/01/{gtin}/21/{serial}?s={signed}"
        served.subprocess.Popen = keep  # type: ignore[misc]  # to learn the server's pid
        try:
            with served.serve(url_db, config("bench-resolver")) as base:
                pid = started[-1].pid
                paths = {
                    "bare": (f"{base}/bench/bare", served.ACCEPT_JSON),
                    "json": (base + path, served.ACCEPT_JSON),
                    "page": (base + path, BROWSER),
                    "page-no-scan": (f"{base}{path}&lang=zh-CN", BROWSER),
                }
                for url, script in paths.values():  # warm-up
                    served.wrk_run(url, 1, script=script)
                for _ in range(rounds):
                    figures = {}
                    for name, (url, script) in paths.items():
                        before = cpu_seconds(pid)
                        answer = served.wrk_run(url, seconds, script=script)
                        used = cpu_seconds(pid) - before
                        figures[name] = used / max(1.0, answer["requests"]) * 1000
                    out.append(figures)
        finally:
            served.subprocess.Popen = popen  # type: ignore[misc]
    return out


def main() -> None:
    """Print the figures, one line per round."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for figures in run(args.seconds, args.rounds):
        cells = " ".join(f"{name} {ms:.3f}" for name, ms in figures.items())
        print(
            f"server CPU ms/request: {cells} | page/json {figures['page'] / figures['json']:.2f}"
            f" (json/page {figures['json'] / figures['page']:.3f})"
        )


if __name__ == "__main__":
    main()
