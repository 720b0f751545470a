"""Tables and queries of the brand and operator console (docs/CONSOLE.md), kept outside
the signed log: staff accounts, their sessions, the audit trail of their actions, the
triage state of alerts, and the sealed console keys brands delegated to the server.

- ``console_users``: one staff account (an organisation, a role, an argon2 hash, the
  wrong passwords in a row and the time a lockout ends);
- ``console_sessions``: a signed-in browser, by the SHA-256 of its cookie (a stolen
  database row does not sign anyone in);
- ``console_audit``: what staff did, append-only;
- ``console_triage``: an alert's status, assignee and note (``alert``: ``report:ID`` or
  ``signal:GTIN/SERIAL/CODE``); console data, not log entries;
- ``console_keys``: the private key an organisation delegated to its console, sealed
  with a key only the operator's registry key derives (ledger.service.console).

Created by the migration ``0015_console``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import ConflictError, StorageError
from ledger.store.database import Engines
from ledger.store.queries import HEAD_COLUMN, with_heads
from ledger.store.schema import ActorTable, AuthorizationTable, Base, ScanRow, UnitTable


class ConsoleUserRow(Base):
    """A staff account of one organisation (an actor id) with one role."""

    __tablename__ = "console_users"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    org: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(32))
    __table_args__ = (Index("ix_console_users_org", "org"),)


class ConsoleSessionRow(Base):
    """A signed-in browser: the SHA-256 hex of its session cookie, and until when."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    __table_args__ = (Index("ix_console_sessions_user", "username"),)


class ConsoleAuditRow(Base):
    """One staff action: who, of which organisation, did what to what, when."""

    __tablename__ = "console_audit"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[str] = mapped_column(String(32))
    org: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_console_audit_org", "org", "id"),)


class ConsoleTriageRow(Base):
    """The console's triage of one alert of one organisation."""

    __tablename__ = "console_triage"
    org: Mapped[str] = mapped_column(String(64), primary_key=True)
    alert: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    first_action_at: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))
    flag_index: Mapped[int | None] = mapped_column(BigInteger)


class ConsoleKeyRow(Base):
    """An organisation's console key: its id and its sealed private key."""

    __tablename__ = "console_keys"
    org: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(String(32))


USERS = cast(Table, ConsoleUserRow.__table__)
SESSIONS = cast(Table, ConsoleSessionRow.__table__)
AUDIT = cast(Table, ConsoleAuditRow.__table__)
TRIAGE = cast(Table, ConsoleTriageRow.__table__)
KEYS = cast(Table, ConsoleKeyRow.__table__)
_UNITS = cast(Table, UnitTable.__table__)
_ACTORS = cast(Table, ActorTable.__table__)
_SCANS = cast(Table, ScanRow.__table__)
_AUTHS = cast(Table, AuthorizationTable.__table__)


