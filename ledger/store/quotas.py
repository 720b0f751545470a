"""Write quotas in the database: one token bucket per (log, actor), shared by every
worker that opens the database (api.quota; docs/OPERATIONS.md).

``write_buckets`` holds each bucket's tokens and the time they were counted (seconds,
wall clock). `QuotaStore.take` reads, decides and writes a bucket in one transaction
holding its row (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: the write lock that
``BEGIN IMMEDIATE`` takes), so concurrent writers in any worker are served one after
another and never both spend the last tokens. Created by the migration
``0010_write_buckets``.

A take is bookkeeping, not a ledger entry: it commits without waiting for the disk
(`Engines.bookkeeping`; PostgreSQL: ``synchronous_commit`` off for its transaction
only), so a crash of the machine may lose the last few takes (docs/OPERATIONS.md) and a
busy log's quota costs no fsync per request.
"""

from __future__ import annotations

from typing import NamedTuple, cast

from sqlalchemy import Connection, Float, ForeignKey, String, Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import StorageError
from ledger.store.database import Engines
from ledger.store.driversql import fetch
from ledger.store.schema import Base


class WriteBucketRow(Base):
    """An actor's write bucket: its tokens at time ``at`` (seconds)."""

    __tablename__ = "write_buckets"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)


WRITE_BUCKETS = cast(Table, WriteBucketRow.__table__)


class _Statements(NamedTuple):
    """A take's statements in one driver's SQL: raw, as the append's (a take runs once
    per group of single events, and SQLAlchemy's compiling cost more than the row's
    work). Only placeholders are formatted in; every value is a bound parameter."""

    hold: str  # the bucket's tokens and time, its row held (PostgreSQL: FOR UPDATE)
    start: str  # a new bucket, unless another transaction started it first
    put: str  # the bucket's new tokens and time


def _statements(m: str, lock: str) -> _Statements:
    name = WRITE_BUCKETS.name
    return _Statements(
        f"SELECT tokens, at FROM {name} WHERE log = {m} AND actor = {m}{lock}",  # noqa: S608
        f"INSERT INTO {name} (log, actor, tokens, at) VALUES ({m}, {m}, {m}, {m}) "  # noqa: S608
        "ON CONFLICT (log, actor) DO NOTHING",
        f"UPDATE {name} SET tokens = {m}, at = {m} WHERE log = {m} AND actor = {m}",  # noqa: S608
    )


#: by whether the database is SQLite (BEGIN IMMEDIATE holds the write lock already)
_SQL = {True: _statements("?", ""), False: _statements("%s", " FOR UPDATE")}


class QuotaStore:
    """The write buckets of the logs in one database."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def take(
        self,
        log: int,
        actor: str,
        cost: float,
        rate: float,
        burst: float,
        now: float,
        force: bool = False,
    ) -> float:
        """Refill ``actor``'s bucket at ``rate`` tokens per second up to ``burst``, then
        take ``cost`` tokens and return 0, or, if fewer are there and not ``force``, take
        nothing and return the seconds until there are. ``force`` takes them anyway (the
        bucket may go below zero); a negative ``cost`` gives tokens back (never above
        ``burst``). A new bucket starts full. In a transaction of its own.

        Raises:
            StorageError: the database failed; nothing was taken.
        """
        try:
            with self.engines.bookkeeping.begin() as conn:
                if not self.engines.is_sqlite:  # this transaction only; entries stay durable
                    fetch(conn, "SET LOCAL synchronous_commit = off", ())
                return self.take_in(conn, log, actor, cost, rate, burst, now, force)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot count the write quota; nothing was written: {e}") from e

    def take_in(
        self,
        conn: Connection,
        log: int,
        actor: str,
        cost: float,
        rate: float,
        burst: float,
        now: float,
        force: bool = False,
    ) -> float:
        """`take` inside the caller's open transaction ``conn`` (a group's write
        transaction, ledger.service.groupcommit): the same decisions, committed or rolled
        back with it, as durable as its commit. The bucket's row stays held (PostgreSQL:
        ``FOR UPDATE``) until then.

        Raises:
            SQLAlchemyError: a statement failed (the caller's transaction must roll back).
            StorageError: the bucket's row, just started, cannot be read back.
        """
        sql = _SQL[self.engines.is_sqlite]
        # each statement on the driver's own cursor (ledger.store.driversql)
        rows = fetch(conn, sql.hold, (log, actor))
        if not rows:  # a new bucket starts full (another may start it first)
            fetch(conn, sql.start, (log, actor, float(burst), now))
            rows = fetch(conn, sql.hold, (log, actor))
            if len(rows) != 1:  # the row just started or kept: a broken database
                raise StorageError(f"the write bucket of {actor!r} cannot be read")
        tokens, at = float(rows[0][0]), float(rows[0][1])
        if now > at:  # a clock that went back refills nothing
            tokens, at = min(float(burst), tokens + (now - at) * rate), now
        wait = 0.0
        if force or tokens >= cost:
            tokens = min(float(burst), tokens - cost)
        else:
            wait = (cost - tokens) / rate
        fetch(conn, sql.put, (tokens, at, log, actor))
        return wait
