"""The CPU time a process has spent, read from Linux's /proc: for comparing what two
commits cost on a shared machine, where wall times swing and CPU times much less
(bench.resolver_cpu, bench.mapcommit)."""

from __future__ import annotations

import os


def cpu_seconds(pid: int | None) -> float:
    """Seconds on a CPU of every live thread of process ``pid`` so far, to the
    nanosecond (``/proc/<pid>/task/*/schedstat``); 0.0 for None, a process that is gone,
    or a system without ``/proc``. A thread that ended between two readings takes its
    time with it: measure processes whose threads outlive the interval (a server's
    workers, a thread pool)."""
    if pid is None:
        return 0.0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    total = 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total / 1e9
