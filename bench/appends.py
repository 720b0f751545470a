"""Appends per second through `Ledger.append_batch` (no HTTP), as ratios of verify/s.

    .venv/bin/python -m bench.suite --only appends [--quick]
    .venv/bin/python -m bench.appends --profile [BATCH]  # cProfile of SQLite appends only

Batches of 1,000, 100 and 1 (1,000 and 1 in a quick run), on SQLite (a temp file) and
PostgreSQL (a schema of this process, dropped afterwards; skipped with one line if the
server cannot be reached). Two streams, both pre-signed before timing (bench.streams):
commissions of fresh units, and handoff/receive pairs on existing units. Each run starts
from a fresh database holding the base world (tests.rules_factories), the Ledger runs
with that world's fixed clock, one untimed warm-up batch goes first, and the head's size
is checked afterwards. The best of two runs (one in a quick run) is kept.

Baseline: the all-core libsodium verify rate, measured right before and right after
the appends (the better of the two). These are the service's own rates, the ceiling of
the HTTP ingest figure (bench.ingest), which carries issue 9's target; here they are
details without a target.

Concurrent single appends (``append/service/{db}/commission/single-concurrent``):
1,000 (quick) or 5,000 commissions, each its own `Ledger.append` call, from `THREADS`
threads at once, so that group commit (ledger.service.groupcommit) gathers them into
shared transactions and checkpoints; 100 untimed first. Target: >= 0.1 x the verify rate
(issue 20). Batch 1 above is the same events one after another, no concurrency.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from bench import baselines, hotspots, streams
from bench.databases import PostgresTarget, SqliteTarget
from bench.figures import RESULTS, Figure, Run
from ledger.entry import SignedEvent
from ledger.service.ledger import Ledger, LogConfig
from tests.factories import LOG_SEED, key
from tests.rules_factories import NOW

FULL = {1000: 5000, 100: 5000, 1: 1000}
#: a quick run's batch-1 runs are short: on PostgreSQL each append is a durable commit
#: (~15-25 ms on these shared cores), and those rates carry no target
QUICK = {1000: 2000, 1: 100}
#: concurrent callers of the single-append figure (group commit), and its target
THREADS = 32
SINGLE_TARGET = 0.1


def open_ledger(url: str, base: Sequence[SignedEvent]) -> Ledger:
    """A ledger on ``url`` with the fixed clock, its genesis and the base world's events."""
    config = LogConfig(origin=streams.ORIGIN, operator_key=key(1), log_key=key(LOG_SEED))
    ledger = Ledger.open(url, config, clock=lambda: NOW)
    ledger.init()
    ledger.append_batch(base)
    return ledger


def unverified(events: Sequence[SignedEvent]) -> list[SignedEvent]:
    """Copies of ``events`` that remember nothing (untimed, before a timed append).

    `ledger.entry.verify_event` remembers a success on the event object itself, so a
    benchmark that appends the same objects to a second database, or in a second run,
    would time appends whose signatures are not checked again. The product's append
    always gets new objects (parsed from a request), and so does every timed append
    here."""
    return [replace(signed) for signed in events]


def append_all(ledger: Ledger, events: Sequence[SignedEvent], batch: int) -> float:
    """Append ``events`` in batches of ``batch``; return the seconds it took."""
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        ledger.append_batch(events[i : i + batch])
    return time.perf_counter() - start


@dataclass
class Workload:
    """Pre-signed events of one stream for one batch size: setup, warm-up, timed."""

    stream: str
    batch: int
    setup: list[SignedEvent]
    warm: list[SignedEvent]
    timed: list[SignedEvent]


def workloads(batches: dict[int, int]) -> list[Workload]:
    """Sign every stream for every batch size (untimed; reused on every database)."""
    out = []
    for batch, count in batches.items():
        warm = batch if batch > 1 else 20
        commissions = streams.commission_stream(f"C{batch}", warm + count)
        out.append(Workload("commission", batch, [], commissions[:warm], commissions[warm:]))
        setup, transfers = streams.custody_stream(f"H{batch}", warm + count)
        out.append(Workload("handoff+receive", batch, setup, transfers[:warm], transfers[warm:]))
    return out


def run_workload(
    target: Any, base: Sequence[SignedEvent], work: Workload, profiler: cProfile.Profile | None
) -> float:
    """Appends per second of ``work.timed`` on a fresh database of ``target``."""
    ledger = open_ledger(target.fresh(f"{work.stream[0]}{work.batch}"), base)
    try:
        append_all(ledger, work.setup, 1000)
        append_all(ledger, work.warm, work.batch)
        expected = ledger.head().size + len(work.timed)
        timed = unverified(work.timed)
        if profiler:
            profiler.enable()
        seconds = append_all(ledger, timed, work.batch)
        if profiler:
            profiler.disable()
        if ledger.head().size != expected:
            raise SystemExit(f"{work.stream} x{work.batch}: head size is not {expected}")
    finally:
        ledger.close()
    return len(work.timed) / seconds


