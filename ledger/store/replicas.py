"""Where a read goes: a PostgreSQL streaming replica, or the primary (docs/SCALING.md).

Writes always go to the primary (``Engines.writer``). Reads go to a healthy replica,
round-robin, unless

- the reader needs its own write (read-your-writes): it names the log and the tree size
  it knows (``min_size``), and a replica that has not replayed that far yet is polled
  for up to ``max_wait`` seconds, then the read goes to the primary;
- no replica answers: a replica whose connection fails is left alone for
  ``retry_after`` seconds and the read goes to the primary, so stopping a replica costs
  no request an error.

A replica only ever lags: whatever it shows is a prefix of the primary's log, so a read
that starts on a replica and moves to the primary never goes back in time. The reverse
could (a proof at a size the replica has not reached), so a caller that reads several
times for one answer pins one `ReadTarget` (ledger.store.repository.Store.pinned).

No SQL of the ledger's own lives here beyond the log's size and the replay lag.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ledger.store.queries import LOGS


@dataclass
class ReadTarget:
    """One engine reads may use, its name in metrics, and its health."""

    name: str
    engine: Engine
    is_replica: bool
    down_until: float = 0.0
    reads: int = 0


@dataclass(frozen=True)
class ReplicaStatus:
    """A replica as /metrics shows it: up, and how far behind the primary."""

    name: str
    up: bool
    lag_entries: int | None
    lag_seconds: float | None


@dataclass
class ReadRouter:
    """Chooses the engine for each read (see the module docstring)."""

    primary: ReadTarget
    replicas: Sequence[ReadTarget] = ()
    max_wait: float = 0.25
    retry_after: float = 5.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, primary: Engine, replicas: Sequence[tuple[str, Engine]] = ()) -> ReadRouter:
        """A router over ``primary`` and ``(url, engine)`` replicas."""
        return cls(
            ReadTarget(_name(primary.url.render_as_string()), primary, is_replica=False),
            [ReadTarget(_name(url), engine, is_replica=True) for url, engine in replicas],
        )

    def healthy(self) -> list[ReadTarget]:
        """The replicas not known to be down, in round-robin order."""
        now = self.clock()
        up = [r for r in self.replicas if r.down_until <= now]
        if not up:
            return []
        start = next(self._turn) % len(up)
        return up[start:] + up[:start]

    def mark_down(self, target: ReadTarget) -> None:
        """Leave ``target`` alone for ``retry_after`` seconds."""
        target.down_until = self.clock() + self.retry_after

    def choose(self, log: int | None = None, min_size: int = 0, *, wait: bool = True) -> ReadTarget:
        """A replica that holds at least ``min_size`` entries of ``log``, else the primary.

        With ``min_size`` 0 any healthy replica will do (its connection is tried when
        the read opens it, see `connect`). ``wait``: poll lagging replicas for up to
        ``max_wait`` seconds before giving up on them (else one look).
        """
        candidates = self.healthy()
        if not candidates or min_size <= 0 or log is None:
            return candidates[0] if candidates else self.primary
        deadline = self.clock() + (self.max_wait if wait else 0.0)
        while candidates:
            for replica in list(candidates):
                try:
                    with replica.engine.connect() as conn:
                        size = conn.execute(select(LOGS.c.size).where(LOGS.c.id == log)).scalar()
                except SQLAlchemyError:
                    self.mark_down(replica)
                    candidates.remove(replica)
                    continue
                if size is not None and size >= min_size:
                    return replica
            if self.clock() >= deadline:
                break
            self.sleep(0.005)
        return self.primary

    def connect(self, target: ReadTarget) -> tuple[ReadTarget, Connection]:
        """Open a connection on ``target``; on a replica that fails, on the primary.

        Raises:
            SQLAlchemyError: the primary does not answer.
        """
        if target.is_replica:
            try:
                conn = target.engine.connect()
            except SQLAlchemyError:
                self.mark_down(target)
                target = self.primary
            else:
                self._count(target)
                return target, conn
        conn = self.primary.engine.connect()
        self._count(self.primary)
        return self.primary, conn

    def _count(self, target: ReadTarget) -> None:
        with self._lock:
            target.reads += 1

    def status(self, log: int, primary_size: int) -> list[ReplicaStatus]:
        """Each replica: whether it answers, and its lag in entries of ``log`` and seconds.

        The lag in seconds is PostgreSQL's time since the last replayed transaction: it
        grows while the primary is idle, so alert on entries, not seconds.
        """
        out = []
        for replica in self.replicas:
            try:
                with replica.engine.connect() as conn:
                    size = conn.execute(select(LOGS.c.size).where(LOGS.c.id == log)).scalar()
                    seconds = conn.execute(text(_REPLAY_LAG)).scalar()
            except SQLAlchemyError:
                self.mark_down(replica)
                out.append(ReplicaStatus(replica.name, False, None, None))
                continue
            replica.down_until = 0.0  # it answers again
            lag = None if size is None else max(0, primary_size - size)
            secs = None if seconds is None else max(0.0, float(seconds))
            out.append(ReplicaStatus(replica.name, True, lag, secs))
        return out

    def dispose(self) -> None:
        """Close the replicas' pooled connections (the primary's belong to `Engines`)."""
        for replica in self.replicas:
            replica.engine.dispose()


_REPLAY_LAG = "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"


def _name(url: str) -> str:
    """``host:port/database`` of a URL (the file of SQLite): a label without credentials."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:{parsed.database}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