class ConsoleStore:
    """The console's rows in one database (every log of it shares the staff)."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def _write(self, *statements: Any) -> int:
        """Run ``statements`` in one transaction; return the rows the last one touched."""
        try:
            with self.engines.writer.begin() as conn:
                touched = 0
                for statement in statements:
                    touched = conn.execute(statement).rowcount
                return touched
        except IntegrityError as exc:
            raise ConflictError("that row exists already") from exc
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the console tables could not be written: {exc}") from exc

    def _rows(self, statement: Any, units_of: int | None = None) -> list[dict[str, Any]]:
        """The rows ``statement`` reads; ``units_of``: they are units of that log, read
        with `HEAD_COLUMN`, whose ``head`` is made the unit's head (`queries.with_heads`)."""
        try:
            with self.engines.writer.connect() as conn:  # staff read their own writes
                rows = [dict(r._mapping) for r in conn.execute(statement)]
                return rows if units_of is None else with_heads(conn, units_of, rows)
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the console tables could not be read: {exc}") from exc

    # --- users and sessions ------------------------------------------------------------

    def add_user(self, row: dict[str, Any]) -> None:
        """Insert a user row.

        Raises:
            ConflictError: the username is taken.
        """
        self._write(insert(USERS).values(**row))

    def user(self, username: str) -> dict[str, Any] | None:
        """The user row of ``username``, or None."""
        found = self._rows(select(USERS).where(USERS.c.username == username))
        return found[0] if found else None

    def users(self, org: str | None) -> list[dict[str, Any]]:
        """The users of ``org`` (None: all), by name."""
        query = select(USERS).order_by(USERS.c.username)
        if org is not None:
            query = query.where(USERS.c.org == org)
        return self._rows(query)

    def set_login_state(self, username: str, failures: int, locked_until: str | None) -> None:
        """Record the wrong passwords in a row and the end of a lockout."""
        self._write(
            update(USERS)
            .where(USERS.c.username == username)
            .values(failures=failures, locked_until=locked_until)
        )

    def set_password(self, username: str, password_hash: str) -> None:
        """Replace a user's password hash and end every session of the user."""
        self._write(
            update(USERS)
            .where(USERS.c.username == username)
            .values(password_hash=password_hash, failures=0, locked_until=None),
            delete(SESSIONS).where(SESSIONS.c.username == username),
        )

    def add_session(self, row: dict[str, Any]) -> None:
        """Insert a session row."""
        self._write(insert(SESSIONS).values(**row))

    def session(self, token_hash: str) -> dict[str, Any] | None:
        """The session row and its user's org and role, or None."""
        found = self._rows(
            select(SESSIONS, USERS.c.org, USERS.c.role)
            .join(USERS, USERS.c.username == SESSIONS.c.username)
            .where(SESSIONS.c.token_hash == token_hash)
        )
        return found[0] if found else None

    def end_session(self, token_hash: str) -> None:
        """Delete a session (sign-out)."""
        self._write(delete(SESSIONS).where(SESSIONS.c.token_hash == token_hash))

    def prune_sessions(self, now: str) -> int:
        """Delete sessions that expired before ``now``; return how many."""
        return self._write(delete(SESSIONS).where(SESSIONS.c.expires_at < now))

    # --- audit and triage --------------------------------------------------------------

    def audit(self, row: dict[str, Any]) -> None:
        """Append one audit row."""
        self._write(insert(AUDIT).values(**row))

    def audit_trail(self, org: str | None, limit: int = 200) -> list[dict[str, Any]]:
        """The latest audit rows of ``org`` (None: all), newest first."""
        query = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
        if org is not None:
            query = query.where(AUDIT.c.org == org)
        return self._rows(query)

    def triage(self, org: str) -> dict[str, dict[str, Any]]:
        """The triage rows of ``org`` by alert."""
        return {r["alert"]: r for r in self._rows(select(TRIAGE).where(TRIAGE.c.org == org))}

    def set_triage(self, org: str, alert: str, values: dict[str, Any]) -> None:
        """Create or update the triage row of ``alert``; ``first_action_at`` is kept once
        set."""
        where = (TRIAGE.c.org == org, TRIAGE.c.alert == alert)
        try:
            with self.engines.writer.begin() as conn:
                found = conn.execute(select(TRIAGE).where(*where)).first()
                if found is None:
                    conn.execute(insert(TRIAGE).values(org=org, alert=alert, **values))
                else:
                    if found.first_action_at is not None:
                        values = {**values, "first_action_at": found.first_action_at}
                    conn.execute(update(TRIAGE).where(*where).values(**values))
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the triage could not be written: {exc}") from exc

    # --- console keys ------------------------------------------------------------------

    def put_key(self, row: dict[str, Any]) -> None:
        """Store (or replace) an organisation's sealed console key."""
        self._write(
            delete(KEYS).where(KEYS.c.org == row["org"]),
            insert(KEYS).values(**row),
        )

    def key(self, org: str) -> dict[str, Any] | None:
        """The console key row of ``org``, or None."""
        found = self._rows(select(KEYS).where(KEYS.c.org == org))
        return found[0] if found else None

    # --- reads of the log's projections for the console --------------------------------

    def brands(self, log: int) -> list[str]:
        """The ids of the brands registered in ``log``."""
        rows = self._rows(
            select(_ACTORS.c.id)
            .where(_ACTORS.c.log == log, _ACTORS.c.role == "brand")
            .order_by(_ACTORS.c.id)
        )
        return [r["id"] for r in rows]

    def actor_role(self, log: int, actor: str) -> str | None:
        """The role of ``actor`` in ``log``, or None."""
        rows = self._rows(select(_ACTORS.c.role).where(_ACTORS.c.log == log, _ACTORS.c.id == actor))
        return rows[0]["role"] if rows else None

    def find_units(
        self, log: int, brands: Sequence[str] | None, words: Sequence[str], limit: int
    ) -> list[dict[str, Any]]:
        """Units of ``brands`` (None: any) whose serial, GTIN or lot equals each of
        ``words`` (a serial also by prefix), by GTIN and serial."""
        query = select(
            _UNITS.c.gtin,
            _UNITS.c.serial,
            _UNITS.c.brand,
            _UNITS.c.lot,
            _UNITS.c.recalled,
            _UNITS.c.flags,
            _UNITS.c.sold,
            _UNITS.c.custodian,
        ).where(_UNITS.c.log == log)
        if brands is not None:
            query = query.where(_UNITS.c.brand.in_(list(brands)))
        for word in words:
            query = query.where(
                or_(
                    _UNITS.c.gtin == word,
                    _UNITS.c.lot == word,
                    _UNITS.c.serial == word,
                    _UNITS.c.serial.startswith(word, autoescape=True),
                )
            )
        return self._rows(query.order_by(_UNITS.c.gtin, _UNITS.c.serial).limit(limit))

    def lot_units(self, log: int, brand: str, gtin: str, lot: str) -> list[dict[str, Any]]:
        """The units of ``brand`` with ``gtin`` in ``lot``, with their heads."""
        return self._rows(
            select(_UNITS.c.serial, HEAD_COLUMN, _UNITS.c.recalled, _UNITS.c.decommissioned)
            .where(
                _UNITS.c.log == log,
                _UNITS.c.brand == brand,
                _UNITS.c.gtin == gtin,
                _UNITS.c.lot == lot,
            )
            .order_by(_UNITS.c.serial),
            units_of=log,
        )

    def authorizations(self, log: int, brands: Sequence[str]) -> list[dict[str, Any]]:
        """The authorizations ``brands`` granted in ``log``, by partner, newest first."""
        return self._rows(
            select(_AUTHS)
            .where(_AUTHS.c.log == log, _AUTHS.c.brand.in_(list(brands)))
            .order_by(_AUTHS.c.partner, _AUTHS.c.granted_index.desc())
        )

    def scans_since(self, log: int, brands: Sequence[str], since: str) -> int:
        """How many scans of units of ``brands`` were recorded at or after ``since``."""
        from sqlalchemy import and_, func

        rows = self._rows(
            select(func.count())
            .select_from(
                _SCANS.join(
                    _UNITS,
                    and_(
                        _UNITS.c.log == _SCANS.c.log,
                        _UNITS.c.gtin == _SCANS.c.gtin,
                        _UNITS.c.serial == _SCANS.c.serial,
                    ),
                )
            )
            .where(_SCANS.c.log == log, _SCANS.c.at >= since, _UNITS.c.brand.in_(list(brands)))
        )
        return int(next(iter(rows[0].values()))) if rows else 0

    def brand_counts(self, log: int, brands: Sequence[str]) -> dict[str, int]:
        """How many units each of ``brands`` minted in ``log``, and how many are recalled
        (``units``, ``recalled``)."""
        from sqlalchemy import func

        rows = self._rows(
            select(func.count(), func.coalesce(func.sum(_UNITS.c.recalled.cast(Integer)), 0))
            .select_from(_UNITS)
            .where(_UNITS.c.log == log, _UNITS.c.brand.in_(list(brands)))
        )
        values = list(rows[0].values()) if rows else [0, 0]
        return {"units": int(values[0]), "recalled": int(values[1])}
