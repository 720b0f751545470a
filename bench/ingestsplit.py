"""Who uses the machine's cores during `bench.ingest`'s batch figure, per event.

    .venv/bin/python -m bench.ingestsplit [--db sqlite|postgresql] [--workers 1|2]
                                          [--events 20000]

Runs the figure's own workload (`bench.ingest._ingest_once`: the bench server on a fresh
database holding the base world, its warm-up until the map children have settled,
``2 x workers`` clients posting batches of 1,000) and reads, around the timed posts only,
the CPU of every process under this one from ``/proc/<pid>/task/*/schedstat``: the
server's workers, the verifier children (ledger.service.sigpool), the map children
(ledger.service.mapworker) and this process (the clients). It prints the rate, each
process's CPU per event with its busiest threads, and how many of the machine's cores
were busy on average: a figure far below the core count while the rate is short of its
target says the work waits on something (a lock, the GIL, a pipeline step), not on the
CPU (docs/PERFORMANCE.md, "procverify40"). With one worker it also prints how long the
log's write lock was held and waited for, per event and as a share of the time (the
worker's ``/metrics``, `provenance_log_write_lock_*`; with two, a scrape reaches one
worker of the two, so none is printed). PostgreSQL's processes are not this process's
children: with ``--db postgresql`` every thread of the local user ``postgres`` (the
server at 127.0.0.1 the bench uses; any other client of it counts too) is read from
``/proc`` and counted on a line of its own, or a line says it could not be.

Last, once the server has stopped, the ceiling (`ceiling`): the rate if every step
overlapped every other, from the CPU an event measured (a server process's Python on
one core at most, its threads sharing a GIL; all of it on the cores this process may
use), as a share of the all-core verify rate measured then, and how much of that
ceiling the run reached (bound by the cores, that is the cores busy over the cores). A
ceiling under the figure's target says the CPU an event must fall; a run far under its
ceiling says the steps wait on each other (docs/PERFORMANCE.md, "balance45").
"""

from __future__ import annotations

import argparse
import os
import pwd
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import baselines, ingest
from bench.appends import open_targets
from bench.figures import Run
from bench.proccpu import descendants, spent_between, thread_seconds, user_threads
from bench.server import metric_total

#: how a child process is named in the report, by a part of its command line
ROLES = (
    ("rawsig import serve", "verifier child"),
    ("mapchild", "map child"),
    ("uvicorn", "server"),
    ("multiprocessing.spawn", "server worker"),
    ("serve_workers", "workers' supervisor"),
)


def _role(command: str) -> str:
    return next((role for part, role in ROLES if part in command), command[:40])


def lock_seconds(url: str) -> tuple[float, float] | None:
    """(seconds waited for, seconds held) the log's write lock, summed over the logs, as
    the server process that answers reports them (its ``/metrics``); None if it does
    not."""
    waited = metric_total(url, r"provenance_log_write_lock_wait_seconds_total\{[^}]*\}")
    held = metric_total(url, r"provenance_log_write_lock_held_seconds_total\{[^}]*\}")
    return None if waited is None or held is None else (waited, held)


def postgres_threads() -> dict[tuple[int, int], float] | None:
    """`user_threads` of the local PostgreSQL server (user ``postgres``), or None: no
    such user, or no /proc."""
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        return None
    return user_threads(uid)


#: the roles (`ROLES`) of the processes that run the server's Python
SERVER_ROLES = ("server", "server worker")


def sides(processes: Sequence[tuple[str, float]], others: float) -> tuple[list[float], float]:
    """(each server process's CPU, the rest's) from each process's (role, CPU), the
    same unit: the server's workers (`SERVER_ROLES`) one by one; every other process
    and ``others`` (the clients, PostgreSQL) summed."""
    server = [cpu for role, cpu in processes if role in SERVER_ROLES]
    rest = sum(cpu for role, cpu in processes if role not in SERVER_ROLES)
    return server, rest + others


def ceiling(server: Sequence[float], rest: float, cores: int) -> tuple[float, float, float]:
    """(events/s the busiest server process allows, events/s the cores allow, the
    smaller): the rate if every step overlapped every other, from the CPU an event, in
    seconds, of each server process (``server``) and of the rest of the machine
    (``rest``, `sides`). A server process's threads share a GIL: if all of its CPU held
    it, it runs on one core at most (its C calls that let the GIL go, SQLite's and
    libsodium's, may use a second). The measured rate over this ceiling is how well the
    steps overlap; the ceiling over the verify rate is the best the figure could be
    with this much CPU an event (docs/PERFORMANCE.md, "balance45")."""
    gil = 1 / max(server) if server and max(server) > 0 else float("inf")
    whole = sum(server) + rest
    machine = cores / whole if whole > 0 else float("inf")
    return gil, machine, min(gil, machine)


