"""Signal and claim settings from the environment, applied to every served ledger.

- ``PROVENANCE_CLAIM_MAX_FAILURES`` (10) wrong codes lock a unit's claim, and a client,
  for ``PROVENANCE_CLAIM_LOCKOUT`` seconds (900).
- ``PROVENANCE_SCAN_RETENTION_DAYS`` (90): scans older than this are ignored by the
  signals and deleted by ``Ledger.prune_scans`` (run on every server start).
- ``PROVENANCE_TRAVEL_KMH`` (1000), ``PROVENANCE_SCANNERS_PER_DAY`` (10),
  ``PROVENANCE_PROBE_SERIALS`` (5), ``PROVENANCE_POST_CLAIM_CLIENTS`` (1): when the
  clone signals fire (ledger.signals.compute).

A variable that is not set leaves the ledger's value as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import timedelta

from ledger.errors import ValidationError
from ledger.service.ledger import Ledger

_THRESHOLDS = {
    "PROVENANCE_TRAVEL_KMH": "travel_kmh",
    "PROVENANCE_SCANNERS_PER_DAY": "scanners_per_day",
    "PROVENANCE_PROBE_SERIALS": "probe_serials",
    "PROVENANCE_POST_CLAIM_CLIENTS": "post_claim_clients",
}


def _positive(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValidationError(f"{name} must be a positive integer", field=name)
    return int(value)


def configure_signals(ledgers: Iterable[Ledger], environ: Mapping[str, str] | None = None) -> None:
    """Apply the environment's claim policy, signal thresholds and scan retention.

    Raises:
        ValidationError: a variable is not a positive integer.
    """
    env = os.environ if environ is None else environ
    failures = _positive(env, "PROVENANCE_CLAIM_MAX_FAILURES")
    lockout = _positive(env, "PROVENANCE_CLAIM_LOCKOUT")
    retention = _positive(env, "PROVENANCE_SCAN_RETENTION_DAYS")
    thresholds = {attr: _positive(env, name) for name, attr in _THRESHOLDS.items()}
    for ledger in ledgers:
        policy = ledger.claim_policy
        if failures is not None:
            policy = replace(policy, max_failures=failures)
        if lockout is not None:
            policy = replace(policy, lockout=timedelta(seconds=lockout))
        ledger.claim_policy = policy
        if retention is not None:
            ledger.scan_retention = timedelta(days=retention)
        changed = {k: v for k, v in thresholds.items() if v is not None}
        if changed:
            ledger.signal_thresholds = replace(ledger.signal_thresholds, **changed)
