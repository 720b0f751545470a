"""Policies are read once from the environment and passed to a ledger at construction
(ledger.service.policies); the services of a per-request copy read its pinned store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import ValidationError
from ledger.service.ledger import Ledger
from ledger.service.policies import ClaimPolicy, Policies, SignalPolicy
from ledger.signals.compute import Thresholds
from tests.integration.world import clock, config


def test_defaults_are_the_documented_ones() -> None:
    assert Policies.from_env({}) == Policies()
    assert Policies().claims == ClaimPolicy(
        max_failures=10,
        lockout=timedelta(seconds=900),
        unit_max_failures=30,
        max_lockout=timedelta(hours=24),
        forget=timedelta(hours=24),
    )
    assert Policies().signals == SignalPolicy(Thresholds(), timedelta(days=90))
    assert Policies.from_env({"PROVENANCE_CLAIM_LOCKOUT": ""}) == Policies()


def test_every_variable_is_read() -> None:
    policies = Policies.from_env(
        {
            "PROVENANCE_CLAIM_MAX_FAILURES": "3",
            "PROVENANCE_CLAIM_LOCKOUT": "60",
            "PROVENANCE_CLAIM_UNIT_MAX_FAILURES": "7",
            "PROVENANCE_CLAIM_MAX_LOCKOUT": "600",
            "PROVENANCE_CLAIM_FORGET": "3600",
            "PROVENANCE_SCAN_RETENTION_DAYS": "7",
            "PROVENANCE_TRAVEL_KMH": "900",
            "PROVENANCE_SCANNERS_PER_DAY": "4",
            "PROVENANCE_PROBE_SERIALS": "2",
            "PROVENANCE_POST_CLAIM_CLIENTS": "5",
        }
    )
    assert policies.claims == ClaimPolicy(
        3, timedelta(seconds=60), 7, timedelta(seconds=600), timedelta(seconds=3600)
    )
    assert policies.signals.scan_retention == timedelta(days=7)
    assert policies.signals.thresholds == Thresholds(
        post_claim_clients=5, travel_kmh=900, scanners_per_day=4, probe_serials=2
    )


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "ten"])
def test_a_value_that_is_not_a_positive_integer_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Policies.from_env({"PROVENANCE_SCANNERS_PER_DAY": value})
    assert caught.value.field == "PROVENANCE_SCANNERS_PER_DAY"


def test_a_lockout_longer_than_its_cap_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        Policies.from_env({"PROVENANCE_CLAIM_LOCKOUT": "100000"})  # above the 86400 s cap
    assert caught.value.field == "PROVENANCE_CLAIM_MAX_LOCKOUT"
    long = Policies.from_env(
        {"PROVENANCE_CLAIM_LOCKOUT": "100000", "PROVENANCE_CLAIM_MAX_LOCKOUT": "200000"}
    )
    assert long.claims.lockout == timedelta(seconds=100000)


@given(
    limit=st.integers(1, 50),
    lockout=st.integers(1, 10_000),
    cap_factor=st.integers(1, 1_000),
    failures=st.integers(0, 10_000),
)
def test_the_back_off_is_free_below_the_limit_then_doubles_up_to_its_cap(
    limit: int, lockout: int, cap_factor: int, failures: int
) -> None:
    policy = ClaimPolicy(
        max_failures=limit,
        unit_max_failures=limit * 3,
        lockout=timedelta(seconds=lockout),
        max_lockout=timedelta(seconds=lockout * cap_factor),
    )
    for scope, free in (("pair", limit), ("unit", limit * 3)):
        wait, after = policy.wait(scope, failures), policy.wait(scope, failures + 1)
        assert timedelta(0) <= wait <= after <= policy.max_lockout  # never shrinks, capped
        if failures < free:
            assert wait == timedelta(0)
        elif failures == free:
            assert wait == policy.lockout
        if failures >= free:
            assert after == min(wait * 2, policy.max_lockout)  # each failure doubles it


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
