"""The large-map figure with more rounds, the commit's share of each batch, and the CPU
each process spent on it.

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

It also prints, per batch, the CPU time of all this process's threads (the append, the
signature checks, the WAL checkpointer) and of the map's child process (Linux: from
``bench.proccpu``; 0 where unreadable). On two cores the ratio
swings by ±0.05 from run to run while these move by 1-3 ms: they tell where a change
saves work when the ratio alone cannot (docs/PERFORMANCE.md, "ckpt38").
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from bench import appends, mapheads, streams
from bench.databases import SqliteTarget
from bench.proccpu import cpu_seconds
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


def _map_child(ledger: Any) -> int | None:
    """The process id of ``ledger``'s map child, if it runs one."""
    worker = ledger._append_memo._map_worker
    proc = None if worker is None else worker._proc
    return None if proc is None else proc.pid


def run(rounds: int) -> tuple[float, dict[bool, list[float]]]:
    """The figure's ratio (median rounds), and per side (with the map: True) the
    medians in ms a batch of: wall, main-thread CPU, commit wall, commit CPU, this
    process's CPU (all threads), the map child's CPU."""
    calls: list[tuple[bool, int, float, float, float, float, float, float]] = []
    seconds = mapheads._seconds

    def timed(ledger: Any, events: list[Any], batch: int, mapped: bool) -> float:
        _COMMITS[:] = [0.0, 0.0]
        child = _map_child(ledger)
        cpu = time.thread_time()
        process, child_cpu = cpu_seconds(os.getpid()), cpu_seconds(child)
        wall = seconds(ledger, events, batch, mapped)
        calls.append(
            (
                mapped,
                len(events),
                wall,
                time.thread_time() - cpu,
                _COMMITS[0],
                _COMMITS[1],
                cpu_seconds(os.getpid()) - process,
                cpu_seconds(child) - child_cpu if child == _map_child(ledger) else 0.0,
            )
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
            for i in (2, 3, 4, 5, 6, 7)
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
    names = ("wall", "thread CPU", "commit wall", "commit CPU", "process CPU", "map child CPU")
    print(
        f"map/append/sqlite/batch-1000/map-{mapheads.LARGE_MAP}, {args.rounds} rounds: {ratio:.3f}"
    )
    for i, name in enumerate(names):
        print(
            f"  {name}: {parts[True][i]:.1f} ms a batch with the map, {parts[False][i]:.1f} without"
        )


if __name__ == "__main__":
    main()
