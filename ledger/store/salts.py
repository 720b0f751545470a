"""The random salt of each UTC day, shared by every worker through the database.

`SaltStore.salt_of` creates a day's salt race-free: every worker offers a fresh random
salt with ``INSERT ... ON CONFLICT DO NOTHING`` and then reads the row, so whichever
insert came first is the one salt all of them use. `SaltStore.forget_before` deletes
past days' salts: nothing derived from a long-lived secret is left to recompute them.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StorageError
from ledger.store.database import Engines
from ledger.store.privacy_schema import SCAN_SALTS


class SaltStore:
    """The ``scan_salts`` table of one database (writes and reads on the primary)."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def salt_of(self, day: str, fresh: bytes) -> bytes:
        """The salt of ``day`` (``YYYY-MM-DD``): ``fresh`` if no worker stored one before,
        else the one stored first.

        Raises:
            StorageError: the database failed.
        """
        insert = (sqlite_insert if self.engines.is_sqlite else pg_insert)(SCAN_SALTS)
        offer = insert.values(day=day, salt=fresh).on_conflict_do_nothing(index_elements=["day"])
        try:
            with self.engines.writer.begin() as conn:
                conn.execute(offer)
                stored = conn.execute(
                    select(SCAN_SALTS.c.salt).where(SCAN_SALTS.c.day == day)
                ).scalar_one()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read the day's scan salt: {e}") from e
        return bytes(stored)

    def forget_before(self, day: str) -> int:
        """Delete the salts of every day before ``day``; return how many.

        Raises:
            StorageError: the database failed.
        """
        try:
            with self.engines.writer.begin() as conn:
                result = conn.execute(delete(SCAN_SALTS).where(SCAN_SALTS.c.day < day))
        except SQLAlchemyError as e:
            raise StorageError(f"cannot delete past scan salts: {e}") from e
        return int(result.rowcount)

    def days(self) -> list[str]:
        """The days whose salt is stored (at most today's, between purges)."""
        try:
            with self.engines.writer.connect() as conn:
                return [str(r.day) for r in conn.execute(select(SCAN_SALTS.c.day))]
        except SQLAlchemyError as e:
            raise StorageError(f"cannot read the scan salts: {e}") from e
