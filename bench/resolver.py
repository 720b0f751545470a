"""Figure 3: the resolver's JSON requests/s and latency against a bare endpoint.

Seeds a small log on SQLite (tests.e2e.server.seed: the base world plus a sold and a
recalled unit), serves it with uvicorn (bench.server: the real app plus
``GET /bench/bare`` on the same server, first in its route table, as the resolver's own
route is), and drives it on the same 2-core machine (so
the load generators take CPU from the server too). Every figure is a ratio to the
bare endpoint measured in the same run, or has its target stated against it:

- ``resolver/json/64-clients``: ``wrk -t2 -c64`` on a sold unit's resolver URL carrying
  its label's valid signature (as a printed label is scanned), >= 0.5 x bare; the bare
  baseline runs right before and right after the resolver and the better of the two
  is the baseline (the stricter ratio);
- ``resolver/json/64-clients/p99``: its p99, <= 2 x the bare endpoint's p99;
- ``resolver/json/unknown-unit``: an unknown unit, >= 0.5 x bare;
- ``resolver/page/64-clients``: the consumer page (``Accept: text/html``, Chinese) for the
  same label, >= 0.8 x the JSON figure; the page runs between two JSON runs and is held
  to their mean, so a drift of the machine over the run weighs on both sides alike
  (each path has its warm-up first: the page's queues scans, so both are measured on
  a unit that is being scanned);
- ``resolver/json/open-loop-p99``: requests sent at a fixed rate of 0.4 x the bare
  throughput (bench.resolver_openloop: latency from each request's due time, no
  coordinated omission), p99 <= 50 ms;
- ``resolver/json/2-workers``: the same wrk load on two workers against one, each
  worker on its own ``SO_REUSEPORT`` socket, in paired rounds (bench.resolver_workers:
  the median of three), >= 1.6x;
- ``resolver/json/1000-entry-unit``: the same load on a unit with 1,000 entries (its
  commission and 999 inspections; ~1.3 MB of JSON with every entry's inclusion proof,
  ~0.25 MB as the gzip answer every JSON run here asks for, as apps and browsers do),
  >= 0.25 x bare; ``.../uncompressed`` (no target) is the same load taking no gzip.

    .venv/bin/python -m bench.suite --only resolver [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.figures import Figure, Run
from bench.resolver_openloop import open_loop
from bench.resolver_workers import median_round, paired_rounds
from bench.server import IDENTITY_JSON, serve, wrk_run
from ledger import label
from ledger.gs1 import UnitId
from tests.e2e.server import GTIN, seed
from tests.factories import key
from tests.integration.world import LedgerWorld, config
from tests.rules_factories import NOW

RATIO_TARGET = 0.5
#: the resolver's p99 at 64 clients, at most this many times the bare endpoint's
P99_RATIO_TARGET = 2.0
#: the open-loop rate, as a share of the bare endpoint's throughput ...
OPEN_LOOP_SHARE = 0.4
#: ... and the p99 it must keep (ms)
P99_TARGET_MS = 50.0
WORKERS_TARGET = 1.6
#: the consumer page at 64 clients, at least this share of the JSON figure
PAGE_TARGET = 0.8
#: the long unit's figure, at least this share of the bare endpoint ...
LONG_TARGET = 0.25
#: ... and its entries
LONG_ENTRIES = 1000
LONG_SERIAL = "LONG-1"
#: what a phone's browser asks for: the consumer page
BROWSER = (
    'wrk.headers["Accept"] = "text/html"\nwrk.headers["Accept-Language"] = "zh-CN"\n'
    'wrk.headers["Accept-Encoding"] = "gzip, deflate, br"\n'
)

Measured = dict[str, dict[str, float]]


def long_unit(world: LedgerWorld) -> None:
    """Append a unit of `LONG_ENTRIES` entries in one batch: acme's commission, then
    the inspector's inspections (each signed on the unit's head)."""
    w = world.world
    unit = {"gtin": GTIN, "serial": LONG_SERIAL}
    events = [w.sign("commission", "acme", unit=unit, prev=None)]
    w.accept(events[0], NOW)
    for _ in range(LONG_ENTRIES - 1):
        events.append(w.on_unit("inspect", "insp", serial=LONG_SERIAL, result="pass"))
        w.accept(events[-1], NOW)
    world.ledger.append_batch(events, NOW)


def bare_and_resolver(run: Run) -> Measured:
    """Measure on one server: bare, the resolver with the label's valid signature, an
    the page, the resolver again, an unknown unit, the 1,000-entry unit, bare, the open-loop
    load; then the resolver on two workers. Keys: bare (the better bare run), before,
    after, resolver, resolver_again, unknown, page, long_unit, open_loop,
    two_workers and one_worker (the median of bench.resolver_workers's paired rounds).
    """
    seconds = run.pick(4, 15)
    with tempfile.TemporaryDirectory(prefix="bench-resolver-") as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        name = "bench-resolver"
        _, units = seed(url_db, name, then=long_unit)
        gtin, serial = units["sold"]
        # a scan of the printed label: its brand's signature (acme, key seed 2)
        signed = label.sign_label(UnitId(gtin=gtin, serial=serial), key(2))
        path = f"/01/{gtin}/21/{serial}?s={signed}"
        long_signed = label.sign_label(UnitId(gtin=GTIN, serial=LONG_SERIAL), key(2))
        with serve(url_db, config(name)) as base:
            url = f"{base}{path}"
            nowhere = f"{base}/01/{units['unknown'][0]}/21/{units['unknown'][1]}"
            long = f"{base}/01/{GTIN}/21/{LONG_SERIAL}?s={long_signed}"
            wrk_run(f"{base}/bench/bare", 1)  # warm-up: connections, imports, caches
            wrk_run(url, 1)
            wrk_run(url, 1, script=BROWSER)
            wrk_run(nowhere, 1)
            wrk_run(long, 1)
            before = wrk_run(f"{base}/bench/bare", seconds)
            resolver = wrk_run(url, seconds)
            page = wrk_run(url, seconds, script=BROWSER)
            resolver_again = wrk_run(url, seconds)
            unknown = wrk_run(nowhere, seconds)
            long_unit_run = wrk_run(long, seconds)
            long_identity = wrk_run(long, seconds, script=IDENTITY_JSON)
            after = wrk_run(f"{base}/bench/bare", seconds)
            bare = max(before, after, key=lambda r: r["rps"])
            opened = open_loop(url, OPEN_LOOP_SHARE * bare["rps"], seconds)
        workers = median_round(paired_rounds(url_db, config(name), path, seconds))
    two = {"rps": workers["two"], "p99_ms": workers["two_p99"], "non_2xx": 0.0}
    one = {"rps": workers["one"], "p99_ms": workers["one_p99"], "non_2xx": 0.0}
    measured = {
        "bare": bare,
        "before": before,
        "after": after,
        "resolver": resolver,
        "resolver_again": resolver_again,
        "unknown": unknown,
        "page": page,
        "long_unit": long_unit_run,
        "long_identity": long_identity,
        "open_loop": opened,
        "two_workers": two,
        "one_worker": one,
    }
    if any(r["non_2xx"] for r in measured.values()):
        raise SystemExit(f"resolver benchmark: non-2xx answers {measured}")
    print(
        f"  bare {before['rps']:,.0f} / {after['rps']:,.0f} req/s, resolver "
        f"{resolver['rps']:,.0f} / {resolver_again['rps']:,.0f}, unknown {unknown['rps']:,.0f}, open loop "
        f"{opened['achieved']:,.0f} of {opened['rate']:,.0f} req/s p99 {opened['p99_ms']:.1f} ms, "
        f"2 workers {two['rps']:,.0f} against 1 {one['rps']:,.0f} (median of paired rounds), "
        f"page {page['rps']:,.0f}, {LONG_ENTRIES:,}-entry unit {long_unit_run['rps']:,.0f} "
        f"(uncompressed {long_identity['rps']:,.0f})"
    )
    return measured


def figures(run: Run) -> list[Figure]:
    """The bare baseline and the resolver's throughput, latency and scaling."""
    m = run.shared("bare-and-resolver", lambda: bare_and_resolver(run))
    bare, resolver, opened = m["bare"], m["resolver"], m["open_loop"]
    return [
        Figure.info("baseline/http/bare-endpoint/64-clients", bare["rps"], "req/s"),
        Figure.info("baseline/http/bare-endpoint/64-clients/p99", bare["p99_ms"], "ms"),
        Figure.ratio_at_least(
            "resolver/json/64-clients", resolver["rps"], "req/s", bare["rps"], RATIO_TARGET
        ),
        Figure.info("resolver/json/64-clients/p50", resolver["p50_ms"], "ms", bare["p50_ms"]),
        Figure.ratio_at_most(
            "resolver/json/64-clients/p99",
            resolver["p99_ms"],
            "ms",
            bare["p99_ms"],
            P99_RATIO_TARGET,
        ),
        Figure.ratio_at_least(
            "resolver/json/unknown-unit", m["unknown"]["rps"], "req/s", bare["rps"], RATIO_TARGET
        ),
        Figure.ratio_at_least(
            "resolver/page/64-clients",
            m["page"]["rps"],
            "req/s",
            (resolver["rps"] + m["resolver_again"]["rps"]) / 2,
            PAGE_TARGET,
        ),
        Figure.info("resolver/json/open-loop-rate", opened["achieved"], "req/s", opened["rate"]),
        Figure.value_at_most(
            "resolver/json/open-loop-p99", opened["p99_ms"], "ms", P99_TARGET_MS, bare["p99_ms"]
        ),
        Figure.ratio_at_least(
            "resolver/json/2-workers",
            m["two_workers"]["rps"],
            "req/s",
            m["one_worker"]["rps"],
            WORKERS_TARGET,
        ),
        Figure.ratio_at_least(
            f"resolver/json/{LONG_ENTRIES}-entry-unit",
            m["long_unit"]["rps"],
            "req/s",
            bare["rps"],
            LONG_TARGET,
        ),
        Figure.info(
            f"resolver/json/{LONG_ENTRIES}-entry-unit/uncompressed",
            m["long_identity"]["rps"],
            "req/s",
            bare["rps"],
        ),
    ]
