"""Witness cosignatures of a log's checkpoints, and each witness's latest cosigned size.

The log checks a witness's claimed old size against the size it recorded, and moves
it, in one transaction (C2SP tlog-witness "add-checkpoint": the check and the update
must be atomic, or two racing submissions could roll the record back). Verifying the
cosignature is ledger.service.ledger's job; this module only stores.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StaleCheckpointError, StorageError
from ledger.store.database import Engines
from ledger.store.schema import CheckpointRow, CosignatureRow, WitnessHeadRow

COSIGNATURES = cast(Table, CosignatureRow.__table__)
WITNESS_HEADS = cast(Table, WitnessHeadRow.__table__)
CHECKPOINTS = cast(Table, CheckpointRow.__table__)


class CosignatureStore:
    """Reads and writes of the ``cosignatures`` and ``witness_heads`` tables."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def lines(self, log: int, size: int) -> list[str]:
        """The stored cosignature lines on the checkpoint of ``size``, by witness name."""
        query = (
            select(COSIGNATURES.c.line)
            .where(COSIGNATURES.c.log == log, COSIGNATURES.c.size == size)
            .order_by(COSIGNATURES.c.witness, COSIGNATURES.c.key_hash)
        )
        try:
            with self.engines.reader.connect() as conn:
                return [row.line for row in conn.execute(query)]
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read cosignatures: {e}") from e

    def best_size(self, log: int, needed: int) -> int | None:
        """The checkpoint size >= ``needed`` with the most cosignatures (the largest on a
        tie), or None when no checkpoint that large is cosigned."""
        count = func.count().label("n")
        query = (
            select(COSIGNATURES.c.size, count)
            .where(COSIGNATURES.c.log == log, COSIGNATURES.c.size >= needed)
            .group_by(COSIGNATURES.c.size)
            .order_by(count.desc(), COSIGNATURES.c.size.desc())
            .limit(1)
        )
        try:
            with self.engines.reader.connect() as conn:
                row = conn.execute(query).first()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read cosignatures: {e}") from e
        return None if row is None else int(row.size)

    def heads(self, log: int) -> dict[tuple[str, int], int]:
        """{(witness name, key hash): the latest size it cosigned}."""
        query = select(WITNESS_HEADS).where(WITNESS_HEADS.c.log == log)
        try:
            with self.engines.reader.connect() as conn:
                return {(r.witness, r.key_hash): r.size for r in conn.execute(query)}
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read witness heads: {e}") from e

    def head_times(self, log: int) -> dict[tuple[str, int], tuple[int, int | None]]:
        """{(witness name, key hash): (the latest size it cosigned, that cosignature's
        timestamp in seconds since the epoch, None if its line is gone)}."""
        cosig = COSIGNATURES
        query = select(WITNESS_HEADS.c.witness, WITNESS_HEADS.c.key_hash, WITNESS_HEADS.c.size,
                       cosig.c.timestamp).outerjoin(
            cosig,
            (cosig.c.log == WITNESS_HEADS.c.log)
            & (cosig.c.witness == WITNESS_HEADS.c.witness)
            & (cosig.c.key_hash == WITNESS_HEADS.c.key_hash)
            & (cosig.c.size == WITNESS_HEADS.c.size),
        ).where(WITNESS_HEADS.c.log == log)  # fmt: skip
        try:
            with self.engines.reader.connect() as conn:
                return {(r.witness, r.key_hash): (r.size, r.timestamp) for r in conn.execute(query)}
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read witness heads: {e}") from e

    def first_signed_after(self, log: int, size: int) -> str | None:
        """When the log first signed a checkpoint larger than ``size`` (None: never):
        from then on a witness that cosigned ``size`` is behind."""
        query = (
            select(CHECKPOINTS.c.signed_at)
            .where(CHECKPOINTS.c.log == log, CHECKPOINTS.c.size > size)
            .order_by(CHECKPOINTS.c.size)
            .limit(1)
        )
        try:
            with self.engines.reader.connect() as conn:
                found = conn.execute(query).scalar_one_or_none()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read checkpoints: {e}") from e
        return None if found is None else str(found)

    def add(
        self, log: int, witness: tuple[str, int], old: int, size: int, timestamp: int, line: str
    ) -> None:
        """Store a verified cosignature if ``old`` is the witness's recorded latest size.

        Raises:
            StaleCheckpointError: ``old`` is not the recorded size (0 when none), or
                ``size`` is below it; the error carries the recorded size.
            StorageError: the database failed; nothing was written.
        """
        name, key_hash = witness
        where = (
            WITNESS_HEADS.c.log == log,
            WITNESS_HEADS.c.witness == name,
            WITNESS_HEADS.c.key_hash == key_hash,
        )
        try:
            with self.engines.writer.begin() as conn:
                query = select(WITNESS_HEADS.c.size).where(*where)
                if not self.engines.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serializes
                    query = query.with_for_update()
                recorded = conn.execute(query).scalar_one_or_none()
                if old != (recorded or 0) or size < (recorded or 0):
                    raise StaleCheckpointError(
                        f"the latest checkpoint this witness cosigned has size {recorded or 0}",
                        recorded or 0,
                    )
                if recorded is None:
                    conn.execute(
                        insert(WITNESS_HEADS).values(
                            log=log, witness=name, key_hash=key_hash, size=size
                        )
                    )
                else:
                    conn.execute(update(WITNESS_HEADS).where(*where).values(size=size))
                upsert = (sqlite_insert if self.engines.is_sqlite else pg_insert)(COSIGNATURES)
                conn.execute(
                    upsert.values(
                        log=log,
                        witness=name,
                        key_hash=key_hash,
                        size=size,
                        timestamp=timestamp,
                        line=line,
                    ).on_conflict_do_update(
                        index_elements=["log", "witness", "key_hash", "size"],
                        set_={"timestamp": timestamp, "line": line},
                    )
                )
        except SQLAlchemyError as e:
            raise StorageError(f"cannot store the cosignature; nothing was written: {e}") from e
