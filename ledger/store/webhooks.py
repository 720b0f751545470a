"""Tables and queries of the console's webhooks (docs/CONSOLE.md, "Webhooks"), kept
outside the signed log.

- ``console_webhooks``: a brand's delivery target: its kind (``generic``, ``wecom``,
  ``dingtalk``, ``feishu``), a display form of its URL with the secret parts masked, and
  the URL and secret sealed (AES-256-GCM, ledger.service.webhooks);
- ``console_webhook_seen``: the alerts of an organisation already turned into
  deliveries, so that each new alert is delivered once (its primary key is the
  guard when two workers look at once);
- ``console_deliveries``: one message to one webhook: its status (``pending``,
  ``delivered``, ``failed``, ``dropped``), tries, when it is next due, the last error.

Created by the migration ``0018_hooks``.
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
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import StorageError
from ledger.store.database import Engines
from ledger.store.schema import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class WebhookRow(Base):
    """A brand's webhook: kind, masked URL, sealed URL and secret."""

    __tablename__ = "console_webhooks"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    org: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    display: Mapped[str] = mapped_column(String(300))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_console_webhooks_org", "org"),)


class WebhookSeenRow(Base):
    """An alert of an organisation already handed to its webhooks."""

    __tablename__ = "console_webhook_seen"
    org: Mapped[str] = mapped_column(String(64), primary_key=True)
    alert: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[str] = mapped_column(String(32))


class DeliveryRow(Base):
    """One message for one webhook and how its delivery went."""

    __tablename__ = "console_deliveries"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    org: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[int] = mapped_column(BigInteger)
    alert: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[str] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(32))
    done_at: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (
        Index("ix_console_deliveries_due", "status", "next_at"),
        Index("ix_console_deliveries_org", "org", "id"),
    )


HOOKS = cast(Table, WebhookRow.__table__)
SEEN = cast(Table, WebhookSeenRow.__table__)
DELIVERIES = cast(Table, DeliveryRow.__table__)


class WebhookStore:
    """The webhook rows of one database."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def _rows(self, statement: Any) -> list[dict[str, Any]]:
        try:
            with self.engines.writer.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(statement)]
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the webhook tables could not be read: {exc}") from exc

    def _write(self, *statements: Any) -> int:
        try:
            with self.engines.writer.begin() as conn:
                touched = 0
                for statement in statements:
                    touched = conn.execute(statement).rowcount
                return touched
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the webhook tables could not be written: {exc}") from exc

    # --- webhooks ----------------------------------------------------------------------

    def add_hook(self, row: dict[str, Any], seen: Sequence[str], at: str) -> int:
        """Insert a webhook and mark ``seen`` (the organisation's alerts now) as already
        handed over, in one transaction, so a new webhook gets only new alerts; return
        its id."""
        try:
            with self.engines.writer.begin() as conn:
                inserted = conn.execute(insert(HOOKS).values(**row)).inserted_primary_key
                assert inserted is not None  # noqa: S101 - an insert has a key
                hook_id = int(inserted[0])
                known = {
                    r.alert
                    for r in conn.execute(select(SEEN.c.alert).where(SEEN.c.org == row["org"]))
                }
                fresh = [{"org": row["org"], "alert": a, "at": at} for a in seen if a not in known]
                if fresh:
                    conn.execute(insert(SEEN), fresh)
                return hook_id
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the webhook could not be stored: {exc}") from exc

    def hooks(self, org: str | None = None) -> list[dict[str, Any]]:
        """The webhooks of ``org`` (None: every organisation's), oldest first."""
        query = select(HOOKS).order_by(HOOKS.c.id)
        if org is not None:
            query = query.where(HOOKS.c.org == org)
        return self._rows(query)

    def hook(self, hook_id: int) -> dict[str, Any] | None:
        """One webhook row, or None."""
        found = self._rows(select(HOOKS).where(HOOKS.c.id == hook_id))
        return found[0] if found else None

    def delete_hook(self, org: str, hook_id: int, at: str) -> bool:
        """Delete ``org``'s webhook ``hook_id`` and drop its pending deliveries (kept in
        the log as ``dropped``); tell whether it existed."""
        return bool(
            self._write(
                update(DELIVERIES)
                .where(DELIVERIES.c.webhook_id == hook_id, DELIVERIES.c.status == "pending")
                .values(status="dropped", done_at=at, last_error="the webhook was deleted"),
                delete(HOOKS).where(HOOKS.c.id == hook_id, HOOKS.c.org == org),
            )
        )

    # --- new alerts --------------------------------------------------------------------

    def seen(self, org: str) -> set[str]:
        """The alerts of ``org`` already handed to its webhooks."""
        return {r["alert"] for r in self._rows(select(SEEN.c.alert).where(SEEN.c.org == org))}

    def enqueue(self, org: str, alert: str, at: str, deliveries: Sequence[dict[str, Any]]) -> bool:
        """Mark ``alert`` seen and insert its ``deliveries`` in one transaction; False
        (and nothing written) when another worker marked it first."""
        try:
            with self.engines.writer.begin() as conn:
                conn.execute(insert(SEEN).values(org=org, alert=alert, at=at))
                if deliveries:
                    conn.execute(insert(DELIVERIES), list(deliveries))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the deliveries could not be stored: {exc}") from exc

    # --- deliveries --------------------------------------------------------------------

    def due(self, now: str, limit: int) -> list[dict[str, Any]]:
        """Pending deliveries due at ``now``, oldest first."""
        return self._rows(
            select(DELIVERIES)
            .where(DELIVERIES.c.status == "pending", DELIVERIES.c.next_at <= now)
            .order_by(DELIVERIES.c.next_at, DELIVERIES.c.id)
            .limit(limit)
        )

    def claim(self, delivery_id: int, due_at: str, lease_until: str) -> bool:
        """Take a due delivery for one attempt: move its ``next_at`` from ``due_at`` to
        ``lease_until`` if no other worker did; tell whether this one did."""
        return bool(
            self._write(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id == delivery_id,
                    DELIVERIES.c.status == "pending",
                    DELIVERIES.c.next_at == due_at,
                )
                .values(next_at=lease_until)
            )
        )

    def finish(self, delivery_id: int, values: dict[str, Any]) -> None:
        """Record an attempt's outcome (status, tries, next_at, last error)."""
        self._write(update(DELIVERIES).where(DELIVERIES.c.id == delivery_id).values(**values))

    def deliveries(self, org: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest deliveries of ``org``, newest first (payloads left out)."""
        columns = [c for c in DELIVERIES.c if c.name != "payload"]
        return self._rows(
            select(*columns, HOOKS.c.kind, HOOKS.c.display)
            .select_from(DELIVERIES.outerjoin(HOOKS, HOOKS.c.id == DELIVERIES.c.webhook_id))
            .where(DELIVERIES.c.org == org)
            .order_by(DELIVERIES.c.id.desc())
            .limit(limit)
        )
