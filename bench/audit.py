"""Figure 5: audit replay rate (entries per second) against the all-core verify rate.

A custody log (bench.streams.storage_stream: commissions, then handoff/receive hops) is
appended on SQLite, untimed. Then `Ledger.audit` (ledger.service.audit.audit_log) replays
it from genesis with every check (leaf bytes, hashes, chain, rules, nodes, checkpoints,
every signature on the verify threads while the replay goes on, head and projections),
timed; the report must be clean. Baseline: the all-core libsodium verify rate, measured
right before and right after (the better of the two). Target: replay >= 0.4 x that rate (issue 20).
"""

from __future__ import annotations

import time

from bench import baselines, streams
from bench.appends import append_all, open_ledger
from bench.databases import SqliteTarget
from bench.figures import Figure, Run

RATE_TARGET = 0.4  # issue 20 (issue 9 asked 0.8)


def figures(run: Run) -> list[Figure]:
    """The audit's entries per second over the verify rate around it."""
    target = SqliteTarget()
    try:
        url = target.fresh("audit")
        ledger = open_ledger(url, streams.base_events(streams.base_world()))
        try:
            append_all(ledger, streams.storage_stream(run.pick(1200, 6000)), 1000)
            before = baselines.verify_rate(run)
            start = time.perf_counter()
            report = ledger.audit()
            seconds = time.perf_counter() - start
            ceiling = max(before, baselines.verify_rate(run))
        finally:
            ledger.close()
    finally:
        target.close()
    if not report:
        raise SystemExit(f"audit: the benchmark log did not audit clean: {report.findings[:3]}")
    rate = report.entries / seconds
    print(
        f"  audit: {report.entries:,} entries in {seconds:.2f} s = {rate:,.0f}/s (verify {ceiling:,.0f}/s)"
    )
    return [Figure.ratio_at_least("audit/replay/sqlite", rate, "entries/s", ceiling, RATE_TARGET)]