@dataclass
class Split:
    """What the timed posts measured, for the ceiling `main` prints once the server
    has stopped: the rate, and the ceiling's events/s (`ceiling`)."""

    rate: float = 0.0
    gil: float = 0.0
    machine: float = 0.0
    best: float = 0.0


def measured(events: int, workers: int, db: str, split: Split) -> Any:
    """`ingest.post_all`, wrapped: the timed posts (``events`` of them) print who used
    the cores, and leave the rate and the ceiling in ``split``; the warm-up's smaller
    posts pass through."""
    post_all = ingest.post_all

    def wrapped(url: str, work: Sequence[bytes], clients: int, *rest: Any, **kw: Any) -> Any:
        if len(work) * 1000 < events:
            return post_all(url, work, clients, *rest, **kw)
        procs = [
            (pid, command.replace(b"\0", b" ").decode(errors="replace"))
            for pid, (command, _) in descendants().items()
        ]
        locks = lock_seconds(url) if workers == 1 else None
        postgres = postgres_threads() if db == "postgresql" else None
        before = {pid: thread_seconds(pid) for pid, _ in procs}
        mine = time.process_time()  # (ended client threads included, unlike /proc's tasks)
        start = time.perf_counter()
        load = post_all(url, work, clients, *rest, **kw)
        wall = time.perf_counter() - start
        client = time.process_time() - mine
        postgres_after = postgres_threads() if postgres is not None else None
        locks_after = lock_seconds(url) if locks is not None else None
        done = load.events
        print(f"{done:,} events in {wall:.2f} s: {done / wall:,.0f} events/s")
        used = []
        for pid, command in procs:
            after = thread_seconds(pid)
            spent = {t: after[t] - before[pid].get(t, 0.0) for t in after}
            cpu = sum(spent.values())
            used.append((_role(command), cpu))
            busiest = sorted(spent.values(), reverse=True)[:5]
            threads = ", ".join(f"{x / done * 1e6:.1f}" for x in busiest if x > 0)
            print(f"  {_role(command):22} {pid:>7}: {cpu / done * 1e6:6.1f} us/event ({threads})")
        print(f"  {'clients (this process)':22} {'':>7}: {client / done * 1e6:6.1f} us/event")
        others = client
        if db == "postgresql":
            found = None
            if postgres and postgres_after:
                found = spent_between(postgres, postgres_after)
            if found:
                others += found
                print(f"  {'PostgreSQL (postgres)':22} {'':>7}: {found / done * 1e6:6.1f} us/event")
            else:
                print("  (PostgreSQL's processes not found: not counted)")
        server, rest_cpu = sides(used, others)
        total = sum(server) + rest_cpu
        print(f"the machine: {total / done * 1e6:.1f} us/event; cores busy {total / wall:.2f}")
        split.rate = done / wall
        split.gil, split.machine, split.best = ceiling(
            [cpu / done for cpu in server], rest_cpu / done, len(os.sched_getaffinity(0))
        )
        if locks is not None and locks_after is not None:
            waited, held = locks_after[0] - locks[0], locks_after[1] - locks[1]
            print(
                f"the log's write lock: held {held / done * 1e6:.1f} us/event "
                f"({held / wall:.0%} of the time), waited for {waited / done * 1e6:.1f} us/event"
            )
        return load

    return wrapped


def main(argv: Sequence[str] | None = None) -> None:
    """Run the batch figure's workload once and print who used the cores."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    split = Split()
    ingest.post_all = measured(args.events, args.workers, args.db, split)
    targets = open_targets(Run(quick=True))
    try:
        target = next((t for t in targets if t.name == args.db), None)
        if target is None:
            raise SystemExit(f"ingestsplit: {args.db} is not reachable")
        ingest._ingest_once(target, args.workers, args.events, 1000)
    finally:
        for target in targets:
            target.close()
    if split.best:  # the verify rate with the server and its children gone
        verify = baselines.verify_rate(Run(quick=True))
        print(
            f"every step overlapped: at most {split.gil:,.0f} events/s on the busiest "
            f"server's GIL, {split.machine:,.0f} on the cores: {split.best / verify:.3f} of "
            f"the verify rate ({verify:,.0f}/s, measured after); this run reached "
            f"{split.rate / split.best:.0%} of it"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
