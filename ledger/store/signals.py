"""Reads and writes of the counterfeit-signal telemetry: scans per unit and per brand,
owner clients, failed claim attempts and lockouts, consumer reports.

None of this is in the signed log: it is telemetry and triage kept beside it (DESIGN
section 4). No rules here: ledger.service.claims and ledger.service.reports decide, this module
stores. Every database failure surfaces as `StorageError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StorageError
from ledger.rules.state import ProductRecord, UnitRecord
from ledger.store.database import Engines
from ledger.store.privacy_schema import REPORT_QUOTAS
from ledger.store.queries import SCAN_COUNTS, SCANS, latest_leaf_of_kind
from ledger.store.records import RECORD_TABLES
from ledger.store.repository import Store
from ledger.store.signals_schema import CLAIM_ATTEMPTS, CLAIM_OWNERS, REPORTS

UNITS = RECORD_TABLES[UnitRecord]
PRODUCTS = RECORD_TABLES[ProductRecord]
#: scans read per unit to judge it: enough for every signal, bounded for speed
UNIT_SCAN_LIMIT = 500


class Reservation(NamedTuple):
    """The answer of `SignalStore.reserve_attempt`: the attempt was counted (``counted``:
    each subject's failures, this attempt included), or a subject is ``waiting`` until
    ``until`` and nothing was counted."""

    counted: dict[tuple[str, str], int]
    waiting: tuple[str, str] | None
    until: str | None


class Quota(NamedTuple):
    """At most ``limit`` reports per ``(scope, subject)`` on ``day`` (``YYYY-MM-DD``)."""

    scope: str
    subject: str
    day: str
    limit: int


class Filed(NamedTuple):
    """The answer of `SignalStore.insert_report`: the new report's id, or the quota
    that was already spent (and nothing was written)."""

    report_id: int | None
    spent: Quota | None


class SignalStore:
    """The signal tables of one database (shares the `Store`'s engines).

    Reads go where ``reads`` (the ledger's `Store`, maybe pinned to a replica or the
    primary for this request) reads; writes go to the primary.
    """

    def __init__(self, engines: Engines, reads: Store | None = None) -> None:
        self.engines = engines
        self._reads = reads

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        if self._reads is not None:
            with self._reads.read() as conn:
                yield conn
            return
        try:
            with self.engines.reader.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise StorageError(f"database read failed: {e}") from e

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engines.writer.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise StorageError(f"database write failed; nothing was written: {e}") from e

    # --- scans -------------------------------------------------------------------------

    def unit_scans(
        self, log: int, gtin: str, serial: str, since: str
    ) -> tuple[int, list[dict[str, Any]]]:
        """The unit's stored scan count (``scan_counts``) and its latest scans at or after
        ``since`` (at most `UNIT_SCAN_LIMIT`), oldest first, as ``{at, place, client,
        network}``: both as of one moment (one statement, so one snapshot on either
        database). A batch committing between two reads would give a count that does
        not describe the scans read with it (ledger.service.signals keys them by it)."""
        unit = (SCANS.c.log == log, SCANS.c.gtin == gtin, SCANS.c.serial == serial)
        recent = (
            select(SCANS.c.id, SCANS.c.at, SCANS.c.place, SCANS.c.client, SCANS.c.network)
            .where(*unit, SCANS.c.at >= since)
            .order_by(SCANS.c.id.desc())
            .limit(UNIT_SCAN_LIMIT)
            .subquery()
        )
        counted = (
            select(SCAN_COUNTS.c.count)
            .where(
                SCAN_COUNTS.c.log == log,
                SCAN_COUNTS.c.gtin == gtin,
                SCAN_COUNTS.c.serial == serial,
            )
            .scalar_subquery()
        )
        # one row for the count even when no scan is recent: the scans joined onto it
        one = select(literal(1).label("one")).subquery()
        query = (
            select(counted.label("n"), *(recent.c[c] for c in ("at", "place", "client", "network")))
            .select_from(one.outerjoin(recent, true()))
            .order_by(recent.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        count = int(rows[0].n or 0) if rows else 0
        return count, [
            {"at": r.at, "place": r.place, "client": r.client, "network": r.network}
            for r in rows
            if r.at is not None
        ]

    def scanned_units(self, log: int, brand: str, since: str, limit: int) -> list[tuple[str, str]]:
        """The brand's units scanned at or after ``since`` (most scanned first)."""
        joined = SCANS.join(
            UNITS,
            and_(
                UNITS.c.log == SCANS.c.log,
                UNITS.c.gtin == SCANS.c.gtin,
                UNITS.c.serial == SCANS.c.serial,
            ),
        )
        query = (
            select(SCANS.c.gtin, SCANS.c.serial)
            .select_from(joined)
            .where(SCANS.c.log == log, UNITS.c.brand == brand, SCANS.c.at >= since)
            .group_by(SCANS.c.gtin, SCANS.c.serial)
            .order_by(func.count().desc(), SCANS.c.gtin, SCANS.c.serial)
            .limit(limit)
        )
        with self._read() as conn:
            return [(r.gtin, r.serial) for r in conn.execute(query)]

    def unregistered_scans(
        self, log: int, gtins: Sequence[str], since: str
    ) -> list[dict[str, Any]]:
        """Scans at or after ``since`` of serials under ``gtins`` that no unit has, as
        ``{gtin, serial, scans, first, last, clients}`` per serial."""
        if not gtins:
            return []
        registered = (
            select(UNITS.c.serial)
            .where(UNITS.c.log == SCANS.c.log, UNITS.c.gtin == SCANS.c.gtin)
            .where(UNITS.c.serial == SCANS.c.serial)
            .exists()
        )
        query = (
            select(
                SCANS.c.gtin,
                SCANS.c.serial,
                func.count().label("n"),
                func.min(SCANS.c.at).label("first"),
                func.max(SCANS.c.at).label("last"),
                func.count(SCANS.c.client.distinct()).label("clients"),
            )
            .where(SCANS.c.log == log, SCANS.c.gtin.in_(list(gtins)), SCANS.c.at >= since)
            .where(~registered)
            .group_by(SCANS.c.gtin, SCANS.c.serial)
            .order_by(SCANS.c.gtin, SCANS.c.serial)
            .limit(10_000)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "gtin": r.gtin,
                "serial": r.serial,
                "scans": int(r.n),
                "first": r.first,
                "last": r.last,
                "clients": int(r.clients),
            }
            for r in rows
        ]

    def registered_serials(self, log: int, gtin: str, serials: Iterable[str]) -> set[str]:
        """Those of ``serials`` under ``gtin`` that a unit has (commissioned)."""
        wanted = sorted(set(serials))
        if not wanted:
            return set()
        query = select(UNITS.c.serial).where(
            UNITS.c.log == log, UNITS.c.gtin == gtin, UNITS.c.serial.in_(wanted)
        )
        with self._read() as conn:
            return {str(r.serial) for r in conn.execute(query)}

    def brand_gtins(self, log: int, brand: str) -> list[str]:
        """The GTINs the brand registered."""
        query = select(PRODUCTS.c.gtin).where(PRODUCTS.c.log == log, PRODUCTS.c.brand == brand)
        with self._read() as conn:
            return sorted(r.gtin for r in conn.execute(query))

    def product_brand(self, log: int, gtin: str) -> str | None:
        """The brand that registered ``gtin``, if any."""
        query = select(PRODUCTS.c.brand).where(PRODUCTS.c.log == log, PRODUCTS.c.gtin == gtin)
        with self._read() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else str(value)

    def claim_leaves(self, log: int, units: Sequence[tuple[str, str]]) -> dict[Any, bytes]:
        """The leaf bytes of each unit's latest ``claim`` entry, by (gtin, serial)."""
        out: dict[Any, bytes] = {}
        with self._read() as conn:
            for gtin, serial in units:
                leaf = latest_leaf_of_kind(conn, log, gtin, serial, "claim")
                if leaf is not None:
                    out[(gtin, serial)] = leaf
        return out

    # --- owners --------------------------------------------------------------------

    def add_owner_clients(
        self, log: int, gtin: str, serial: str, clients: Sequence[str], at: str
    ) -> None:
        """Remember ``clients`` as the unit's owner (idempotent)."""
        with self._write() as conn:
            known = self._owner_clients(conn, log, gtin, serial)
            rows = [
                {"log": log, "gtin": gtin, "serial": serial, "client": c, "at": at}
                for c in dict.fromkeys(clients)
                if c not in known
            ]
            if rows:
                conn.execute(insert(CLAIM_OWNERS), rows)

    def owner_clients(self, log: int, gtin: str, serial: str) -> set[str]:
        """Every client ever recorded as an owner of the unit."""
        with self._read() as conn:
            return self._owner_clients(conn, log, gtin, serial)

    @staticmethod
    def _owner_clients(conn: Connection, log: int, gtin: str, serial: str) -> set[str]:
        query = select(CLAIM_OWNERS.c.client).where(
            CLAIM_OWNERS.c.log == log, CLAIM_OWNERS.c.gtin == gtin, CLAIM_OWNERS.c.serial == serial
        )
        return {r.client for r in conn.execute(query)}

    # --- claim attempts --------------------------------------------------------------

    def attempts(self, log: int, subjects: Sequence[tuple[str, str]]) -> dict[Any, Any]:
        """``{(scope, subject): (failures, allowed_at)}`` for the subjects that have any."""
        out: dict[Any, Any] = {}
        with self._read() as conn:
            for scope, subject in subjects:
                row = conn.execute(
                    select(CLAIM_ATTEMPTS.c.failures, CLAIM_ATTEMPTS.c.locked_until).where(
                        CLAIM_ATTEMPTS.c.log == log,
                        CLAIM_ATTEMPTS.c.scope == scope,
                        CLAIM_ATTEMPTS.c.subject == subject,
                    )
                ).first()
                if row is not None:
                    out[(scope, subject)] = (int(row.failures), row.locked_until)
        return out

    def reserve_attempt(
        self,
        log: int,
        subjects: Sequence[tuple[str, str]],
        now: str,
        forget_before: str,
        allowed_at: Callable[[str, int], str],
    ) -> Reservation:
        """Count one attempt against every subject, all or none, before it is evaluated.

        For each ``(scope, subject)`` in order, one statement (``INSERT ... ON CONFLICT
        DO UPDATE ... WHERE locked_until <= now RETURNING failures``) adds the attempt
        only if the subject is not waiting, restarting from 1 if its last wait ended
        before ``forget_before``; ``allowed_at(scope, failures)`` then gives the time its
        next attempt may come, stored in the same transaction. The row stays locked (on
        PostgreSQL) or the database does (SQLite, ``BEGIN IMMEDIATE``) until the commit,
        so concurrent attempts are counted one after another and none is lost. If any
        subject is waiting, nothing is counted: the answer names it and its time.
        Times are ledger timestamps (fixed width, so they compare as text).
        """
        table = CLAIM_ATTEMPTS
        dialect_insert = sqlite_insert if self.engines.is_sqlite else pg_insert
        counted: dict[tuple[str, str], int] = {}
        try:
            with self.engines.writer.connect() as conn:
                with conn.begin() as transaction:
                    for scope, subject in subjects:
                        upsert = dialect_insert(table).values(
                            log=log, scope=scope, subject=subject, failures=1, locked_until=now
                        )
                        counting = upsert.on_conflict_do_update(
                            index_elements=["log", "scope", "subject"],
                            set_={
                                "failures": case(
                                    (table.c.locked_until < forget_before, 1),
                                    else_=table.c.failures + 1,
                                ),
                                "locked_until": now,
                            },
                            where=or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
                        ).returning(table.c.failures)
                        failures = conn.execute(counting).scalar_one_or_none()
                        where = (
                            table.c.log == log,
                            table.c.scope == scope,
                            table.c.subject == subject,
                        )
                        if failures is None:
                            until = conn.execute(
                                select(table.c.locked_until).where(*where)
                            ).scalar_one()
                            transaction.rollback()
                            return Reservation(counted={}, waiting=(scope, subject), until=until)
                        counted[(scope, subject)] = int(failures)
                        next_at = allowed_at(scope, int(failures))
                        if next_at > now:
                            conn.execute(update(table).where(*where).values(locked_until=next_at))
        except SQLAlchemyError as e:
            raise StorageError(f"cannot count the claim attempt; nothing was counted: {e}") from e
        return Reservation(counted=counted, waiting=None, until=None)

    def clear_attempts(self, log: int, subjects: Sequence[tuple[str, str]]) -> None:
        """Forget the subjects' attempts (after a right code)."""
        with self._write() as conn:
            for scope, subject in subjects:
                conn.execute(
                    delete(CLAIM_ATTEMPTS).where(
                        CLAIM_ATTEMPTS.c.log == log,
                        CLAIM_ATTEMPTS.c.scope == scope,
                        CLAIM_ATTEMPTS.c.subject == subject,
                    )
                )

    # --- reports -------------------------------------------------------------------

    def insert_report(
        self, log: int, row: Mapping[str, Any], quotas: Sequence[Quota] = ()
    ) -> Filed:
        """Store a report unless a quota is spent; return its id, or the spent quota.

        Each quota is counted in the transaction that stores the report, by one
        statement (``INSERT ... ON CONFLICT DO UPDATE SET used = used + 1 WHERE used <
        limit RETURNING used``) that leaves a full counter alone and answers nothing:
        then the transaction is rolled back, so a refused report leaves neither a row nor
        a count behind, and concurrent reports are counted one after another (the row
        lock on PostgreSQL, the database lock on SQLite), never past the limit.
        """
        table = REPORT_QUOTAS
        dialect_insert = sqlite_insert if self.engines.is_sqlite else pg_insert
        try:
            with self.engines.writer.connect() as conn:
                with conn.begin() as transaction:
                    for quota in quotas:
                        upsert = dialect_insert(table).values(
                            log=log, scope=quota.scope, subject=quota.subject, day=quota.day, used=1
                        )
                        counting = upsert.on_conflict_do_update(
                            index_elements=["log", "scope", "subject", "day"],
                            set_={"used": table.c.used + 1},
                            where=table.c.used < quota.limit,
                        ).returning(table.c.used)
                        if quota.limit < 1 or conn.execute(counting).scalar_one_or_none() is None:
                            transaction.rollback()
                            return Filed(report_id=None, spent=quota)
                    result = conn.execute(insert(REPORTS).values(log=log, **row))
                    key = result.inserted_primary_key
        except SQLAlchemyError as e:
            raise StorageError(f"database write failed; nothing was written: {e}") from e
        if key is None:  # pragma: no cover - every supported database returns it
            raise StorageError("the database returned no report id")
        return Filed(report_id=int(key[0]), spent=None)

    def quota_used(self, log: int, quotas: Sequence[Quota]) -> Quota | None:
        """The first of ``quotas`` already spent, or None (a read: the count that
        decides is `insert_report`'s)."""
        with self._read() as conn:
            for quota in quotas:
                used = conn.execute(
                    select(REPORT_QUOTAS.c.used).where(
                        REPORT_QUOTAS.c.log == log,
                        REPORT_QUOTAS.c.scope == quota.scope,
                        REPORT_QUOTAS.c.subject == quota.subject,
                        REPORT_QUOTAS.c.day == quota.day,
                    )
                ).scalar_one_or_none()
                if (used or 0) >= quota.limit:
                    return quota
        return None

    def report(self, log: int, report_id: int) -> dict[str, Any] | None:
        """One report (with its photo), or None."""
        with self._read() as conn:
            row = conn.execute(
                select(REPORTS).where(REPORTS.c.log == log, REPORTS.c.id == report_id)
            ).first()
        return None if row is None else dict(row._mapping)

    def reports(
        self,
        log: int,
        *,
        brand: str | None = None,
        unit: tuple[str, str] | None = None,
        status: Sequence[str] = (),
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Reports (without photos) by brand and/or unit and status, newest first."""
        columns = [c for c in REPORTS.c if c.name != "photo"]
        query = select(*columns, (REPORTS.c.photo.is_not(None)).label("has_photo"))
        query = query.where(REPORTS.c.log == log)
        if brand is not None:
            query = query.where(REPORTS.c.brand == brand)
        if unit is not None:
            query = query.where(REPORTS.c.gtin == unit[0], REPORTS.c.serial == unit[1])
        if status:
            query = query.where(REPORTS.c.status.in_(list(status)))
        query = query.order_by(REPORTS.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def update_report(
        self, log: int, report_id: int, expected_status: str, values: Mapping[str, Any]
    ) -> bool:
        """Update a report if its status is still ``expected_status``; tell whether it was."""
        with self._write() as conn:
            result = conn.execute(
                update(REPORTS)
                .where(REPORTS.c.log == log, REPORTS.c.id == report_id)
                .where(REPORTS.c.status == expected_status)
                .values(**values)
            )
        return bool(result.rowcount)