def append_rates(
    targets: Sequence[Any], base: Sequence[SignedEvent], works: Sequence[Workload], repeats: int
) -> dict[str, float]:
    """Appends per second (best of ``repeats``) of every workload on every target."""
    rates = {}
    for target in targets:
        for work in works:
            name = f"append/service/{target.name}/{work.stream}/batch-{work.batch}"
            runs = [run_workload(target, base, work, None) for _ in range(repeats)]
            rates[name] = max(runs)
            shown = " ".join(f"{r:,.0f}" for r in runs)
            print(f"  {name}: {shown} /s ({len(work.timed):,} events per run)")
    return rates


def concurrent_singles(
    target: Any, base: Sequence[SignedEvent], events: Sequence[SignedEvent], threads: int
) -> float:
    """Single appends per second (`Ledger.append`, so group commit) from ``threads``
    concurrent callers, on a fresh database of ``target``; the head is checked after."""
    ledger = open_ledger(target.fresh("G1"), base)
    try:
        warm, timed = events[:100], unverified(events[100:])
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(ledger.append, warm))
            expected = ledger.head().size + len(timed)
            start = time.perf_counter()
            receipts = list(pool.map(ledger.append, timed))
            seconds = time.perf_counter() - start
        if ledger.head().size != expected or any(r.receipts[0].duplicate for r in receipts):
            raise SystemExit(f"concurrent singles: head size is not {expected}")
    finally:
        ledger.close()
    return len(timed) / seconds


def single_figures(
    targets: Sequence[Any], base: Sequence[SignedEvent], count: int, repeats: int, ceiling: float
) -> list[Figure]:
    """Concurrent single appends (group commit) on every target, over ``ceiling``."""
    events = streams.commission_stream("G", 100 + count)
    out = []
    for target in targets:
        name = f"append/service/{target.name}/commission/single-concurrent"
        runs = [concurrent_singles(target, base, events, THREADS) for _ in range(repeats)]
        shown = " ".join(f"{r:,.0f}" for r in runs)
        print(f"  {name}: {shown} /s ({count:,} events, {THREADS} threads)")
        out.append(Figure.ratio_at_least(name, max(runs), "appends/s", ceiling, SINGLE_TARGET))
    return out


def open_targets(run: Run) -> list[Any]:
    """SQLite always; PostgreSQL when the run's server answers."""
    targets: list[Any] = [SqliteTarget()]
    if baselines.postgres_reachable(run):
        targets.append(PostgresTarget(run.pg_url or ""))
    return targets


def figures(run: Run) -> list[Figure]:
    """Service append rates, each over the all-core libsodium verify rate around it."""
    works = workloads(run.pick(QUICK, FULL))
    base = streams.base_events(streams.base_world())
    targets = open_targets(run)
    try:
        before = baselines.verify_rate(run)
        rates = append_rates(targets, base, works, run.pick(1, 2))
        ceiling = max(before, baselines.verify_rate(run))
        singles = single_figures(targets, base, run.pick(1000, 5000), run.pick(1, 2), ceiling)
    finally:
        for target in targets:
            target.close()
    out = [Figure.info(name, rate, "appends/s", ceiling) for name, rate in rates.items()]
    return out + singles


def profile(batch: int, count: int) -> None:
    """cProfile the timed part of SQLite appends in batches of ``batch``, both streams."""
    target = SqliteTarget()
    base = streams.base_events(streams.base_world())
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        for work in workloads({batch: count}):
            profiler = cProfile.Profile()
            rate = run_workload(target, base, work, profiler)
            out = RESULTS / f"appends-{work.stream.replace('+', '-')}-{batch}.prof"
            profiler.dump_stats(out)
            print(f"\n=== sqlite {work.stream} batch-{batch}: {rate:,.0f}/s under cProfile ({out})")
            stats = pstats.Stats(profiler)
            print(hotspots.report(stats, len(work.timed)))
            stats.sort_stats("tottime").print_stats(30)
    finally:
        target.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``--profile [BATCH]``: cProfile SQLite appends (the figures run from bench.suite)."""
    parser = argparse.ArgumentParser(description="profile service appends on SQLite")
    parser.add_argument("--profile", nargs="?", const=1000, type=int, default=1000, metavar="BATCH")
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args(argv)
    profile(args.profile, args.count)


if __name__ == "__main__":
    main()
