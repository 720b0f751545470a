"""PostgreSQL's planner statistics of a growing log, refreshed beside the appends.

PostgreSQL plans the append's lookups (event hash, unit keys) from table statistics; a
young, fast-growing log whose statistics are stale (or with autovacuum off) gets
sequential scans that make each append O(n). `StatisticsRefresher` runs ``ANALYZE`` of
the growing tables when a log's size crosses a power of two (O(log n) runs over a log's
life), on a thread of its own with its own transaction, after the append committed:
the append neither waits for it nor fails because of it (its entries are durable by
then; a refusal would tell the client a committed batch failed). One run at a time: a
crossing while one runs is covered by that run. SQLite's planner needs no statistics for
these lookups.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

_log = logging.getLogger(__name__)

#: the tables an append grows, whose statistics the append's lookups are planned from
TABLES = ("entries", "units", "nodes", "tiles")
#: below this size a log's tables are small enough for any plan
SMALLEST = 1024


def crossed(grew_from: int, grew_to: int) -> bool:
    """Whether a log that grew from ``grew_from`` to ``grew_to`` entries crossed a power
    of two at or above `SMALLEST`."""
    return grew_to >= SMALLEST and grew_from.bit_length() != grew_to.bit_length()


class StatisticsRefresher:
    """Runs ``ANALYZE`` of `TABLES` on ``engine``'s database on a thread (module doc)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: runs finished and failed so far (the failure is logged, never raised)
        self.runs = self.failures = 0

    def refresh(self) -> bool:
        """Start a run unless one is running or the refresher is closed; whether one
        started. Never raises: a thread that cannot start (the process is out of
        threads or memory) is logged and counted as a failed run (the caller's append
        is committed by then)."""
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return False
            thread = threading.Thread(target=self._run, name="statistics-refresh", daemon=True)
            try:
                thread.start()
            except RuntimeError as e:
                self.failures += 1
                _log.warning("cannot start refreshing the planner's statistics: %s", e)
                return False
            self._thread = thread  # only a started thread: `wait` joins it
            return True

    def _run(self) -> None:
        try:
            with self._engine.begin() as conn:
                for table in TABLES:
                    conn.execute(text(f"ANALYZE {table}"))
            self.runs += 1
        except Exception as e:  # statistics only: the appends are committed
            self.failures += 1
            _log.warning("cannot refresh the planner's statistics: %s", e)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the run in progress, if any (at most ``timeout`` seconds)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Start no more runs; wait for the one in progress (at most ``timeout`` s)."""
        with self._lock:
            self._closed = True
        self.wait(timeout)
