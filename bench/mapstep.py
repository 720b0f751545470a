"""The map step's share of an append, timed inside the appends (docs/PERFORMANCE.md).

    .venv/bin/python -m bench.mapstep [--pg] [--runs N] [--units N]

The suite's ``map/append`` figures (bench.mapheads) divide two wall-clock runs, which
swing by 0.2 or more on a shared, loaded machine. This times the map step itself
(`MapKeeper`: open, ``add``, ``commit``) inside the same timed batches as the rest of
the append: commissions of fresh units in batches of 1,000 (3,000 timed after the
setup and a warm-up batch; ``--units N`` appends N more commissions first, untimed, for
a map of N more keys), on a fresh database each run, several runs in one process (the
later runs hold the earlier ledgers' objects, as a long-running server holds many).
It prints, per run, the map step and the rest in microseconds per event, wall-clock
and this process's CPU time (PostgreSQL's server CPU is not in it), and their ratio;
then the bytes this process wrote per event (``wchar`` of ``/proc/self/io``: SQLite's
WAL and checkpoints; Linux only) and the time in cyclic collections per event.
``--no-map`` runs the same appends with the map step a no-op, for those two lines'
baseline (the map step's timing is then zero).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Sequence
from typing import Any

from bench import appends, streams
from bench.audit import CollectorClock
from bench.databases import PostgresTarget, SqliteTarget
from bench.figures import DEFAULT_PG_URL
from bench.mapheads import NoMap
from ledger.service import append as append_module

_spent = [0.0, 0.0]  # wall, CPU seconds inside MapKeeper


def _written() -> int:
    """Bytes this process has written through system calls (0 where unknown)."""
    try:
        with open("/proc/self/io") as counters:
            for line in counters:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _timed(real: type) -> type:
    """``real`` (MapKeeper) with its open, ``add`` and ``commit`` timed into `_spent`."""

    def timing(method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                _spent[0] += time.perf_counter() - wall
                _spent[1] += time.process_time() - cpu

        return wrapper

    return type(
        "TimedMapKeeper",
        (real,),
        {name: timing(getattr(real, name)) for name in ("__init__", "add", "commit")},
    )


def run(target: Any, runs: int, units: int = 0) -> None:
    """Print the map step against the rest of the append, ``runs`` times on ``target``,
    after ``units`` commissions appended untimed (a map of that many more keys)."""
    base = streams.base_events(streams.base_world())
    work = next(w for w in appends.workloads({1000: 3000}) if w.stream == "commission")
    for run_number in range(runs):
        ledger = appends.open_ledger(target.fresh("mapstep"), base)
        try:
            for preload in streams.commission_slices(f"P{run_number}-", units):
                appends.append_all(ledger, preload, 1000)
            gc.collect()
            appends.append_all(ledger, work.setup, 1000)
            appends.append_all(ledger, work.warm, work.batch)
            timed = appends.unverified(work.timed)  # a second run's are verified anew
            _spent[0] = _spent[1] = 0.0
            written = _written()
            collecting = CollectorClock()
            gc.callbacks.append(collecting)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                appends.append_all(ledger, timed, work.batch)
            finally:
                gc.callbacks.remove(collecting)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            written = _written() - written
        finally:
            ledger.close()
        n = len(work.timed)
        rest_wall, rest_cpu = wall - _spent[0], cpu - _spent[1]
        print(
            f"{target.name}: map step {1e6 * _spent[0] / n:.1f} µs/event wall, "
            f"{1e6 * _spent[1] / n:.1f} CPU; rest {1e6 * rest_wall / n:.1f} wall, "
            f"{1e6 * rest_cpu / n:.1f} CPU; ratio wall {wall / rest_wall:.3f}, "
            f"CPU {cpu / rest_cpu:.3f}"
        )
        print(
            f"  wrote {written / n:,.0f} bytes/event; collections "
            f"{1e6 * collecting.seconds / n:.1f} µs/event"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-map", action="store_true", help="the map step as a no-op")
    parser.add_argument(
        "--units", type=int, default=0, help="commissions appended first, untimed (map size)"
    )
    args = parser.parse_args(argv)
    real = vars(append_module)["MapKeeper"]
    keeper = _timed(NoMap if args.no_map else real)
    setattr(append_module, "MapKeeper", keeper)  # noqa: B010 - timed for this run
    target: Any = PostgresTarget(DEFAULT_PG_URL) if args.pg else SqliteTarget()
    try:
        run(target, args.runs, args.units)
    finally:
        target.close()
        setattr(append_module, "MapKeeper", real)  # noqa: B010


if __name__ == "__main__":
    main()
