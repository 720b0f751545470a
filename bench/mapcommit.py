"""The large-map figure with more rounds, and the commit's share of each batch.

    .venv/bin/python -m bench.mapcommit [--rounds R] [--checkpoint-frames N]

`bench.mapheads._abba` on SQLite after `bench.mapheads.LARGE_MAP` commissions a side,
as the full run's `map/append/sqlite/batch-1000/map-100000` (there: 4 rounds of 2
batches of 1,000 a side), with ``R`` rounds a side instead (default 12: the median
of more rounds moves less with the machine's load). Per timed round it also takes the
main thread's CPU (``time.thread_time``) and the wall and CPU of the DBAPI commits
(SQLAlchemy's ``do_commit`` timed), and prints the medians in ms a batch with and
without the map: the commit is where SQLite's autocheckpoint ran before the
checkpoints moved to their own thread (ledger.store.checkpoints; docs/PERFORMANCE.md,
"ckpt31"). ``--checkpoint-frames`` sets the checkpointer's wake threshold.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from bench import appends, mapheads, streams
from bench.databases import SqliteTarget
from ledger.store import database

#: the commits' (wall, CPU) seconds since the round began
_COMMITS = [0.0, 0.0]


def _timed_commit(original: Any) -> Any:
    def do_commit(self: Any, dbapi_connection: Any) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        original(self, dbapi_connection)
        _COMMITS[0] += time.perf_counter() - wall
        _COMMITS[1] += time.thread_time() - cpu

    return do_commit


def run(rounds: int) -> tuple[float, dict[bool, list[float]]]:
    """The figure's ratio (median rounds), and per side (with the map: True) the
    medians in ms a batch of: wall, main-thread CPU, commit wall, commit CPU."""
    calls: list[tuple[bool, int, float, float, float, float]] = []
    seconds = mapheads._seconds

    def timed(ledger: Any, events: list[Any], batch: int, mapped: bool) -> float:
        _COMMITS[:] = [0.0, 0.0]
        cpu = time.thread_time()
        wall = seconds(ledger, events, batch, mapped)
        calls.append(
            (mapped, len(events), wall, time.thread_time() - cpu, _COMMITS[0], _COMMITS[1])
        )
        return wall

    saved = mapheads.ROUNDS, SQLiteDialect_pysqlite.do_commit
    mapheads.ROUNDS = rounds
    mapheads._seconds = timed
    SQLiteDialect_pysqlite.do_commit = _timed_commit(saved[1])  # type: ignore[method-assign]
    base = streams.base_events(streams.base_world())
    counts = {1000: 2000 * rounds}
    work = next(w for w in appends.workloads(counts) if w.stream == "commission")
    target = SqliteTarget()
    try:
        rounds_by_side = mapheads._abba(target, work, base, mapheads.LARGE_MAP)
    finally:
        target.close()
        mapheads.ROUNDS, SQLiteDialect_pysqlite.do_commit = saved  # type: ignore[method-assign]
        mapheads._seconds = seconds
    with_map, without = (statistics.median(rounds_by_side[m]) for m in (True, False))
    timed_calls = calls[-2 * rounds :]
    parts = {
        mapped: [
            statistics.median(
                1e6 * c[i] / c[1] for c in timed_calls if c[0] == mapped
            )  # seconds an event, times 1,000 events, in ms
            for i in (2, 3, 4, 5)
        ]
        for mapped in (False, True)
    }
    return with_map / without, parts


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="timed rounds a side")
    parser.add_argument("--checkpoint-frames", type=int, default=0, help="0: the store's")
    args = parser.parse_args(argv)
    if args.checkpoint_frames:
        database.SQLITE_CHECKPOINT_FRAMES = args.checkpoint_frames
    ratio, parts = run(args.rounds)
    names = ("wall", "thread CPU", "commit wall", "commit CPU")
    print(
        f"map/append/sqlite/batch-1000/map-{mapheads.LARGE_MAP}, {args.rounds} rounds: {ratio:.3f}"
    )
    for i, name in enumerate(names):
        print(
            f"  {name}: {parts[True][i]:.1f} ms a batch with the map, {parts[False][i]:.1f} without"
        )


if __name__ == "__main__":
    main()
