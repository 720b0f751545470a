"""Figure 3: resolver JSON requests/s and p50/p99 at 64 clients, against a bare endpoint.

Seeds a small log on SQLite (tests.e2e.server.seed: the base world plus a sold and a
recalled unit), serves it with one uvicorn worker (bench.server: the real app plus
``GET /bench/bare`` on the same server), and drives it with ``wrk -t2 -c64``, on the
same 2-core machine (so the load generator takes CPU from the server too). The bare
baseline runs right before and right after the resolver; the better of the two is the
baseline (the stricter ratio). Targets: resolver >= 0.5 x bare, p99 < 50 ms.

    .venv/bin/python -m bench.suite --only resolver [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.figures import Figure, Run
from bench.server import serve, wrk_run
from tests.e2e.server import seed
from tests.integration.world import config

RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0


def bare_and_resolver(run: Run) -> tuple[dict[str, float], dict[str, float]]:
    """Measure (bare, resolver) on one server: bare, resolver, bare; the best bare."""
    seconds = run.pick(4, 15)
    with tempfile.TemporaryDirectory(prefix="bench-resolver-") as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        name = "bench-resolver"
        _, units = seed(url_db, name)
        with serve(url_db, config(name)) as base:
            gtin, serial = units["sold"]
            wrk_run(f"{base}/bench/bare", 1)  # warm-up: connections, imports, caches
            wrk_run(f"{base}/01/{gtin}/21/{serial}", 1)
            before = wrk_run(f"{base}/bench/bare", seconds)
            resolver = wrk_run(f"{base}/01/{gtin}/21/{serial}", seconds)
            after = wrk_run(f"{base}/bench/bare", seconds)
    if resolver["non_2xx"] or before["non_2xx"] or after["non_2xx"]:
        raise SystemExit(f"resolver benchmark: non-2xx answers {resolver} {before} {after}")
    bare = max(before, after, key=lambda r: r["rps"])
    print(
        f"  bare {before['rps']:,.0f} / {after['rps']:,.0f} req/s, resolver {resolver['rps']:,.0f}"
    )
    return bare, resolver


def figures(run: Run) -> list[Figure]:
    """The bare baseline and the resolver's throughput, p50 and p99."""
    bare, resolver = run.shared("bare-and-resolver", lambda: bare_and_resolver(run))
    return [
        Figure.info("baseline/http/bare-endpoint/64-clients", bare["rps"], "req/s"),
        Figure.info("baseline/http/bare-endpoint/64-clients/p99", bare["p99_ms"], "ms"),
        Figure.ratio_at_least(
            "resolver/json/64-clients", resolver["rps"], "req/s", bare["rps"], RATIO_TARGET
        ),
        Figure.info("resolver/json/64-clients/p50", resolver["p50_ms"], "ms", bare["p50_ms"]),
        Figure.value_at_most(
            "resolver/json/64-clients/p99", resolver["p99_ms"], "ms", P99_TARGET_MS, bare["p99_ms"]
        ),
    ]
