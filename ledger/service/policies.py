"""The claim and signal policies of a ledger, passed to it at construction.

Read from the environment by `Policies.from_env` (the server: `api.app.create_app`):

- ``PROVENANCE_CLAIM_MAX_FAILURES`` (10) wrong codes from one client on one unit, or
  ``PROVENANCE_CLAIM_UNIT_MAX_FAILURES`` (30) from everyone on one unit, start a back-off
  of ``PROVENANCE_CLAIM_LOCKOUT`` seconds (900) for that client on that unit, or for the
  unit; each further wrong code doubles the wait, up to ``PROVENANCE_CLAIM_MAX_LOCKOUT``
  seconds (86400). A counter quiet for ``PROVENANCE_CLAIM_FORGET`` seconds (86400) after
  its wait ended starts again from zero (docs/SIGNALS.md, "Claims and resale").
- ``PROVENANCE_SCAN_RETENTION_DAYS`` (90): scans older than this are ignored by the
  signals and deleted with their client hashes by the retention job
  (ledger.service.retention: ``provenance retention run``, and hourly by the server).
- ``PROVENANCE_REPORT_PHOTO_DAYS`` (90): a report's photo is deleted this many days
  after it was filed; ``PROVENANCE_REPORT_CONTACT_DAYS`` (180): its text and client
  hash (what could identify or reach the shopper) are deleted after this many; the
  unit, reason, status and the brand's triage stay (ledger.service.retention).
- ``PROVENANCE_REPORTS_PER_CLIENT`` (5) reports per client (daily client hash) and
  ``PROVENANCE_REPORTS_PER_UNIT`` (50) per unit, each per UTC day, per log: the next one
  is refused (429 ``report-quota``) before its photo is decoded or stored.
- ``PROVENANCE_TRAVEL_KMH`` (1000), ``PROVENANCE_SCANNERS_PER_DAY`` (10),
  ``PROVENANCE_PROBE_SERIALS`` (5), ``PROVENANCE_POST_CLAIM_CLIENTS`` (1): when the
  clone signals fire (ledger.signals.compute).
- ``PROVENANCE_REPORT_REPORTERS`` (3) independent reporters (distinct daily clients from
  distinct /24 IPv4 or /48 IPv6 networks) over ``PROVENANCE_REPORT_DAYS`` (2) distinct
  UTC days turn a unit's open reports into a caution; fewer leave a note, "a report is
  under review" (ledger.signals.reports).

A variable that is not set (or empty) keeps its default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from ledger.errors import ValidationError
from ledger.signals.compute import Thresholds
from ledger.signals.reports import ReportThresholds

_THRESHOLDS = {
    "PROVENANCE_TRAVEL_KMH": "travel_kmh",
    "PROVENANCE_SCANNERS_PER_DAY": "scanners_per_day",
    "PROVENANCE_PROBE_SERIALS": "probe_serials",
    "PROVENANCE_POST_CLAIM_CLIENTS": "post_claim_clients",
}
_REPORTS = {
    "PROVENANCE_REPORT_REPORTERS": "min_reporters",
    "PROVENANCE_REPORT_DAYS": "min_days",
}


@dataclass(frozen=True)
class ClaimPolicy:
    """How many wrong codes a client may try on a unit (``max_failures``), and everyone
    on a unit (``unit_max_failures``), before each further attempt waits: ``lockout``,
    doubled by every further failure, at most ``max_lockout``; a counter whose wait
    ended more than ``forget`` ago starts again."""

    max_failures: int = 10
    lockout: timedelta = timedelta(minutes=15)
    unit_max_failures: int = 30
    max_lockout: timedelta = timedelta(hours=24)
    forget: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.unit_max_failures < 1:
            raise ValidationError("claim failure limits must be at least 1", field="claims")
        if self.lockout <= timedelta(0) or self.max_lockout < self.lockout:
            raise ValidationError(
                "the claim lockout must be positive and at most the maximum lockout",
                field="PROVENANCE_CLAIM_MAX_LOCKOUT",
            )

    def limit(self, scope: str) -> int:
        """The free attempts of a counter: ``max_failures`` for a client on a unit
        (scope ``pair``), ``unit_max_failures`` for a unit (scope ``unit``)."""
        return self.unit_max_failures if scope == "unit" else self.max_failures

    def wait(self, scope: str, failures: int) -> timedelta:
        """How long a counter of ``scope`` must wait after its ``failures``-th attempt:
        nothing before the limit, ``lockout`` at it, doubling with each attempt past it,
        capped at ``max_lockout``."""
        over = failures - self.limit(scope)
        if over < 0:
            return timedelta(0)
        # compared as whole multiples first: a doubling past the cap may not fit a timedelta
        if over >= 64 or (1 << over) > self.max_lockout // self.lockout:
            return self.max_lockout
        return self.lockout * (1 << over)


@dataclass(frozen=True)
class SignalPolicy:
    """When clone signals fire, how long scans are kept for them, and when open reports
    count against a unit (``reports``)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    scan_retention: timedelta = timedelta(days=90)
    reports: ReportThresholds = field(default_factory=ReportThresholds)


