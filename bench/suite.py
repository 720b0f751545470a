"""The benchmark suite (issue 9): run every group, write latest.json and latest.md.

    .venv/bin/python -m bench.suite            # full run (make bench)
    .venv/bin/python -m bench.suite --quick    # target: under 4 minutes (make bench-quick)
    .venv/bin/python -m bench.suite --only ingest,resolver

Each group is a function ``figures(run: Run) -> list[Figure]`` in a module of this
package, listed in `GROUPS` in the order they run. To add a figure: write (or extend)
such a function, measuring its baseline in the same run, right before and/or after the
figure (`bench.baselines` has the shared ones), build each line with `Figure`'s
constructors (so ``pass`` is computed one way), and add ``"name": "bench.module:figures"``
to `GROUPS`. ``--quick`` must stay under 4 minutes in total (issue 20): use ``run.pick(quick, full)``
for counts and durations.

A group that fails (an exception, a wrong answer) is reported and makes the run exit
non-zero; the figures of the other groups are still written. A figure that misses its
target is a measurement, not a failure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from bench.figures import DEFAULT_PG_URL, RESULTS, Figure, Run, machine, table, write

#: group name -> "module:function"; run in this order
GROUPS: dict[str, str] = {
    "baselines": "bench.baselines:figures",
    "ingest": "bench.ingest:figures",
    "latency": "bench.latency:latency_figures",
    "resolver": "bench.resolver:figures",
    "proofs": "bench.proofs:figures",
    "audit": "bench.audit:figures",
    "labels": "bench.labels:figures",
    "storage": "bench.storage:figures",
    "appends": "bench.appends:figures",
    "replicas": "bench.replicas:figures",
    "cli": "bench.cli:figures",
    "scanlist": "bench.scanlist:figures",
    "cartons": "bench.cartons:figures",
    "mapheads": "bench.mapheads:figures",
    "operator": "bench.operator:figures",
    "scanstats": "bench.scanstats:figures",
}


def _load(spec: str) -> Callable[[Run], list[Figure]]:
    module, function = spec.split(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def _chosen(only: str | None, skip: str | None) -> list[str]:
    names = list(GROUPS) if not only else [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise SystemExit(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    skipped = {n.strip() for n in (skip or "").split(",")}
    return [n for n in names if n not in skipped]


def _per_group(seconds: dict[str, float]) -> str:
    """One line: each group's wall seconds, in the order they ran."""
    return "seconds per group: " + ", ".join(f"{n} {s:.1f}" for n, s in seconds.items())


@contextmanager
def bytecode_cache() -> Iterator[None]:
    """Under ``PYTHONDONTWRITEBYTECODE``, let this run and every process it starts keep
    compiled bytecode in ``RESULTS/pycache`` (``PYTHONPYCACHEPREFIX``) all the same.

    Otherwise nothing of the project is cached, so each server, worker and CLI process
    the suite starts compiles every module of the project it imports again (~0.4 CPU s
    per server start on a loaded machine), and each CLI cold-start figure carries ~60 ms
    that an installed CLI (compiled at install time) never pays. The folder is kept
    between runs: with a prefix, Python reads no ``__pycache__`` beside the sources, so
    the first run compiles the standard library and the dependencies there once (~3 CPU
    s). Without that variable, or with a prefix set, nothing changes.
    """
    if os.environ.get("PYTHONPYCACHEPREFIX") or not (
        sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE")
    ):
        yield
        return
    saved = {k: os.environ.get(k) for k in ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")}
    flags = (sys.pycache_prefix, sys.dont_write_bytecode)
    folder = RESULTS / "pycache"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.pycache_prefix, sys.dont_write_bytecode = str(folder), False
    try:
        yield
    finally:
        sys.pycache_prefix, sys.dont_write_bytecode = flags
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen groups; write the results; return the exit code."""
    parser = argparse.ArgumentParser(description="provenance-ledger benchmark suite")
    parser.add_argument("--quick", action="store_true", help="small counts, under 4 minutes")
    parser.add_argument("--only", help="comma-separated groups to run")
    parser.add_argument("--skip", help="comma-separated groups to leave out")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    run = Run(quick=args.quick, pg_url=None if args.no_postgres else args.pg_url)
    started = time.perf_counter()
    header = [f"{'quick' if args.quick else 'full'} run; at the start: {machine()}"]
    print(header[0])
    figures: list[Figure] = []
    failed: list[str] = []
    seconds: dict[str, float] = {}
    with bytecode_cache():
        for name in _chosen(args.only, args.skip):
            print(f"[{name}]")
            began = time.perf_counter()
            try:
                figures += _load(GROUPS[name])(run)
            except (Exception, SystemExit) as e:  # one broken group must not hide the others
                traceback.print_exc()
                failed.append(name)
                header.append(f"group {name} FAILED: {e}")
            seconds[name] = time.perf_counter() - began
            print(f"  ({seconds[name]:.1f} s)")
            write(figures, [*header, _per_group(seconds)], started)
    path = write(figures, [*header, _per_group(seconds)], started)
    print()
    print(table(figures))
    missed = [f.name for f in figures if f.passed is False]
    print(f"\nwrote {path} and latest.md in {time.perf_counter() - started:.0f} s")
    print(f"targets met: {sum(f.passed is True for f in figures)}, missed: {len(missed)}")
    if failed:
        print(f"FAILED groups: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
