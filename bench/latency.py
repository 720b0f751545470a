"""Figure 2: append -> in a signed checkpoint, p50/p99, at 0.7 x the most the server takes.

On one server (SQLite, 1 worker, bench.server) on a fresh database holding the base
world, warmed up as the single-event ingest figure's (`bench.ingest.warm_singles`),
single events go to ``POST /v1/entries`` (group commit, ledger.service.groupcommit):

1. the most it takes: a closed loop of `CLIENTS` clients, each posting its next event
   as soon as it is answered (1,500 events in a quick run, 4,000 in a full one);
2. the latency: an open-loop load paced at `LOAD` x that rate for 4 s (10 s full), event
   ``k`` due at ``start + k / rate``, sent by the open-loop client of the resolver figure
   (bench.resolver_openloop: one event loop, 64 keep-alive connections). An
   event's latency runs from when it was due (not from when a busy client got round to
   sending it: a server that falls behind is charged its whole backlog, no coordinated
   omission) to its receipt, checked to be new and to carry a signed checkpoint that
   includes its index. The receipt is sent only after the commit that holds it.

Reported: the maximum rate (over the all-core verify rate), the paced load achieved
(over that maximum), p50, and p99 (target < 100 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

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
    warm_singles,
)
from bench.resolver_openloop import post, scheduled
from bench.server import serve
from ledger.events import format_time

#: the paced load, as a share of the closed-loop maximum measured in the same run
LOAD = 0.7
#: the most events a paced load posts
MAX_PACED = 20_000


def paced(url: str, work: Sequence[bytes], rate: float) -> Load:
    """Post ``work`` at ``rate`` events per second, spread over the open-loop client's
    keep-alive connections (bench.resolver_openloop); each latency from the event's due
    time to its receipt read whole, every receipt checked after the load (raises on
    errors)."""
    requests = [post(f"{url}{SINGLE}", body) for body in work]
    answers = scheduled(url, requests, rate, keep=True)
    load = Load()
    load.seconds = answers.seconds
    load.latencies_ms = [seconds * 1000 for seconds in answers.latencies]
    for status, data in zip(answers.statuses, answers.bodies, strict=True):
        problem = _check(status, data, 1)
        if problem:
            load.errors.append(problem)
        else:
            load.events += 1
    if load.errors:
        raise SystemExit(f"paced load: {len(load.errors)} bad answers, first: {load.errors[0]}")
    return load


def latency_figures(run: Run) -> list[Figure]:
    """The maximum single-event rate, then p50/p99 at `LOAD` x it (SQLite, 1 worker)."""
    targets = open_targets(run)[:1]
    try:
        base = streams.base_events(streams.base_world())
        url = targets[0].fresh("latency")
        open_ledger(url, base).close()
        now = format_time(datetime.now(UTC))
        top = single_bodies(streams.commission_stream("M", run.pick(1500, 4000), now))
        seconds = run.pick(4, 10)
        before = baselines.verify_rate(run)
        with serve(url, CONFIG, 1) as server:
            warm_singles(server, now, "W")  # its map child settled, as the ingest figure's
            most = post_all(server, top, CLIENTS, SINGLE)
            ceiling = most.events / most.seconds
            # signed now (untimed, the server idle): as many as the paced rate needs, not
            # the 20,000 any rate could need (seconds of signing on a loaded machine)
            count = min(MAX_PACED, max(200, round(LOAD * ceiling * seconds)))
            fleet = single_bodies(streams.commission_stream("L", count, now))
            load = paced(server, fleet, LOAD * ceiling)
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
