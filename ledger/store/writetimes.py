"""How long this process's write transactions of each log waited for its write lock, and
held it: what an operator reads to tell a write-bound log from one bound by something
else (``provenance_log_write_lock_{wait,held}_seconds``, docs/SCALING.md "Is the log
write-bound?").

Only this process's own write transactions are counted. Others hold the same lock and
are not: another worker's (each counts its own), the map's child writing a batch's map
rows after its commit (ledger.service.mapworker; the append's wait for it is counted as
its wait), and on SQLite every other writer of the same file (other logs, scans,
quotas), whose lock is the file's."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class WriteTotals:
    """One log's write transactions in this process since it started: how many ended
    (committed or rolled back), the seconds they waited for the log's write lock (from
    the wait's start: this process's map child's last write waited for, a connection
    taken, the transaction begun, the lock taken), and the seconds they held it (from
    the lock taken to the commit or rollback ended)."""

    transactions: int = 0
    waited: float = 0.0
    held: float = 0.0


class WriteTimes:
    """`WriteTotals` by log, added to by every write transaction's end (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[int, tuple[int, float, float]] = {}

    def note(self, log: int, start: float, locked: float | None, end: float) -> None:
        """Count a write transaction of ``log`` that began at ``start``, had the lock from
        ``locked`` (None: it never got it, e.g. it failed first) and ended at ``end``
        (`time.perf_counter` seconds)."""
        waited = (end if locked is None else locked) - start
        held = 0.0 if locked is None else end - locked
        with self._lock:
            count, total_waited, total_held = self._totals.get(log, (0, 0.0, 0.0))
            self._totals[log] = (count + 1, total_waited + waited, total_held + held)

    def totals(self, log: int) -> WriteTotals:
        """``log``'s totals so far (all zero before its first write transaction)."""
        with self._lock:
            return WriteTotals(*self._totals.get(log, (0, 0.0, 0.0)))
