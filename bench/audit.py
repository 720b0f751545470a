"""Figure 5: audit replay rate (entries per second) against the all-core verify rate.

    .venv/bin/python -m bench.suite --quick --only audit
    .venv/bin/python -m bench.audit --profile [UNITS]   # cProfile of one audit, by step

A custody log (bench.streams.storage_stream: commissions, then handoff/receive hops) is
appended on SQLite, untimed. Then `Ledger.audit` (ledger.service.audit.audit_log) replays
it from genesis with every check (leaf bytes, hashes, chain, rules, nodes, checkpoints,
every signature behind the replay (ledger.audit.sigpipe: for this log, on one verifier
process, ledger.audit.sigproc), head and projections),
timed `AUDITS` times; every report must be clean. The figure is the fastest of them (as
the baseline is its best round), the median a detail. Baseline: the all-core libsodium
verify rate, measured right before and right after (the better of the two). Target:
replay >= 0.4 x that rate (issue 20).
A detail line repeats the audit with leaf parsing on the worker processes too (one per
core, `ledger.audit.workers`, which the default uses only for logs of 20,000+ entries
while a core is idle), the pool up first, against the verify rates around it.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import time
from collections.abc import Sequence

from bench import baselines, streams
from bench.appends import append_all, open_ledger
from bench.databases import SqliteTarget
from bench.figures import Figure, Run
from ledger.audit import workers
from ledger.audit.replay import audit_source
from ledger.service.audit import StoreSource

RATE_TARGET = 0.4  # issue 20 (issue 9 asked 0.8)
#: audits of the same log timed between the baselines: the figure takes the fastest, as
#: the baseline takes its best round of verifying (bench.verify.all_cores); the median
#: is a detail. One audit of the quick log lasts ~0.5 s, and the machine's speed moves
#: by more than a tenth within that (docs/PERFORMANCE.md "audit43")
AUDITS = 3


def figures(run: Run) -> list[Figure]:
    """The audit's entries per second over the verify rate around it."""
    target = SqliteTarget()
    try:
        url = target.fresh("audit")
        ledger = open_ledger(url, streams.base_events(streams.base_world()))
        try:
            append_all(ledger, streams.storage_stream(run.pick(1200, 6000)), 1000)
            before = baselines.verify_rate(run)
            timed = []
            for _ in range(AUDITS):
                start = time.perf_counter()
                report = ledger.audit()
                timed.append(time.perf_counter() - start)
                if not report:
                    break
            middle = baselines.verify_rate(run)
            # the same audit with the worker processes forced (ledger.audit.workers), the
            # pool started first: the default takes them only for large logs on a
            # machine with an idle core
            processes = os.cpu_count() or 1
            workers.warm(processes)
            while not workers.ready(processes):
                time.sleep(0.02)
            start = time.perf_counter()
            forced = audit_source(
                StoreSource(ledger.store, ledger.log), ledger.verifier_key, processes=processes
            )
            forced_seconds = time.perf_counter() - start
            ceiling = max(before, middle)
            forced_ceiling = max(middle, baselines.verify_rate(run))
        finally:
            ledger.close()
    finally:
        target.close()
    if not report or not forced:
        raise SystemExit(f"audit: the benchmark log did not audit clean: {report.findings[:3]}")
    rate = report.entries / min(timed)
    median = report.entries / statistics.median(timed)
    forced_rate = forced.entries / forced_seconds
    print(
        f"  audit: {report.entries:,} entries in {', '.join(f'{t:.2f}' for t in timed)} s:"
        f" best {rate:,.0f}/s, median {median:,.0f}/s (verify {ceiling:,.0f}/s);"
        f" on {processes} worker processes {forced_rate:,.0f}/s (verify {forced_ceiling:,.0f}/s)"
    )
    return [
        Figure.ratio_at_least("audit/replay/sqlite", rate, "entries/s", ceiling, RATE_TARGET),
        Figure.info("audit/replay/sqlite/median", median, "entries/s", ceiling),
        Figure.info("audit/replay/sqlite/processes", forced_rate, "entries/s", forced_ceiling),
    ]


#: (label, file suffix, function): the steps of `ledger.audit.replay` (indented: within
#: the step above)
STEPS = [
    ("read entries (Store.replay_entries)", "ledger/store/repository.py", "replay_entries"),
    ("parse leaves: Leaf.from_bytes, of which", "ledger/entry.py", "from_bytes"),
    ("  canonical check on the bytes", "ledger/leafparse.py", "canonical_object"),
    ("  event fields (event_from_dict)", "ledger/events.py", "event_from_dict"),
    ("rules: rules.check_signed", "ledger/rules/check.py", "check_signed"),
    ("rules: State.apply", "ledger/rules/state.py", "apply"),
    ("signatures: waiting for the pipeline (end)", "ledger/audit/sigpipe.py", "bad"),
    ("nodes: stored Merkle nodes read", "ledger/store/repository.py", "subtrees"),
    ("projections: load_state", "ledger/store/repository.py", "load_state"),
]


class CollectorClock:
    """A `gc.callbacks` entry adding up the time the cyclic collector runs, by generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.counts = [0, 0, 0]
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.counts[info["generation"]] += 1


def profile(units: int) -> None:
    """cProfile one `Ledger.audit` of a custody log of about 5 x ``units`` entries (SQLite)
    and print each step's share of it (the signature workers are not profiled: what
    shows is the time the replay waits for them at the end), and the cyclic collector's."""
    target = SqliteTarget()
    try:
        ledger = open_ledger(target.fresh("audit"), streams.base_events(streams.base_world()))
        try:
            append_all(ledger, streams.storage_stream(units), 1000)
            collecting = CollectorClock()
            profiler = cProfile.Profile()
            gc.callbacks.append(collecting)
            profiler.enable()
            report = ledger.audit()
            profiler.disable()
            gc.callbacks.remove(collecting)
        finally:
            ledger.close()
    finally:
        target.close()
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, dict[object, object]]]
    raw = stats.stats  # type: ignore[attr-defined]
    total = max(v[3] for (f, _, name), v in raw.items() if name == "audit_source")
    print(f"audit of {report.entries:,} entries: {total:.2f} s under cProfile, clean: {report.ok}")
    for label, suffix, name in STEPS:
        seconds = sum(v[3] for (f, _, n), v in raw.items() if n == name and f.endswith(suffix))
        print(f"  {label:<48} {seconds:7.2f} s {100 * seconds / total:5.1f} %")
    print(
        f"  {'cyclic collector (gc.callbacks, all threads)':<48} {collecting.seconds:7.2f} s"
        f" {100 * collecting.seconds / total:5.1f} %  collections {collecting.counts}"
    )
    stats.sort_stats("tottime").print_stats(20)


def main(argv: Sequence[str] | None = None) -> None:
    """``--profile [UNITS]``: cProfile one audit on SQLite (the figure runs from bench.suite)."""
    parser = argparse.ArgumentParser(description="profile an audit replay on SQLite")
    parser.add_argument("--profile", nargs="?", const=1200, type=int, default=1200, metavar="UNITS")
    args = parser.parse_args(argv)
    profile(args.profile)


if __name__ == "__main__":
    main()
