"""Policies are read once from the environment and passed to a ledger at construction
(ledger.service.policies); the services of a per-request copy read its pinned store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ledger.errors import ValidationError
from ledger.service.ledger import Ledger
from ledger.service.policies import ClaimPolicy, Policies, SignalPolicy
from ledger.signals.compute import Thresholds
from tests.integration.world import clock, config


def test_defaults_are_the_documented_ones() -> None:
    assert Policies.from_env({}) == Policies()
    assert Policies().claims == ClaimPolicy(max_failures=10, lockout=timedelta(seconds=900))
    assert Policies().signals == SignalPolicy(Thresholds(), timedelta(days=90))
    assert Policies.from_env({"PROVENANCE_CLAIM_LOCKOUT": ""}) == Policies()


def test_every_variable_is_read() -> None:
    policies = Policies.from_env(
        {
            "PROVENANCE_CLAIM_MAX_FAILURES": "3",
            "PROVENANCE_CLAIM_LOCKOUT": "60",
            "PROVENANCE_SCAN_RETENTION_DAYS": "7",
            "PROVENANCE_TRAVEL_KMH": "900",
            "PROVENANCE_SCANNERS_PER_DAY": "4",
            "PROVENANCE_PROBE_SERIALS": "2",
            "PROVENANCE_POST_CLAIM_CLIENTS": "5",
        }
    )
    assert policies.claims == ClaimPolicy(3, timedelta(seconds=60))
    assert policies.signals.scan_retention == timedelta(days=7)
    assert policies.signals.thresholds == Thresholds(
        post_claim_clients=5, travel_kmh=900, scanners_per_day=4, probe_serials=2
    )


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "ten"])
def test_a_value_that_is_not_a_positive_integer_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Policies.from_env({"PROVENANCE_SCANNERS_PER_DAY": value})
    assert caught.value.field == "PROVENANCE_SCANNERS_PER_DAY"


def test_a_ledger_is_built_with_its_policies_and_its_copies_keep_them(tmp_path: Path) -> None:
    policies = Policies(claims=ClaimPolicy(max_failures=2))
    ledger = Ledger.open(f"sqlite:///{tmp_path}/l.db", config("p"), clock=clock, policies=policies)
    try:
        assert ledger.claims.policy.max_failures == 2
        pinned = ledger.reading(primary=True)
        assert pinned.claims.policy.max_failures == 2
        assert pinned.store is not ledger.store
        for service in (pinned.claims, pinned.signals, pinned.reports, pinned.cosigning):
            assert service._store is pinned.store  # a pinned copy's services read its engine
        assert pinned.exports._store is pinned.store and pinned.epcis._store is pinned.store
        assert pinned.appender._store is pinned.store
    finally:
        ledger.close()
