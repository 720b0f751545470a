"""Figure 2: append -> in a signed checkpoint, p50/p99, at 0.7 x the most the server takes.

On one server (SQLite, 1 worker, bench.server) on a fresh database holding the base
world, single events go to ``POST /v1/entries`` (group commit, ledger.service.groupcommit):

1. the most it takes: a closed loop of `CLIENTS` clients, each posting its next event
   as soon as it is answered (1,500 events in a quick run, 4,000 in a full one);
2. the latency: an open-loop load paced at `LOAD` x that rate for 4 s (10 s full), event
   ``k`` due at ``start + k / rate`` and spread over `PACED_CLIENTS` connections. An
   event's latency runs from when it was due (not from when a busy client got round to
   sending it: a server that falls behind is charged its whole backlog, no coordinated
   omission) to its receipt, checked to be new and to carry a signed checkpoint that
   includes its index. The receipt is sent only after the commit that holds it.

Reported: the maximum rate (over the all-core verify rate), the paced load achieved
(over that maximum), p50, and p99 (target < 100 ms).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bench import baselines, streams
from bench.appends import open_ledger, open_targets
from bench.figures import Figure, Run
from bench.ingest import (
    CLIENTS,
    CONFIG,
    P99_TARGET_MS,
    SINGLE,
    Load,
    _check,
    percentile,
    post_all,
    single_bodies,
)
from bench.server import serve
from ledger.events import format_time

#: the paced load, as a share of the closed-loop maximum measured in the same run
LOAD = 0.7
PACED_CLIENTS = 64
#: the most events a paced load posts
MAX_PACED = 20_000


def paced(url: str, work: Sequence[bytes], rate: float, clients: int) -> Load:
    """Post ``work`` at ``rate`` events per second, spread over ``clients`` connections;
    each latency from the event's due time to its checked receipt (raises on errors)."""
    load = Load()
    lock = threading.Lock()
    start = time.perf_counter() + 0.05
    due = [start + k / rate for k in range(len(work))]
    threads = [
        threading.Thread(target=_paced_client, args=(url, work, due, j, clients, lock, load))
        for j in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - start
    if load.errors:
        raise SystemExit(f"paced load: {len(load.errors)} bad answers, first: {load.errors[0]}")
    return load


def _paced_client(
    url: str,
    work: Sequence[bytes],
    due: Sequence[float],
    first: int,
    step: int,
    lock: threading.Lock,
    load: Load,
) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    headers = {"Content-Type": "application/json"}
    try:
        for k in range(first, len(work), step):
            wait = due[k] - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            conn.request("POST", SINGLE, work[k], headers)
            response = conn.getresponse()
            data = response.read()
            took = (time.perf_counter() - due[k]) * 1000
            problem = _check(response.status, data, 1)
            with lock:
                load.latencies_ms.append(took)
                if problem:
                    load.errors.append(problem)
                else:
                    load.events += 1
    finally:
        conn.close()


def latency_figures(run: Run) -> list[Figure]:
    """The maximum single-event rate, then p50/p99 at `LOAD` x it (SQLite, 1 worker)."""
    targets = open_targets(run)[:1]
    try:
        base = streams.base_events(streams.base_world())
        url = targets[0].fresh("latency")
        open_ledger(url, base).close()
        now = format_time(datetime.now(UTC))
        warm = single_bodies(streams.commission_stream("W", 300, now))
        top = single_bodies(streams.commission_stream("M", run.pick(1500, 4000), now))
        seconds = run.pick(4, 10)
        before = baselines.verify_rate(run)
        with serve(url, CONFIG, 1) as server:
            post_all(server, warm, CLIENTS, SINGLE)
            most = post_all(server, top, CLIENTS, SINGLE)
            ceiling = most.events / most.seconds
            # signed now (untimed, the server idle): as many as the paced rate needs, not
            # the 20,000 any rate could need (seconds of signing on a loaded machine)
            count = min(MAX_PACED, max(200, round(LOAD * ceiling * seconds)))
            fleet = single_bodies(streams.commission_stream("L", count, now))
            load = paced(server, fleet, LOAD * ceiling, PACED_CLIENTS)
        verify = max(before, baselines.verify_rate(run))
    finally:
        targets[0].close()
    rate = load.events / load.seconds
    p50, p99 = percentile(load.latencies_ms, 50), percentile(load.latencies_ms, 99)
    print(
        f"  single events: at most {ceiling:,.0f}/s (verify {verify:,.0f}/s); at {rate:,.0f}/s"
        f" ({rate / ceiling:.2f} x): p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    return [
        Figure.info("latency/append-to-checkpoint/max-rate", ceiling, "events/s", verify),
        Figure.info("latency/append-to-checkpoint/load", rate, "events/s", ceiling),
        Figure.info("latency/append-to-checkpoint/p50", p50, "ms"),
        Figure.value_at_most("latency/append-to-checkpoint/p99", p99, "ms", P99_TARGET_MS),
    ]
