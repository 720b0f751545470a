"""The resolver's JSON path in process: time and SQL statements per view, no network.

For a machine without ``wrk`` (bench.resolver needs it) and for profiling: seeds the
resolver group's log on SQLite (tests.e2e.server.seed), builds the real app with a bare
endpoint beside it, and sends sequential requests through httpx's ASGI transport: the
bare endpoint, a sold unit's view with its valid label signature, the same with fresh
forged signatures, an unknown unit, and the sold unit's consumer page (HTML, Chinese). Prints per path p50/p99 (ms), the ratio of
requests/s to the bare endpoint's, and SQL statements per request (scans flushed
between rounds, as the server's flusher does).

    .venv/bin/python -m bench.resolver_inprocess [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.responses import JSONResponse
from sqlalchemy import event

from api.app import create_app
from ledger import codec, label
from ledger.gs1 import UnitId
from ledger.service.ledger import Ledger
from ledger.service.settings import Settings
from tests.e2e.server import seed
from tests.factories import key
from tests.integration.world import clock, config


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


#: what a phone's browser sends for the consumer page (bench.resolver's BROWSER)
PAGE = {"Accept": "text/html", "Accept-Language": "zh-CN"}


async def _measure(
    client: httpx.AsyncClient,
    paths: list[str],
    flush: Any,
    counter: list[int],
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    times: list[float] = []
    cpu: list[float] = []
    before = counter[0]
    for i, path in enumerate(paths):
        started, used = time.perf_counter(), time.process_time()
        answer = await client.get(path, headers=headers or {"Accept": "application/json"})
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:200]}")
        if i % 50 == 49:
            await flush()
    statements = (counter[0] - before) / len(paths)
    await flush()
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": _percentile(times, 0.99) * 1000,
        "rps": len(times) / sum(times),
        # this process's CPU per request (threads too): steadier than wall time on a
        # machine shared with other work
        "cpu_ms": sum(cpu) / len(cpu) * 1000,
        "statements": statements,
    }


def run(requests: int) -> dict[str, dict[str, float]]:
    """Measure each path ``requests`` times; return the figures by path name."""
    with tempfile.TemporaryDirectory(prefix="bench-inprocess-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        _, units = seed(url, "bench-inprocess")
        ledger = Ledger.open(url, config("bench-inprocess"), clock=clock)
        counter = [0]
        for engine in {ledger.store.engines.reader, ledger.store.engines.writer}:

            @event.listens_for(engine, "before_cursor_execute")
            def _count(*_args: Any) -> None:
                counter[0] += 1

        settings = Settings.from_env({"PROVENANCE_RATE": "1e9", "PROVENANCE_BURST": "1000000"})
        app = create_app(settings, ledger=ledger)

        @app.get("/bench/bare", include_in_schema=False)
        async def bare() -> JSONResponse:
            return JSONResponse({"ok": True})

        gtin, serial = units["sold"]
        good = label.sign_label(UnitId(gtin=gtin, serial=serial), key(2))
        sold = f"/01/{gtin}/21/{serial}?s={good}&format=json"
        unknown = f"/01/{units['unknown'][0]}/21/{units['unknown'][1]}?format=json"
        forged = [
            f"/01/{gtin}/21/{serial}?s={codec.b64url_encode(os.urandom(64))}&format=json"
            for _ in range(requests)
        ]

        async def main() -> dict[str, dict[str, float]]:
            transport = httpx.ASGITransport(app=app, client=("198.51.100.1", 4000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                check = (await client.get(sold)).json()
                if check["unit"]["label"] != "valid":
                    raise SystemExit(f"the label does not verify: {check['reasons']}")
                await _measure(client, [sold] * 50, app.state.ctx.flush_scans, counter)
                out = {
                    "bare": await _measure(
                        client, ["/bench/bare"] * requests, app.state.ctx.flush_scans, counter
                    ),
                    "sold-unit": await _measure(
                        client, [sold] * requests, app.state.ctx.flush_scans, counter
                    ),
                    "fresh-forged-s": await _measure(
                        client, forged, app.state.ctx.flush_scans, counter
                    ),
                    "unknown-unit": await _measure(
                        client, [unknown] * requests, app.state.ctx.flush_scans, counter
                    ),
                    # the consumer page of the same label (a counted scan each time)
                    "page": await _measure(
                        client,
                        [sold.replace("&format=json", "")] * requests,
                        app.state.ctx.flush_scans,
                        counter,
                        PAGE,
                    ),
                }
            return out

        try:
            return asyncio.run(main())
        finally:
            ledger.close()


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    figures = run(parser.parse_args().requests)
    bare = figures["bare"]["rps"]
    print(
        f"{'path':<16} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'x bare':>7} "
        f"{'CPU ms':>7} {'SQL/req':>8}"
    )
    for name, f in figures.items():
        print(
            f"{name:<16} {f['p50_ms']:8.2f} {f['p99_ms']:8.2f} {f['rps']:8.0f} "
            f"{f['rps'] / bare:7.3f} {f['cpu_ms']:7.3f} {f['statements']:8.2f}"
        )
    page, sold = figures["page"], figures["sold-unit"]
    print(
        f"page / sold-unit JSON: {page['rps'] / sold['rps']:.3f} by req/s, "
        f"{sold['cpu_ms'] / page['cpu_ms']:.3f} by CPU per request"
    )


if __name__ == "__main__":
    main()
