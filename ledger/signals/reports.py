"""When open consumer reports count against a unit: independent reporters must agree.

A report is anyone's to file: one anonymous, empty report must not turn a genuine unit
on the shelf amber (a competitor could mark a whole catalogue). So an open report is by
itself only a note, "a report is under review"; the unit's verdict moves to
``caution`` (``reported``) only when

- the brand confirms it: its signed ``flag`` on the unit (the log's ``flagged``, not
  this module), or
- independent reporters agree (`corroborated`): at least ``min_reporters`` distinct
  daily client hashes from as many distinct networks (IPv4 /24, IPv6 /48, kept as a
  per-unit pseudonym: `ReportFact.network`), over at least ``min_days`` UTC days.

Many reports from one network, or from one client, count once: flooding a unit with
reports from one place changes nothing. A report with no network recorded (filed before
networks were) counts as no network at all.

Pure: reports in, a finding out; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.events import format_time


@dataclass(frozen=True)
class ReportThresholds:
    """How many independent reporters (distinct clients from distinct networks) over how
    many distinct UTC days turn open reports into a caution."""

    min_reporters: int = 3
    min_days: int = 2


@dataclass(frozen=True)
class ReportFact:
    """What the rule may know about one open report: its reason, when it was filed, the
    reporter's daily client hash, and its network's per-unit pseudonym (None: unknown)."""

    reason: str
    at: datetime
    client: str
    network: str | None = None


@dataclass(frozen=True)
class ReportFinding:
    """The open reports of a unit, and whether independent reporters agree on them."""

    open: int
    reasons: tuple[str, ...]
    clients: int
    networks: int
    days: int
    first: datetime | None
    last: datetime | None
    corroborated: bool
    thresholds: ReportThresholds

    def evidence(self) -> dict[str, Any]:
        """The finding as the evidence of a ``reported`` or ``report-under-review``
        reason: counts, networks, days, first and last times, the thresholds."""
        return {
            "open": self.open,
            "reasons": list(self.reasons),
            "clients": self.clients,
            "networks": self.networks,
            "days": self.days,
            "first": None if self.first is None else format_time(self.first),
            "last": None if self.last is None else format_time(self.last),
            "min_reporters": self.thresholds.min_reporters,
            "min_days": self.thresholds.min_days,
        }


def corroborated(
    reports: Sequence[ReportFact], thresholds: ReportThresholds = ReportThresholds()
) -> ReportFinding | None:
    """The finding over a unit's open reports, None when there are none.

    Independent reporters are counted as distinct networks, each holding at least one
    client (a network of many clients counts once; distinct networks always hold
    distinct clients). The days are the distinct UTC dates of the reports from known
    networks. Corroborated when both reach their thresholds.
    """
    if not reports:
        return None
    known = [r for r in reports if r.network]
    networks = {r.network for r in known}
    clients = {r.client for r in reports}
    days = {r.at.date() for r in known}
    # a network is one reporter however many clients it shows: the count that matters
    # is the networks', bounded by the distinct clients seen in them
    reporters = min(len(networks), len({r.client for r in known}))
    times = sorted(r.at for r in reports)
    return ReportFinding(
        open=len(reports),
        reasons=tuple(sorted({r.reason for r in reports})),
        clients=len(clients),
        networks=len(networks),
        days=len(days),
        first=times[0],
        last=times[-1],
        corroborated=reporters >= thresholds.min_reporters and len(days) >= thresholds.min_days,
        thresholds=thresholds,
    )
