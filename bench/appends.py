"""Appends per second and bytes per entry, as ratios of this machine's limits (issues 3, 9).

    .venv/bin/python -m bench.appends            # full run (a few minutes)
    .venv/bin/python -m bench.appends --quick    # smaller counts
    .venv/bin/python -m bench.appends --profile [BATCH]  # cProfile of SQLite appends only

Measured in one run, on this machine:

1. Baselines (bench.verify): raw Ed25519 verifications per second on one core and on
   all cores (one process per core, the sum), with cryptography (OpenSSL) and with
   libsodium (PyNaCl), over real event messages; measured before and after the appends
   and the best of the two kept (the machine may be shared: the load average is shown).
2. Appends per second through `ledger.service.Ledger.append_batch`, batches of 1, 100
   and 1,000, on SQLite (a temp file) and PostgreSQL (schema ``bench_appends``, dropped
   afterwards; skipped with one line if the server cannot be reached). Two streams, both
   pre-signed before timing (bench.streams): commissions of fresh units, and
   handoff/receive pairs on existing units. Each run starts from a fresh database holding
   the base world (tests.rules_factories), the Ledger runs with that world's fixed clock,
   one untimed warm-up batch goes first, and the head's size is checked afterwards;
   the best of two runs (one with --quick) is kept.
   Ratio: appends/s over the all-core libsodium verify rate; target (issue 3, for later
   tuning) >= 0.35.
3. Storage: a log of ``5 x units`` custody entries (commissions, then two handoff/receive
   hops per unit) appended in batches of 1,000; bytes per entry of the SQLite file after
   VACUUM (and per table, indexes included, from ``dbstat``) and of PostgreSQL's
   ``pg_total_relation_size`` per table (after VACUUM and after VACUUM FULL). Baseline:
   the mean leaf size (the bytes the log must keep); target <= 700 bytes per entry.

Results go to ``bench/results/appends.json``: a list of ``{name, value, unit, baseline,
ratio, target, pass}`` (issue 9). For rates, ``target`` applies to ``ratio``; for bytes,
to ``value``. Figures without a target have ``target``/``pass`` null.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import hotspots, streams, verify
from bench.databases import DEFAULT_PG_URL, PostgresTarget, SqliteTarget
from ledger.entry import SignedEvent
from ledger.service import Ledger, LogConfig
from tests.factories import key
from tests.rules_factories import NOW

RESULTS = Path(__file__).resolve().parent / "results"
RATE_TARGET = 0.35
BYTES_TARGET = 700
FULL = {"batches": {1000: 5000, 100: 5000, 1: 1000}, "verify": 20_000, "units": 4000, "repeats": 2}
QUICK = {"batches": {1000: 2000, 100: 1000, 1: 200}, "verify": 4000, "units": 1000, "repeats": 1}


@dataclass
class Figure:
    """One line of the results (issue 9's shape; ``passed`` is written as ``pass``)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: float | None = None
    passed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out = asdict(self)
        out["pass"] = out.pop("passed")
        return out


def open_ledger(url: str, base: Sequence[SignedEvent]) -> Ledger:
    """A ledger on ``url`` with the fixed clock, its genesis and the base world's events."""
    config = LogConfig(origin="bench.example/log", operator_key=key(1))
    ledger = Ledger.open(url, config, clock=lambda: NOW)
    ledger.init()
    ledger.append_batch(base)
    return ledger


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
        if profiler:
            profiler.enable()
        seconds = append_all(ledger, work.timed, work.batch)
        if profiler:
            profiler.disable()
        if ledger.head().size != expected:
            raise SystemExit(f"{work.stream} x{work.batch}: head size is not {expected}")
    finally:
        ledger.close()
    return len(work.timed) / seconds


def verify_rates(items: Sequence[verify.Sample], when: str) -> dict[str, float]:
    """Measure every verify baseline once; return {figure name: verifications per second}."""
    rates = {}
    for which in verify.VERIFIERS:
        rates[f"verify/1-core/{which}"] = verify.one_core(which, items)
    for which in verify.VERIFIERS:
        rate, _cores = verify.all_cores(which, items)
        rates[f"verify/all-cores/{which}"] = rate
    shown = ", ".join(f"{n.removeprefix('verify/')} {r:,.0f}" for n, r in rates.items())
    print(f"  {when}: {shown}")
    return rates


def append_rates(
    targets: Sequence[Any], base: Sequence[SignedEvent], works: Sequence[Workload], repeats: int
) -> dict[str, float]:
    """Appends per second (best of ``repeats``) of every workload on every target."""
    rates = {}
    for target in targets:
        for work in works:
            name = f"append/{target.name}/{work.stream}/batch-{work.batch}"
            runs = [run_workload(target, base, work, None) for _ in range(repeats)]
            rates[name] = max(runs)
            shown = " ".join(f"{r:,.0f}" for r in runs)
            print(f"  {name}: {shown} /s ({len(work.timed):,} events per run)")
    return rates


def rate_figures(verifies: dict[str, float], appends: dict[str, float]) -> list[Figure]:
    """The baseline figures, then each append rate as a ratio of the all-core libsodium rate."""
    figures = [Figure(name, rate, "verifies/s") for name, rate in verifies.items()]
    ceiling = verifies["verify/all-cores/libsodium"]
    for name, rate in appends.items():
        ratio = rate / ceiling
        figures.append(
            Figure(name, rate, "appends/s", ceiling, ratio, RATE_TARGET, ratio >= RATE_TARGET)
        )
    return figures


def _bytes_figures(
    prefix: str, total: int, parts: dict[str, int], entries: int, leaf: float
) -> list[Figure]:
    per_entry = total / entries
    out = [
        Figure(
            f"{prefix}/bytes-per-entry",
            per_entry,
            "bytes/entry",
            leaf,
            per_entry / leaf,
            BYTES_TARGET,
            per_entry <= BYTES_TARGET,
        )
    ]
    print(f"  {prefix}: {total:,} bytes / {entries:,} entries = {per_entry:,.0f} bytes/entry")
    tables: dict[str, int] = {}
    for part, size in parts.items():
        tables[part.split("/")[0]] = tables.get(part.split("/")[0], 0) + size
    for table, size in sorted(tables.items(), key=lambda item: -item[1]):
        out.append(Figure(f"{prefix}/table/{table}", size / entries, "bytes/entry"))
        print(f"    {table:<44} {size:>11,} bytes {size / entries:7.1f} bytes/entry")
        for part in sorted(p for p in parts if "/" in p and p.startswith(f"{table}/")):
            size = parts[part]
            out.append(Figure(f"{prefix}/index/{part}", size / entries, "bytes/entry"))
            print(f"      {part:<42} {size:>11,} bytes {size / entries:7.1f} bytes/entry")
    return out


def storage_figures(
    targets: Sequence[Any], base: Sequence[SignedEvent], events: Sequence[SignedEvent]
) -> list[Figure]:
    """Bytes per entry of a mixed custody log on every target."""
    figures = []
    for target in targets:
        url = target.fresh("storage")
        ledger = open_ledger(url, base)
        try:
            append_all(ledger, events, 1000)
            entries = ledger.head().size
        finally:
            ledger.close()
        leaf = target.average_leaf(url)
        print(f"  {target.name}: {entries:,} entries, mean leaf {leaf:.0f} bytes")
        if isinstance(target, SqliteTarget):
            total, tables = target.storage(url)
            figures += _bytes_figures("storage/sqlite", total, tables, entries, leaf)
            continue
        for full, label in ((False, "vacuum"), (True, "vacuum-full")):
            total, tables = target.storage(url, full)
            figures += _bytes_figures(f"storage/postgresql/{label}", total, tables, entries, leaf)
    return figures


def table(figures: Sequence[Figure]) -> str:
    """A Markdown table of the figures."""

    def number(value: float | None, digits: int) -> str:
        return "" if value is None else f"{value:,.{digits}f}"

    lines = [
        "| figure | value | unit | baseline | ratio | target | pass |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for f in figures:
        verdict = "" if f.passed is None else ("yes" if f.passed else "no")
        target = (
            "" if f.target is None else (f">= {f.target}" if f.target < 1 else f"<= {f.target:g}")
        )
        lines.append(
            f"| {f.name} | {number(f.value, 1 if f.unit == 'bytes/entry' else 0)} | {f.unit} "
            f"| {number(f.baseline, 0)} | {number(f.ratio, 3)} | {target} | {verdict} |"
        )
    return "\n".join(lines)


def machine(targets: Sequence[Any]) -> str:
    """One line describing this machine and the database versions."""
    versions = ", ".join(f"{t.name} {t.version()}" for t in targets)
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, {versions}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def open_targets(pg_url: str | None) -> list[Any]:
    """SQLite always; PostgreSQL if reachable (else one line saying why not)."""
    targets: list[Any] = [SqliteTarget()]
    if pg_url is None:
        print("PostgreSQL: skipped (--no-postgres)")
        return targets
    try:
        targets.append(PostgresTarget(pg_url))
    except psycopg.Error as e:  # an unreachable server means "skip", nothing else does
        print(f"PostgreSQL: skipped, cannot connect to {pg_url}: {' '.join(str(e).split())}")
    return targets


def profile(targets: Sequence[Any], base: Sequence[SignedEvent], batch: int, count: int) -> None:
    """cProfile the timed part of SQLite appends in batches of ``batch``, both streams."""
    for work in workloads({batch: count}):
        profiler = cProfile.Profile()
        rate = run_workload(targets[0], base, work, profiler)
        out = RESULTS / f"appends-{work.stream.replace('+', '-')}-{batch}.prof"
        profiler.dump_stats(out)
        print(f"\n=== sqlite {work.stream} batch-{batch}: {rate:,.0f}/s under cProfile ({out})")
        stats = pstats.Stats(profiler)
        print(hotspots.report(stats, len(work.timed)))
        stats.sort_stats("tottime").print_stats(30)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark, print the table, write ``bench/results/appends.json``."""
    parser = argparse.ArgumentParser(description="appends per second and bytes per entry")
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--profile",
        nargs="?",
        const=1000,
        type=int,
        metavar="BATCH",
        help="only cProfile SQLite appends in batches of BATCH (default 1000)",
    )
    args = parser.parse_args(argv)
    sizes: dict[str, Any] = QUICK if args.quick else FULL
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    skip_pg = args.no_postgres or args.profile is not None
    targets = open_targets(None if skip_pg else args.pg_url)
    try:
        base = streams.base_events(streams.base_world())
        if args.profile is not None:
            profile(targets, base, args.profile, sizes["batches"].get(args.profile, 5000))
            return
        print(f"machine: {machine(targets)}")
        figures = _measure(targets, base, sizes)
    finally:
        for target in targets:
            target.close()
    _write(figures, time.perf_counter() - started)


def _measure(
    targets: Sequence[Any], base: Sequence[SignedEvent], sizes: dict[str, Any]
) -> list[Figure]:
    print("signing (untimed) ...")
    works = workloads(sizes["batches"])
    storage_events = streams.storage_stream(sizes["units"])
    items = verify.samples([e for w in works for e in w.timed][: sizes["verify"]])
    verify.check_all(items)
    # The machine may be shared: baselines before and after the appends, the best of both.
    cores = os.cpu_count() or 1
    print(f"ed25519 verify baselines (verifications/s; all-cores = sum over {cores} processes):")
    before = verify_rates(items, "start")
    print(f"appends (best of {sizes['repeats']}):")
    appends = append_rates(targets, base, works, sizes["repeats"])
    print("storage:")
    storage = storage_figures(targets, base, storage_events)
    after = verify_rates(items, "end")
    best = {name: max(rate, after[name]) for name, rate in before.items()}
    return rate_figures(best, appends) + storage


def _write(figures: Sequence[Figure], seconds: float) -> None:
    path = RESULTS / "appends.json"
    path.write_text(json.dumps([f.to_dict() for f in figures], indent=2) + "\n")
    print()
    print(table(figures))
    print(f"\nwrote {path} in {seconds:.0f} s (load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
