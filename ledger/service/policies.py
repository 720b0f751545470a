"""The claim and signal policies of a ledger, passed to it at construction.

Read from the environment by `Policies.from_env` (the server: `api.app.create_app`):

- ``PROVENANCE_CLAIM_MAX_FAILURES`` (10) wrong codes lock a unit's claim, and a client,
  for ``PROVENANCE_CLAIM_LOCKOUT`` seconds (900).
- ``PROVENANCE_SCAN_RETENTION_DAYS`` (90): scans older than this are ignored by the
  signals and deleted by ``SignalService.prune_scans`` (run on every server start).
- ``PROVENANCE_TRAVEL_KMH`` (1000), ``PROVENANCE_SCANNERS_PER_DAY`` (10),
  ``PROVENANCE_PROBE_SERIALS`` (5), ``PROVENANCE_POST_CLAIM_CLIENTS`` (1): when the
  clone signals fire (ledger.signals.compute).

A variable that is not set (or empty) keeps its default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from ledger.errors import ValidationError
from ledger.signals.compute import Thresholds

_THRESHOLDS = {
    "PROVENANCE_TRAVEL_KMH": "travel_kmh",
    "PROVENANCE_SCANNERS_PER_DAY": "scanners_per_day",
    "PROVENANCE_PROBE_SERIALS": "probe_serials",
    "PROVENANCE_POST_CLAIM_CLIENTS": "post_claim_clients",
}


@dataclass(frozen=True)
class ClaimPolicy:
    """How many wrong codes lock a unit's claim (and a client), and for how long."""

    max_failures: int = 10
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SignalPolicy:
    """When clone signals fire, and how long scans are kept for them."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    scan_retention: timedelta = timedelta(days=90)


@dataclass(frozen=True)
class Policies:
    """Every policy a `Ledger` is built with; the defaults are the documented ones."""

    claims: ClaimPolicy = field(default_factory=ClaimPolicy)
    signals: SignalPolicy = field(default_factory=SignalPolicy)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Policies:
        """The policies set by ``environ`` (default: the process environment), the
        defaults for every variable not set.

        Raises:
            ValidationError: a variable is not a positive integer (field: its name).
        """
        env = os.environ if environ is None else environ
        claims = ClaimPolicy()
        failures = _positive(env, "PROVENANCE_CLAIM_MAX_FAILURES")
        lockout = _positive(env, "PROVENANCE_CLAIM_LOCKOUT")
        retention = _positive(env, "PROVENANCE_SCAN_RETENTION_DAYS")
        thresholds = {attr: _positive(env, name) for name, attr in _THRESHOLDS.items()}
        if failures is not None:
            claims = replace(claims, max_failures=failures)
        if lockout is not None:
            claims = replace(claims, lockout=timedelta(seconds=lockout))
        signals = SignalPolicy()
        if retention is not None:
            signals = replace(signals, scan_retention=timedelta(days=retention))
        changed = {k: v for k, v in thresholds.items() if v is not None}
        if changed:
            signals = replace(signals, thresholds=replace(signals.thresholds, **changed))
        return cls(claims=claims, signals=signals)


def _positive(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValidationError(f"{name} must be a positive integer", field=name)
    return int(value)
