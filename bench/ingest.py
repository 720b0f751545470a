"""Figures 1 and 2: HTTP ingest rate, and append-to-checkpoint latency, on a real server.

Ingest (figure 1): 4,000 (quick) or 10,000 signed commissions, pre-signed and pre-encoded before timing, posted
to ``POST /v1/entries:batch`` in batches of 1,000 by ``2 x workers`` client threads
(keep-alive connections, so one batch is verified while another is written) to a
uvicorn server (bench.server) on a fresh database holding the base world: SQLite and
PostgreSQL, 1 and 2 workers. Every response must be 201 with one new receipt per event
and a checkpoint at least as large as its last index (the events are in a signed
checkpoint when the answer arrives); the head's size is checked afterwards. The server
verifies every signature and commits durably before it answers (as in production).
Baseline: the all-core libsodium verify rate, measured right before and right after each
configuration (the better of the two). Target: ingest >= 0.35 x that rate.

Latency (figure 2): the same server (SQLite, 1 worker) under a steady closed-loop load
of 4 clients posting batches of 100: each event's latency is its request's time from
send to the receipt with a signed checkpoint including it. Reported: p50, p99 (target
< 100 ms) and the load they were measured at, as a ratio of the ingest target load.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bench import baselines, streams
from bench.appends import open_ledger, open_targets
from bench.figures import Figure, Run
from bench.server import serve
from ledger.entry import SignedEvent
from ledger.events import format_time
from ledger.service.ledger import LogConfig
from tests.factories import LOG_SEED, key

RATE_TARGET = 0.35
P99_TARGET_MS = 100.0
CONFIG = LogConfig(origin=streams.ORIGIN, operator_key=key(1), log_key=key(LOG_SEED))


def bodies(events: Sequence[SignedEvent], batch: int) -> list[bytes]:
    """The request bodies of ``events`` in batches of ``batch`` (encoded before timing)."""
    return [
        json.dumps({"events": [s.to_dict() for s in events[i : i + batch]]}).encode()
        for i in range(0, len(events), batch)
    ]


@dataclass
class Load:
    """What a set of clients did: seconds, events accepted, each request's latency."""

    seconds: float = 0.0
    events: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _client(url: str, work: list[bytes], lock: threading.Lock, load: Load) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    headers = {"Content-Type": "application/json"}
    try:
        while True:
            with lock:
                if not work:
                    return
                body = work.pop()
            start = time.perf_counter()
            conn.request("POST", "/v1/entries:batch", body, headers)
            response = conn.getresponse()
            data = response.read()
            took = (time.perf_counter() - start) * 1000
            problem = _check(response.status, data, body.count(b'"sig"'))
            with lock:
                load.latencies_ms.append(took)
                if problem:
                    load.errors.append(problem)
                else:
                    load.events += body.count(b'"sig"')
    finally:
        conn.close()


def _check(status: int, data: bytes, expected: int) -> str | None:
    """Why a batch answer is wrong (None if it is a full, new, checkpointed receipt)."""
    if status != 201:
        return f"HTTP {status}: {data[:300]!r}"
    answer: dict[str, Any] = json.loads(data)
    receipts = answer["receipts"]
    if len(receipts) != expected or any(r["duplicate"] for r in receipts):
        return "a receipt is missing or duplicate"
    checkpoint_size = int(answer["checkpoint"].split("\n")[1])
    if checkpoint_size <= max(r["index"] for r in receipts):
        return "the checkpoint does not include the batch"
    return None


def post_all(url: str, work: Sequence[bytes], clients: int) -> Load:
    """Post every body with ``clients`` threads; return what happened (raises on errors)."""
    queue = list(reversed(work))
    lock = threading.Lock()
    load = Load()
    threads = [
        threading.Thread(target=_client, args=(url, queue, lock, load)) for _ in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - start
    if load.errors:
        raise SystemExit(f"ingest: {len(load.errors)} bad answers, first: {load.errors[0]}")
    return load


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _ingest_once(target: Any, workers: int, count: int, batch: int) -> float:
    """Events per second through the HTTP API on a fresh database of ``target``."""
    base = streams.base_events(streams.base_world())
    url = target.fresh(f"ingest{workers}")
    open_ledger(url, base).close()
    now = format_time(datetime.now(UTC))
    warm = bodies(streams.commission_stream("W", batch * workers * 2, now), batch)
    timed = bodies(streams.commission_stream("I", count, now), batch)
    with serve(url, CONFIG, workers) as server:
        post_all(server, warm, 2 * workers)
        load = post_all(server, timed, 2 * workers)
    if load.events != count:
        raise SystemExit(f"ingest: {load.events} of {count} events accepted")
    return load.events / load.seconds


def figures(run: Run) -> list[Figure]:
    """Ingest rates (SQLite/PostgreSQL x 1/2 workers) over the verify rate around each."""
    count = run.pick(4000, 10_000)
    out = []
    targets = open_targets(run)
    try:
        for target in targets:
            for workers in (1, 2):
                before = baselines.verify_rate(run)
                rate = _ingest_once(target, workers, count, 1000)
                ceiling = max(before, baselines.verify_rate(run))
                name = f"ingest/http/{target.name}/{workers}-worker{'s' if workers > 1 else ''}"
                print(f"  {name}: {rate:,.0f} events/s (verify all cores {ceiling:,.0f}/s)")
                out.append(Figure.ratio_at_least(name, rate, "events/s", ceiling, RATE_TARGET))
    finally:
        for target in targets:
            target.close()
    return out


def latency_figures(run: Run) -> list[Figure]:
    """Append-to-checkpoint latency, p50 and p99, under a steady load (SQLite, 1 worker)."""
    targets = open_targets(run)[:1]
    try:
        base = streams.base_events(streams.base_world())
        url = targets[0].fresh("latency")
        open_ledger(url, base).close()
        now = format_time(datetime.now(UTC))
        count = run.pick(3000, 10_000)
        warm = bodies(streams.commission_stream("W", 400, now), 100)
        timed = bodies(streams.commission_stream("L", count, now), 100)
        before = baselines.verify_rate(run)
        with serve(url, CONFIG, 1) as server:
            post_all(server, warm, 4)
            load = post_all(server, timed, 4)
        ceiling = max(before, baselines.verify_rate(run))
    finally:
        targets[0].close()
    rate = load.events / load.seconds
    p50, p99 = percentile(load.latencies_ms, 50), percentile(load.latencies_ms, 99)
    print(f"  latency at {rate:,.0f} events/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    target_load = RATE_TARGET * ceiling
    return [
        Figure.info("latency/append-to-checkpoint/load", rate, "events/s", target_load),
        Figure.info("latency/append-to-checkpoint/p50", p50, "ms"),
        Figure.value_at_most("latency/append-to-checkpoint/p99", p99, "ms", P99_TARGET_MS),
    ]
