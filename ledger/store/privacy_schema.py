"""Tables that keep shoppers' data short-lived (docs/PRIVACY.md).

- ``scan_salts``: the random salt of each UTC day that the daily client hash is keyed
  with; at most today's row is kept (`ledger.store.salts`), so once a day ends no one,
  the operator included, can recompute that day's hashes or link them to another day's;
- ``report_quotas``: reports filed per (scope, subject) per UTC day, counted in the
  transaction that stores the report (scope ``client``: a daily client hash; ``unit``:
  ``gtin/serial``); rows of past days are deleted by the retention job.

Created by the migration ``0006_privacy``.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from ledger.store.schema import Base


class ScanSaltRow(Base):
    """The random 32-byte salt of one UTC day (``YYYY-MM-DD``)."""

    __tablename__ = "scan_salts"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)


class ReportQuotaRow(Base):
    """How many reports one subject filed on one UTC day."""

    __tablename__ = "report_quotas"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)


SCAN_SALTS = cast(Table, ScanSaltRow.__table__)
REPORT_QUOTAS = cast(Table, ReportQuotaRow.__table__)
