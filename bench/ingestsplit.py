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
children: with ``--db postgresql`` those of the local user ``postgres`` (the server at
127.0.0.1 the bench uses) are read from ``/proc/<pid>/stat`` and counted on a line of
their own.

Last, the ceiling: the rate if every step overlapped every other, from the CPU an event
measured (one server process's Python runs on one core at most, its threads sharing a
GIL; all of it shares the machine's cores), as a share of the all-core verify rate
measured right after, and how much of that ceiling the run reached. A ceiling under the
figure's target says the CPU an event must fall; a run far under its ceiling says the
steps wait on each other (docs/PERFORMANCE.md, "balance45").
"""

from __future__ import annotations

import argparse
import os
import pwd
import time
from collections.abc import Sequence
from typing import Any

from bench import baselines, ingest
from bench.appends import open_targets
from bench.figures import Run
from bench.proccpu import descendants, thread_seconds, user_seconds
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


def postgres_seconds() -> float | None:
    """The CPU seconds so far of the local PostgreSQL server's processes (user
    ``postgres``), or None: no such user, or no /proc."""
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        return None
    return user_seconds(uid)


def ceiling(server: Sequence[float], rest: float, cores: int) -> tuple[float, float, float]:
    """(events/s one server process's GIL allows, events/s the cores allow, the smaller):
    the rate if every step overlapped every other, from the CPU an event of each server
    process (``server``: its Python, one core at most, since its threads share a GIL) and
    of the rest of the machine (``rest``: verifier and map children, the clients, a local
    PostgreSQL), in seconds. The measured rate over this ceiling is how well the steps
    overlap; the ceiling over the verify rate is the best the figure could be with this
    much CPU an event (docs/PERFORMANCE.md, "balance45")."""
    gil = 1 / max(server) if server and max(server) > 0 else float("inf")
    whole = sum(server) + rest
    machine = cores / whole if whole > 0 else float("inf")
    return gil, machine, min(gil, machine)


def measured(events: int, workers: int, db: str = "sqlite") -> Any:
    """`ingest.post_all`, wrapped: the timed posts (``events`` of them) print who used
    the cores; the warm-up's smaller posts pass through."""
    post_all = ingest.post_all

    def wrapped(url: str, work: Sequence[bytes], clients: int, *rest: Any, **kw: Any) -> Any:
        if len(work) * 1000 < events:
            return post_all(url, work, clients, *rest, **kw)
        procs = [
            (pid, command.replace(b"\0", b" ").decode(errors="replace"))
            for pid, (command, _) in descendants().items()
        ]
        locks = lock_seconds(url) if workers == 1 else None
        postgres = postgres_seconds() if db == "postgresql" else None
        before = {pid: thread_seconds(pid) for pid, _ in procs}
        mine = time.process_time()  # (ended client threads included, unlike /proc's tasks)
        start = time.perf_counter()
        load = post_all(url, work, clients, *rest, **kw)
        wall = time.perf_counter() - start
        done = load.events
        print(f"{done:,} events in {wall:.2f} s: {done / wall:,.0f} events/s")
        total, servers = 0.0, []
        for pid, command in procs:
            after = thread_seconds(pid)
            spent = {t: after[t] - before[pid].get(t, 0.0) for t in after}
            cpu = sum(spent.values())
            total += cpu
            if _role(command) in ("server", "server worker"):
                servers.append(cpu / done)
            busiest = sorted(spent.values(), reverse=True)[:5]
            threads = ", ".join(f"{x / done * 1e6:.1f}" for x in busiest if x > 0)
            print(f"  {_role(command):22} {pid:>7}: {cpu / done * 1e6:6.1f} us/event ({threads})")
        client = time.process_time() - mine
        total += client
        print(f"  {'clients (this process)':22} {'':>7}: {client / done * 1e6:6.1f} us/event")
        postgres_after = postgres_seconds() if postgres is not None else None
        if postgres is not None and postgres_after is not None:
            total += postgres_after - postgres
            print(
                f"  {'PostgreSQL (user postgres)':22} {'':>7}: "
                f"{(postgres_after - postgres) / done * 1e6:6.1f} us/event"
            )
        print(f"the machine: {total / done * 1e6:.1f} us/event; cores busy {total / wall:.2f}")
        cores = os.cpu_count() or 1
        gil, machine, best = ceiling(servers, total / done - sum(servers), cores)
        verify = baselines.verify_rate(Run(quick=True))
        print(
            f"every step overlapped: at most {gil:,.0f} events/s on a server's GIL, "
            f"{machine:,.0f} on {cores} cores: {best / verify:.3f} of the verify rate "
            f"({verify:,.0f}/s, measured after); this run {done / wall / best:.0%} of it"
        )
        locks_after = lock_seconds(url) if locks is not None else None
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
    ingest.post_all = measured(args.events, args.workers, args.db)
    targets = open_targets(Run(quick=True))
    try:
        target = next((t for t in targets if t.name == args.db), None)
        if target is None:
            raise SystemExit(f"ingestsplit: {args.db} is not reachable")
        ingest._ingest_once(target, args.workers, args.events, 1000)
    finally:
        for target in targets:
            target.close()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