@dataclass(frozen=True)
class ReportPolicy:
    """How many reports a client (``per_client``) and a unit (``per_unit``) may get per
    UTC day, and how long a report keeps its photo (``photo_retention``) and its text
    and client hash (``contact_retention``)."""

    per_client: int = 5
    per_unit: int = 50
    photo_retention: timedelta = timedelta(days=90)
    contact_retention: timedelta = timedelta(days=180)

    def __post_init__(self) -> None:
        if self.per_client < 1 or self.per_unit < 1:
            raise ValidationError("report quotas must be at least 1", field="reports")


@dataclass(frozen=True)
class Policies:
    """Every policy a `Ledger` is built with; the defaults are the documented ones."""

    claims: ClaimPolicy = field(default_factory=ClaimPolicy)
    signals: SignalPolicy = field(default_factory=SignalPolicy)
    reports: ReportPolicy = field(default_factory=ReportPolicy)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Policies:
        """The policies set by ``environ`` (default: the process environment), the
        defaults for every variable not set.

        Raises:
            ValidationError: a variable is not a positive integer (field: its name).
        """
        env = os.environ if environ is None else environ
        counts = {
            "max_failures": _positive(env, "PROVENANCE_CLAIM_MAX_FAILURES"),
            "unit_max_failures": _positive(env, "PROVENANCE_CLAIM_UNIT_MAX_FAILURES"),
        }
        seconds = {
            "lockout": _positive(env, "PROVENANCE_CLAIM_LOCKOUT"),
            "max_lockout": _positive(env, "PROVENANCE_CLAIM_MAX_LOCKOUT"),
            "forget": _positive(env, "PROVENANCE_CLAIM_FORGET"),
        }
        claim_settings: dict[str, Any] = {k: v for k, v in counts.items() if v is not None}
        claim_settings.update(
            {k: timedelta(seconds=v) for k, v in seconds.items() if v is not None}
        )
        claims = ClaimPolicy(**claim_settings)
        retention = _positive(env, "PROVENANCE_SCAN_RETENTION_DAYS")
        thresholds = {attr: _positive(env, name) for name, attr in _THRESHOLDS.items()}
        signals = SignalPolicy()
        if retention is not None:
            signals = replace(signals, scan_retention=timedelta(days=retention))
        changed = {k: v for k, v in thresholds.items() if v is not None}
        if changed:
            signals = replace(signals, thresholds=replace(signals.thresholds, **changed))
        reports = {attr: _positive(env, name) for name, attr in _REPORTS.items()}
        changed = {k: v for k, v in reports.items() if v is not None}
        if changed:
            signals = replace(signals, reports=replace(signals.reports, **changed))
        report_counts = {
            "per_client": _positive(env, "PROVENANCE_REPORTS_PER_CLIENT"),
            "per_unit": _positive(env, "PROVENANCE_REPORTS_PER_UNIT"),
        }
        report_days = {
            "photo_retention": _positive(env, "PROVENANCE_REPORT_PHOTO_DAYS"),
            "contact_retention": _positive(env, "PROVENANCE_REPORT_CONTACT_DAYS"),
        }
        report_settings: dict[str, Any] = {k: v for k, v in report_counts.items() if v is not None}
        report_settings.update(
            {k: timedelta(days=v) for k, v in report_days.items() if v is not None}
        )
        return cls(claims=claims, signals=signals, reports=ReportPolicy(**report_settings))


def _positive(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValidationError(f"{name} must be a positive integer", field=name)
    return int(value)
