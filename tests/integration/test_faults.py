"""The test-only fault switch (ledger.service.ledger.faults_from_env): refused without its
consent variable, and when on, the ledger really is broken the way the hammer must
catch (a unit head gets two successors), while the same appends without it give 409.
"""

from __future__ import annotations

import uuid

import pytest

from ledger.entry import SignedEvent
from ledger.errors import ConflictError, ValidationError
from ledger.service.audit import audit_log
from ledger.service.ledger import (
    FAULT_CONSENT,
    FAULT_CONSENT_ENV,
    FAULT_ENV,
    Ledger,
    faults_from_env,
)
from tests.integration.world import LedgerWorld, clock, config, dump
from tests.rules_factories import SERIAL

ON = {FAULT_ENV: "skip-head-check", FAULT_CONSENT_ENV: FAULT_CONSENT}


def test_no_fault_is_injected_by_default() -> None:
    assert faults_from_env({}) == frozenset()
    assert faults_from_env({FAULT_ENV: " , "}) == frozenset()


def test_a_fault_needs_its_exact_consent() -> None:
    with pytest.raises(ValidationError) as err:
        faults_from_env({FAULT_ENV: "skip-head-check"})
    assert err.value.field == FAULT_ENV
    with pytest.raises(ValidationError):
        faults_from_env({FAULT_ENV: "skip-head-check", FAULT_CONSENT_ENV: "yes"})
    assert faults_from_env(ON) == {"skip-head-check"}


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown"):
        faults_from_env({FAULT_ENV: "skip-fsync", FAULT_CONSENT_ENV: FAULT_CONSENT})


def test_a_ledger_refuses_to_open_with_a_fault_but_no_consent(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "skip-head-check")
    with pytest.raises(ValidationError):
        Ledger.open(db_url, config(f"f-{uuid.uuid4().hex[:8]}"), clock=clock)


def _racing_inspections(world: LedgerWorld) -> tuple[SignedEvent, SignedEvent]:
    w = world.world
    first = w.on_unit("inspect", "insp", result="pass")
    second = w.on_unit("inspect", "customs", result="pass")  # the same prev
    return first, second


def test_without_the_fault_the_second_racer_gets_409(world: LedgerWorld) -> None:
    first, second = _racing_inspections(world)
    world.append(first)
    before = dump(world.ledger)
    with pytest.raises(ConflictError):
        world.ledger.append(second)
    assert dump(world.ledger) == before


def test_with_skip_head_check_the_unit_forks_and_the_audit_sees_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, ON[FAULT_ENV])
    monkeypatch.setenv(FAULT_CONSENT_ENV, ON[FAULT_CONSENT_ENV])
    ledger = Ledger.open(db_url, config(f"f-{uuid.uuid4().hex[:8]}"), clock=clock)
    try:
        ledger.init(name="Registry")
        world = LedgerWorld.base(ledger)
        first, second = _racing_inspections(world)
        ledger.append(first)
        ledger.append(second)  # accepted: the broken build
        entries = ledger.unit_entries(world.world.unit(SERIAL).gtin, SERIAL)
        successors = [e for e in entries if e.kind == "inspect"]  # both extend one head
        assert len(successors) == 2
        report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
        assert not report.ok
        assert report.first_bad_index == successors[1].index
    finally:
        ledger.close()
