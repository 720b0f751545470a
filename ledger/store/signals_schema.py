"""Tables of the counterfeit signals, kept outside the signed log (docs/SIGNALS.md).

- ``claim_owners``: the clients known to be a unit's owner (the claimant's daily client
  hash at claim time, and the owner-token pseudonym), so that the owner rescanning the
  unit is not a clone signal;
- ``claim_attempts``: claim attempts per unit (scope ``unit``) and per client on a unit
  (scope ``pair``), and when each may try next (``locked_until``);
- ``reports``: consumer reports with their optional photo and the brand's triage.

Created by the migration ``0004_signals``.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.store.schema import Base


class ClaimOwnerRow(Base):
    """A client (a daily scan hash or an owner-token pseudonym) of a unit's owner."""

    __tablename__ = "claim_owners"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    client: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[str] = mapped_column(String(32))


class ClaimAttemptRow(Base):
    """Claim attempts of one subject (``unit`` gtin/serial, or ``pair``: SHA-256 hex of
    gtin/serial/client) and the time its next attempt may come (``locked_until``)."""

    __tablename__ = "claim_attempts"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[str | None] = mapped_column(String(32))


class ReportRow(Base):
    """A consumer's report about a unit, and how the brand or operator answered it."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    # where the buyer bought it: a shop's name or a listing URL (ledger.service.wherebought)
    where_bought: Mapped[str | None] = mapped_column(String(300))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    photo_type: Mapped[str | None] = mapped_column(String(32))
    client: Mapped[str] = mapped_column(String(32))
    # the reporter's network (/24, /48) as a per-unit pseudonym: independent reporters
    # are counted by it (ledger.signals.reports); None for reports filed before it
    network: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    first_response_at: Mapped[str | None] = mapped_column(String(32))
    resolved_at: Mapped[str | None] = mapped_column(String(32))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    flag_index: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (
        Index("ix_reports_brand", "log", "brand", "status"),
        Index("ix_reports_unit", "log", "gtin", "serial"),
    )


CLAIM_OWNERS = cast(Table, ClaimOwnerRow.__table__)
CLAIM_ATTEMPTS = cast(Table, ClaimAttemptRow.__table__)
REPORTS = cast(Table, ReportRow.__table__)
