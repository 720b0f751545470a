"""The CPU time a process has spent, and the processes below this one, read from
Linux's /proc: for comparing what two commits cost on a shared machine, where wall times
swing and CPU times much less (bench.resolver_cpu, bench.mapcommit, bench.ingestcpu,
bench.ingestsplit), and for finding a server's children (bench.server)."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import TypeVar

#: a thread's key in two readings of the same threads
Key = TypeVar("Key", bound=Hashable)


def thread_seconds(pid: int | None) -> dict[int, float]:
    """{thread id: seconds on a CPU so far, to the nanosecond} of every live thread of
    process ``pid`` (``/proc/<pid>/task/*/schedstat``); empty for None, a process that is
    gone, or a system without ``/proc``. A thread that ended between two readings takes
    its time with it: measure processes whose threads outlive the interval (a server's
    workers, a thread pool)."""
    if pid is None:
        return {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    spent = {}
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                spent[int(task)] = int(stat.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return spent


def cpu_seconds(pid: int | None) -> float:
    """Seconds on a CPU of every live thread of process ``pid`` so far (the sum of
    `thread_seconds`; 0.0 for None or a process that is gone)."""
    return sum(thread_seconds(pid).values())


def user_threads(uid: int) -> dict[tuple[int, int], float] | None:
    """{(pid, thread id): seconds on a CPU so far} of every live thread of every process
    of user ``uid`` (`thread_seconds` of each: a local PostgreSQL server's postmaster,
    its backends and helpers, which are not this process's children); None without
    /proc. Compare two readings with `spent_between`."""
    if not Path("/proc/self/stat").exists():
        return None
    found: dict[tuple[int, int], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
        except OSError:
            continue  # gone meanwhile
        pid = int(entry.name)
        found.update(((pid, tid), seconds) for tid, seconds in thread_seconds(pid).items())
    return found


def spent_between(before: Mapping[Key, float], after: Mapping[Key, float]) -> float:
    """The CPU seconds spent between two readings of the same threads (`user_threads`):
    the growth of each thread alive at the second reading, all of its time if it began
    after the first. A thread that ended in between took its time with it: it counts
    for nothing, and never less (nor does a number reused by a new thread)."""
    return sum(max(0.0, seconds - before.get(key, 0.0)) for key, seconds in after.items())


def descendants() -> dict[int, tuple[bytes, list[bytes]]]:
    """{pid: (command line, the ``stat`` fields after its name)} of every live process
    below this one (empty without /proc). The command line's arguments are separated by
    NUL bytes; ``stat`` field 1 is the parent, 11 and 12 the user and system ticks."""
    parent: dict[int, int] = {}
    found: dict[int, tuple[bytes, list[bytes]]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) "
            parent[int(entry.name)] = int(fields[1])
            found[int(entry.name)] = ((entry / "cmdline").read_bytes(), fields)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    me = os.getpid()

    def below_me(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            pid, seen = parent.get(pid, 0), seen + 1
            if pid == me:
                return True
        return False

    return {pid: info for pid, info in found.items() if below_me(pid)}
