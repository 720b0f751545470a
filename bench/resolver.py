"""Figure 3: resolver JSON requests/s and p50/p99 at 64 clients, against a bare endpoint.

Seeds a small log on SQLite (tests.e2e.server.seed: the base world plus a sold and a
recalled unit), serves it with one uvicorn worker (bench.server: the real app plus
``GET /bench/bare`` on the same server), and drives it with ``wrk -t2 -c64``, on the
same 2-core machine (so the load generator takes CPU from the server too). The bare
baseline runs right before and right after the resolver; the better of the two is the
baseline (the stricter ratio). The resolver's requests carry the label's valid
signature, as a printed label does; an unknown unit is measured too. Targets:
resolver >= 0.5 x bare, p99 < 50 ms; unknown unit >= 0.5 x bare.

    .venv/bin/python -m bench.suite --only resolver [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.figures import Figure, Run
from bench.server import serve, wrk_run
from ledger import label
from ledger.gs1 import UnitId
from tests.e2e.server import seed
from tests.factories import key
from tests.integration.world import config

RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0


def bare_and_resolver(
    run: Run,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Measure (bare, resolver, unknown unit) on one server: bare, resolver with the
    label's valid signature, an unknown unit, bare; the best bare."""
    seconds = run.pick(4, 15)
    with tempfile.TemporaryDirectory(prefix="bench-resolver-") as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        name = "bench-resolver"
        _, units = seed(url_db, name)
        with serve(url_db, config(name)) as base:
            gtin, serial = units["sold"]
            # a scan of the printed label: its brand's signature (acme, key seed 2)
            signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(2))
            url = f"{base}/01/{gtin}/21/{serial}?s={signed}"
            nowhere = f"{base}/01/{units['unknown'][0]}/21/{units['unknown'][1]}"
            wrk_run(f"{base}/bench/bare", 1)  # warm-up: connections, imports, caches
            wrk_run(url, 1)
            before = wrk_run(f"{base}/bench/bare", seconds)
            resolver = wrk_run(url, seconds)
            unknown = wrk_run(nowhere, seconds)
            after = wrk_run(f"{base}/bench/bare", seconds)
    runs = (resolver, unknown, before, after)
    if any(r["non_2xx"] for r in runs):
        raise SystemExit(f"resolver benchmark: non-2xx answers {runs}")
    bare = max(before, after, key=lambda r: r["rps"])
    print(
        f"  bare {before['rps']:,.0f} / {after['rps']:,.0f} req/s, resolver {resolver['rps']:,.0f}"
    )
    return bare, resolver, unknown


def figures(run: Run) -> list[Figure]:
    """The bare baseline and the resolver's throughput, p50 and p99."""
    bare, resolver, unknown = run.shared("bare-and-resolver", lambda: bare_and_resolver(run))
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
        Figure.ratio_at_least(
            "resolver/json/unknown-unit", unknown["rps"], "req/s", bare["rps"], RATIO_TARGET
        ),
    ]
