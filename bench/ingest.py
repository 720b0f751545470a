"""Figures 1 and 2: HTTP ingest rate, and append-to-checkpoint latency, on a real server.

Ingest (figure 1): 8,000 (quick) or 20,000 signed commissions, pre-signed and
pre-encoded before timing, posted to ``POST /v1/entries:batch`` in batches of 1,000 by
``2 x workers`` client threads (two requests in flight a worker, so one batch is verified
while another is written; each client posts at least two batches, so the figure is a
rate, not the time of one wave of requests) to a uvicorn server (bench.server) on a
fresh database holding the base world: SQLite and PostgreSQL, 1 and 2 workers. With 2
workers each request goes on a new connection: the kernel's ``SO_REUSEPORT`` hash picks
a worker per connection, so the 4 keep-alive connections of before all went to one
worker one time in 8 (and 3 to 1 one time in 2) for the whole run, as many clients
would not. The warm-up brings the server to its steady state first (`_warm_up`). Every response must be 201 with one new receipt per event
and a checkpoint at least as large as its last index (the events are in a signed
checkpoint when the answer arrives); the head's size is checked afterwards. The server
verifies every signature and commits durably before it answers (as in production).
Baseline: the all-core libsodium verify rate, measured right before and right after each
configuration (the better of the two). Target: ingest >= 0.35 x that rate.

Single events (figure 1, ``ingest/http/{sqlite,postgresql}/single-events``): signed
commissions posted one per request to ``POST /v1/entries`` on `CLIENTS` keep-alive
connections, 1 worker: group commit (ledger.service.groupcommit) gathers them into
shared transactions. The clients are wrk's (bench.wrkposts: C, a Lua script posting
each pre-made body once, for 2 s quick or 5 s full; ~55-110 us of CPU a request where
the Python client threads took ~200-300 us of the same two cores, docs/PERFORMANCE.md
"single34"); where wrk is not installed, one line says so and the Python client threads
post 1,500 (quick) or 4,000. Every answer must be a new receipt in a checkpoint
including it, else the figure fails. Same baseline; target >= 0.1 x the verify rate.
1 worker, not 2: a second worker on these two cores halves each process's groups, and
each group's fixed cost then nearly doubles the CPU a request (server and PostgreSQL
alike; "single34"). Beside it, as details: the events' p99 latency (``-p99``), and the
ceiling of this stack measured on the same server right after
(``...-single-events-bare-post``): the same bodies posted to ``POST /bench/bare``
(bench.resolver_app), which reads and parses the body and answers a constant receipt:
uvicorn, FastAPI and the app's middleware, nothing else.

Latency (figure 2) lives in bench.latency.
"""

from __future__ import annotations

import contextlib
import gc
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bench import baselines, streams, wrkposts
from bench.appends import open_ledger, open_targets
from bench.figures import Figure, Run
from bench.server import map_children, map_children_settled, serve
from ledger.entry import SignedEvent
from ledger.events import format_time
from ledger.service.ledger import LogConfig
from tests.factories import LOG_SEED, key

RATE_TARGET = 0.35
#: single events, concurrent (group commit): over the all-core verify rate (issue 20)
SINGLE_TARGET = 0.1
BATCH, SINGLE = "/v1/entries:batch", "/v1/entries"
#: the same server's bare write (bench.resolver_app): the single-event figure's ceiling
BARE = "/bench/bare"
#: concurrent single-event clients (each its own keep-alive connection)
CLIENTS = 32
#: seconds wrk posts single events (quick run, full run)
SINGLE_SECONDS = (2, 5)
#: seconds wrk posts them to the bare route (a detail: its rate is steady within one)
BARE_SECONDS = 1
#: the single-event rate wrk's bodies are made for (a faster server runs out: the figure
#: fails, saying so); ~1.3x the bare POST's rate on a quiet 2-core machine
SINGLE_MOST = 8000
#: at most this many warm-up rounds (2 batches a client each, or 200 single events)
#: before the timed posts
WARM_ROUNDS = 6
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


def _client(
    url: str, work: list[bytes], lock: threading.Lock, load: Load, path: str, reconnect: bool
) -> None:
    parts = urlsplit(url)

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)

    conn = connect()
    headers = {"Content-Type": "application/json"}
    try:
        while True:
            with lock:
                if not work:
                    return
                body = work.pop()
            if reconnect:  # a new connection: the kernel picks the worker anew
                conn.close()
                conn = connect()
            start = time.perf_counter()
            conn.request("POST", path, body, headers)
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


