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

from typing import cast

from sqlalchemy import Float, ForeignKey, String, Table, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import StorageError
from ledger.store.database import Engines
from ledger.store.schema import Base


class WriteBucketRow(Base):
    """An actor's write bucket: its tokens at time ``at`` (seconds)."""

    __tablename__ = "write_buckets"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)


WRITE_BUCKETS = cast(Table, WriteBucketRow.__table__)


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
        ``burst``). A new bucket starts full.

        Raises:
            StorageError: the database failed; nothing was taken.
        """
        table = WRITE_BUCKETS
        where = (table.c.log == log, table.c.actor == actor)
        dialect_insert = sqlite_insert if self.engines.is_sqlite else pg_insert
        try:
            with self.engines.bookkeeping.begin() as conn:
                if not self.engines.is_sqlite:  # this transaction only; entries stay durable
                    conn.execute(text("SET LOCAL synchronous_commit = off"))
                conn.execute(
                    dialect_insert(table)
                    .values(log=log, actor=actor, tokens=float(burst), at=now)
                    .on_conflict_do_nothing(index_elements=["log", "actor"])
                )
                tokens, at = conn.execute(
                    select(table.c.tokens, table.c.at).where(*where).with_for_update()
                ).one()
                if now > at:  # a clock that went back refills nothing
                    tokens, at = min(float(burst), tokens + (now - at) * rate), now
                wait = 0.0
                if force or tokens >= cost:
                    tokens = min(float(burst), tokens - cost)
                else:
                    wait = (cost - tokens) / rate
                conn.execute(update(table).where(*where).values(tokens=tokens, at=at))
        except SQLAlchemyError as e:
            raise StorageError(f"cannot count the write quota; nothing was written: {e}") from e
        return wait
