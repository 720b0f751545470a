"""The per-code evidence schemas of the OpenAPI document (api.schemas_evidence) against
the code that builds the evidence: what the signals, the report finding, the label check
and the verdict really produce is valid for its code, and the wrong shape for a code is
not (the reason's ``if``/``then`` rules pick its own code's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest

from api import schemas_evidence
from api.app import create_app
from ledger.signals import compute
from ledger.signals.compute import ScanFact
from ledger.signals.reports import ReportFact, corroborated
from ledger.verify.verdict import Reason, signing_key_reasons
from ledger.vocab import ReasonCode, SignalCode

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The served document's components (the models with their rules, linked)."""
    from ledger.service.ledger import Ledger
    from ledger.service.settings import Settings
    from tests.integration.world import config

    tmp = tmp_path_factory.mktemp("evidence")
    ledger = Ledger.open(f"sqlite:///{tmp}/e.db", config("evidence"))
    ledger.init(name="Registry")
    try:
        return create_app(Settings.from_env({}), ledger=ledger).openapi()
    finally:
        ledger.close()


def valid(document: dict[str, Any], component: str, value: object) -> bool:
    """Whether ``value`` is valid against the document's ``component``."""
    schema = {"components": document["components"], "$ref": f"#/components/schemas/{component}"}
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


def scan(minutes: int, place: str | None, client: str, network: str | None = None) -> ScanFact:
    return ScanFact(T0 + timedelta(minutes=minutes), place, client, "header", network)


def built() -> list[tuple[str, dict[str, Any]]]:
    """(code, evidence) as the ledger's own functions build them."""
    claimed = T0 - timedelta(days=1)
    scans = [scan(i, "CN" if i % 2 else "US", f"c{i}", f"n{i}") for i in range(30)]
    out = [
        (s.code, s.evidence)
        for s in compute.unit_signals(scans, claimed_at=claimed, owners=["owner:x"])
    ]
    rows = [
        {"gtin": "09506000134352", "serial": f"X{i}", "scans": 1, "first": "a", "last": "b"}
        for i in range(6)
    ]
    out += [(s.code, s.evidence) for s in compute.serial_probing(rows)]
    return out


def test_every_code_has_its_component() -> None:
    names = set(schemas_evidence.components())
    assert names == {schemas_evidence.component_name(c) for c in (*ReasonCode, *SignalCode)}


def test_the_signals_evidence_is_valid_for_its_code(document: dict[str, Any]) -> None:
    found = built()
    assert {code for code, _ in found} == set(SignalCode)  # every signal was raised
    for code, evidence in found:
        reason = {"code": code, "message": "m", "evidence": evidence}
        assert valid(document, "Reason", reason), (code, evidence)
        assert valid(document, "UnitAlert", {"unit": None, "code": code, "evidence": evidence})
        # another code's evidence, or one member more, is refused
        assert not valid(document, "Reason", {**reason, "code": "flagged"})
        assert not valid(document, "Reason", {**reason, "evidence": {**evidence, "x": 1}})


def test_the_key_reasons_evidence_is_valid(document: dict[str, Any]) -> None:
    class Key:
        compromised_since = "2026-01-01T00:00:00Z"
        effective = "2026-11-01T00:00:00Z"

    reasons = signing_key_reasons([("k1", "2026-11-02T00:00:00Z")], {"k1": Key()})  # type: ignore[dict-item]
    assert {r.code for r in reasons} == {ReasonCode.KEY_COMPROMISED, ReasonCode.RECOVERED_KEY}
    for r in reasons:
        assert valid(document, "Reason", r.to_dict()), r


@pytest.mark.parametrize("reporters", [1, 5])
def test_the_report_finding_is_valid_evidence(document: dict[str, Any], reporters: int) -> None:
    """Under review (one reporter) or reported (five on several days): the finding's
    evidence is valid for both codes."""
    reports = [
        ReportFact("fake", T0 + timedelta(days=i), f"c{i}", f"n{i}") for i in range(reporters)
    ]
    finding = corroborated(reports)
    assert finding is not None and finding.corroborated is (reporters > 1)
    for code in (ReasonCode.REPORTED, ReasonCode.REPORT_UNDER_REVIEW):
        reason = Reason(code, "m", finding.evidence()).to_dict()
        assert valid(document, "Reason", reason), reason


@pytest.mark.parametrize(
    ("code", "evidence", "ok"),
    [
        ("sold", {}, True),
        ("sold", {"flags": 1}, False),
        ("flagged", {"flags": 2}, True),
        ("flagged", {}, False),
        ("resold", {"sales": 2, "last_sold": "2026-11-28T12:00:00.000Z"}, True),
        ("consumed", {"at": "2026-11-28T12:00:00.000Z"}, True),
        ("revoked-handler", {"actors": ["a"], "since": {"a": "2026-01-01T00:00:00Z"}}, True),
        ("revoked-handler", {"actors": ["a"]}, True),
        ("held-by-revoked", {"actors": ["a"], "since": {}}, False),
        ("label-mismatch", {"field": "lot", "label": "L2", "unit": "L1"}, True),
        ("label-mismatch", {"field": "serial", "label": "L2", "unit": "L1"}, False),
        ("label-unsigned", {"signed": False}, True),
        ("label-unsigned", {"signed": True}, False),
        ("chain-broken", {"index": 3}, True),
        ("chain-incomplete", {"committed": 4}, True),
        ("verified", {"index": 3}, False),
    ],
)
def test_a_reason_carries_its_own_codes_evidence(
    document: dict[str, Any], code: str, evidence: dict[str, Any], ok: bool
) -> None:
    reason = Reason(code, "m", evidence).to_dict()
    assert valid(document, "Reason", reason) is ok