def post_all(
    url: str, work: Sequence[bytes], clients: int, path: str = BATCH, reconnect: bool = False
) -> Load:
    """Post every body to ``path`` with ``clients`` threads, each as fast as answered
    (on one keep-alive connection, or a new one a request with ``reconnect``); return
    what happened (raises on errors)."""
    queue = list(reversed(work))
    lock = threading.Lock()
    load = Load()
    threads = [
        threading.Thread(target=_client, args=(url, queue, lock, load, path, reconnect))
        for _ in range(clients)
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


@contextlib.contextmanager
def _client_heap_frozen() -> Iterator[None]:
    """The client's own heap (the pre-encoded bodies, the streams' events, the suite's
    results) moved out of the cyclic collector's reach while the client threads run:
    a full collection of it in the timed window (~75 ms on a heap of ~150,000 objects,
    with the GIL held, so no client thread sent or read meanwhile) landed there or not
    depending on how many objects the client had made before, i.e. on the code under
    test: it moved a 2-worker figure by ~6 % from run to run of the same code
    (docs/PERFORMANCE.md, "ingest29"). The server is not the client: its heap is its
    own (api.heap)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _ingest_once(target: Any, workers: int, count: int, batch: int) -> float:
    """Events per second through the HTTP API on a fresh database of ``target``."""
    base = streams.base_events(streams.base_world())
    url = target.fresh(f"ingest{workers}")
    open_ledger(url, base).close()
    now = format_time(datetime.now(UTC))
    timed = bodies(streams.commission_stream("I", count, now), batch)
    with serve(url, CONFIG, workers) as server:
        _warm_up(server, workers, batch, now)
        with _client_heap_frozen():
            load = post_all(server, timed, 2 * workers, reconnect=workers > 1)
    if load.events != count:
        raise SystemExit(f"ingest: {load.events} of {count} events accepted")
    return load.events / load.seconds


def _warm_up(server: str, workers: int, batch: int, now: str) -> None:
    """Bring the server to the steady state of one that keeps ingesting large batches:
    two batches a client a round (`_rounds_until_settled`); a worker's map child starts
    at its second large batch, and which worker a connection reaches is the kernel's
    choice. A child imports for ~0.6 s of CPU; timed, that start took a core from the
    first batches and moved the 2-worker figure by up to a third (docs/PERFORMANCE.md,
    "Session 32")."""

    def round_(number: int) -> None:
        events = streams.commission_stream(f"W{number}", batch * workers * 2, now)
        post_all(server, bodies(events, batch), 2 * workers, reconnect=workers > 1)

    _rounds_until_settled(round_, workers)


def warm_singles(server: str, now: str, tag: str = "WS") -> None:
    """Bring a server taking single events to the steady state of one that keeps taking
    them: 200 single events from `CLIENTS` client threads a round
    (`_rounds_until_settled`); its map child starts at the first group of
    ``GROUP_EARLY_FROM`` new units. Timed, that child's start took a core from a
    2-second figure and moved single events by ~15 % (2,422 / 2,365 -> 2,794 / 2,682
    events/s, docs/PERFORMANCE.md "spread52"), as `_warm_up` found for batches."""

    def round_(number: int) -> None:
        events = streams.commission_stream(f"{tag}{number}", 200, now)
        post_all(server, single_bodies(events), CLIENTS, SINGLE)

    _rounds_until_settled(round_, 1)


def _rounds_until_settled(round_: Callable[[int], None], workers: int) -> None:
    """Run warm-up rounds (``round_(number)``), at least one and at most `WARM_ROUNDS`,
    until each of the ``workers`` has started its map child (ledger.service.mapworker),
    then wait until the children have settled (each imported, connected and idle)."""
    for number in range(WARM_ROUNDS):
        round_(number)
        if len(map_children()) >= workers:
            break
    if not map_children_settled(workers):
        print(f"  (warm-up: {len(map_children())} of {workers} map children settled)")


def single_bodies(events: Sequence[SignedEvent]) -> list[bytes]:
    """One ``POST /v1/entries`` body per event (encoded before timing)."""
    return [json.dumps(s.to_dict()).encode() for s in events]


@dataclass(frozen=True)
class Singles:
    """The single-event figure's run: events/s, the bare POST's requests/s on the same
    server, the events' latency (ms) and the client that posted them."""

    rate: float
    bare: float
    p50_ms: float
    p99_ms: float
    client: str


def single_rate(
    target: Any, now: str, timed: Sequence[bytes], seconds: int, by_wrk: bool
) -> Singles:
    """Single events per second through ``POST /v1/entries`` (group commit) from
    `CLIENTS` concurrent clients, 1 worker, on a fresh database of ``target`` once warmed
    up (`warm_singles`, its events signed at ``now`` as ``timed`` were); and, on
    the same server right after, the same bodies per second through ``POST /bench/bare``
    (bench.resolver_app: body read and parsed, a constant receipt; no quota, signature
    or database), the HTTP stack's own ceiling for these requests.

    With ``by_wrk`` the clients are wrk's connections (bench.wrkposts) posting for
    ``seconds``, each of ``timed`` at most once; else the Python client threads post
    all of ``timed``. Every answer must be a new receipt in a checkpoint including it;
    raises SystemExit otherwise (or when wrk ran out of bodies)."""
    base = streams.base_events(streams.base_world())
    url = target.fresh("singles")
    open_ledger(url, base).close()
    with serve(url, CONFIG, 1) as server:
        warm_singles(server, now)
        with _client_heap_frozen():
            if by_wrk:
                load = wrkposts.post_each(server + SINGLE, timed, seconds, CLIENTS)
                bare = wrkposts.post_each(server + BARE, timed, BARE_SECONDS, CLIENTS)
            else:
                threads = post_all(server, timed, CLIENTS, SINGLE)
                bare_threads = post_all(server, timed, CLIENTS, BARE)
    if not by_wrk:
        if threads.events != len(timed):
            raise SystemExit(f"single events: {threads.events} of {len(timed)} accepted")
        return Singles(
            threads.events / threads.seconds,
            bare_threads.events / bare_threads.seconds,
            percentile(threads.latencies_ms, 50),
            percentile(threads.latencies_ms, 99),
            "Python threads",
        )
    for posted, what in ((load, "single events"), (bare, "bare POSTs")):
        if posted.refused:
            raise SystemExit(
                f"{what}: {posted.refused} answers not a new receipt (the first: HTTP "
                f"{posted.first_status}) beside {posted.created} new ones"
            )
        if posted.ran_out:
            raise SystemExit(
                f"{what}: wrk posted all {len(timed)} bodies before its run ended "
                f"(more than {len(timed) / posted.seconds:,.0f}/s): raise SINGLE_MOST"
            )
    return Singles(load.rate, bare.rate, load.p50_ms, load.p99_ms, "wrk")


def _single_bodies_for(run: Run) -> tuple[str, list[bytes], int, bool]:
    """The single-event figure's signing time (the warm-up's events are signed at it
    too) and timed bodies (one set for every target: each posts them to a fresh
    database), wrk's seconds, and whether wrk posts them (else, said in one line, the
    Python client threads)."""
    by_wrk = wrkposts.available()
    seconds = run.pick(*SINGLE_SECONDS)
    if not by_wrk:
        print(
            "  (wrk is not installed: single events posted by the Python client threads, "
            "whose own CPU shares the cores with the server; `make bench-sysdeps` installs it)"
        )
    count = seconds * SINGLE_MOST if by_wrk else run.pick(1500, 4000)
    now = format_time(datetime.now(UTC))
    return now, single_bodies(streams.commission_stream("S", count, now)), seconds, by_wrk


def figures(run: Run) -> list[Figure]:
    """Ingest rates (SQLite/PostgreSQL x 1/2 workers, batches of 1,000; and single events
    from concurrent clients, 1 worker, with their p99 and the bare POST's rate) over the
    verify rate around each."""
    count = run.pick(8000, 20_000)
    out = []
    targets = open_targets(run)
    now, timed, seconds, by_wrk = _single_bodies_for(run)
    try:
        for target in targets:
            for workers in (1, 2):
                before = baselines.verify_rate(run)
                rate = _ingest_once(target, workers, count, 1000)
                ceiling = max(before, baselines.verify_rate(run))
                name = f"ingest/http/{target.name}/{workers}-worker{'s' if workers > 1 else ''}"
                print(f"  {name}: {rate:,.0f} events/s (verify all cores {ceiling:,.0f}/s)")
                out.append(Figure.ratio_at_least(name, rate, "events/s", ceiling, RATE_TARGET))
            before = baselines.verify_rate(run)
            singles = single_rate(target, now, timed, seconds, by_wrk)
            ceiling = max(before, baselines.verify_rate(run))
            name = f"ingest/http/{target.name}/single-events"
            rate, bare = singles.rate, singles.bare
            print(
                f"  {name}: {rate:,.0f} events/s, p50 {singles.p50_ms:.1f} ms, p99 "
                f"{singles.p99_ms:.1f} ms, by {singles.client} (verify all cores "
                f"{ceiling:,.0f}/s; bare POST on the same server {bare:,.0f}/s, "
                f"{rate / bare:.2f} of it)"
            )
            out.append(Figure.ratio_at_least(name, rate, "events/s", ceiling, SINGLE_TARGET))
            out.append(Figure.info(f"{name}-bare-post", bare, "requests/s", ceiling))
            out.append(Figure.info(f"{name}-p99", singles.p99_ms, "ms"))
    finally:
        for target in targets:
            target.close()
    return out
