"""Deleting shoppers' data once its retention period is over (docs/PRIVACY.md).

Every statement here touches telemetry and triage tables only (reports, claim owners
and attempts, report quotas); the log's tables (entries, leaves, nodes, tiles, checkpoints,
projections) are never named, so retention cannot change what the audit replays. The
scans are pruned by `Store.delete_scans_before`. Times are ledger timestamps and days
``YYYY-MM-DD``: both fixed width, so they compare as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, delete, not_, or_, update
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StorageError
from ledger.store.database import Engines
from ledger.store.privacy_schema import REPORT_QUOTAS
from ledger.store.signals_schema import CLAIM_ATTEMPTS, CLAIM_OWNERS, REPORTS

#: what a report's client hash becomes once deleted (the column is not nullable)
NO_CLIENT = ""


class RetentionStore:
    """The deletes of the retention job for one database (on the primary)."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engines.writer.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise StorageError(f"retention failed; nothing was deleted: {e}") from e

    def delete_photos_before(self, log: int, created_before: str) -> int:
        """Delete the photos of reports filed before ``created_before``; return how many."""
        with self._write() as conn:
            result = conn.execute(
                update(REPORTS)
                .where(REPORTS.c.log == log, REPORTS.c.created_at < created_before)
                .where(REPORTS.c.photo.is_not(None))
                .values(photo=None, photo_type=None)
            )
        return int(result.rowcount)

    def delete_contacts_before(self, log: int, created_before: str) -> int:
        """Delete the shopper's own words (text, where bought) and client hash from reports
        filed before ``created_before`` (the unit, reason, status and the brand's triage
        stay); return how many reports lost them."""
        with self._write() as conn:
            result = conn.execute(
                update(REPORTS)
                .where(REPORTS.c.log == log, REPORTS.c.created_at < created_before)
                .where(
                    or_(
                        REPORTS.c.text.is_not(None),
                        REPORTS.c.where_bought.is_not(None),
                        REPORTS.c.client != NO_CLIENT,
                    )
                )
                .values(text=None, where_bought=None, client=NO_CLIENT)
            )
        return int(result.rowcount)

    def delete_owner_clients_before(self, log: int, at: str) -> int:
        """Delete owners' daily client hashes recorded before ``at`` (the owner-token
        pseudonyms, ``o...``, stay: they name no address); return how many."""
        with self._write() as conn:
            result = conn.execute(
                delete(CLAIM_OWNERS).where(
                    CLAIM_OWNERS.c.log == log,
                    CLAIM_OWNERS.c.at < at,
                    not_(CLAIM_OWNERS.c.client.startswith("o")),
                )
            )
        return int(result.rowcount)

    def delete_attempts_before(self, log: int, ended_before: str) -> int:
        """Delete claim-attempt counters whose wait ended before ``ended_before`` (the
        claim policy's ``forget``: such a counter would start again from zero anyway);
        return how many."""
        with self._write() as conn:
            result = conn.execute(
                delete(CLAIM_ATTEMPTS).where(
                    CLAIM_ATTEMPTS.c.log == log,
                    or_(
                        CLAIM_ATTEMPTS.c.locked_until.is_(None),
                        CLAIM_ATTEMPTS.c.locked_until < ended_before,
                    ),
                )
            )
        return int(result.rowcount)

    def delete_quotas_before(self, log: int, day: str) -> int:
        """Delete the report counters of days before ``day``; return how many."""
        with self._write() as conn:
            result = conn.execute(
                delete(REPORT_QUOTAS).where(REPORT_QUOTAS.c.log == log, REPORT_QUOTAS.c.day < day)
            )
        return int(result.rowcount)
