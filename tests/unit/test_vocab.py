"""The closed vocabularies (ledger.vocab): defined once, used by the code, as documented.

Each vocabulary is checked against what accepts or produces it (the event validators,
the verdict, the reports service) and against the docs that list it, so a word added
in one place and not the others fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ledger import events
from ledger.errors import ValidationError
from ledger.vocab import (
    PARTNER_ROLES,
    InspectResult,
    LabelState,
    ReasonCode,
    ReportAction,
    ReportReason,
    ReportStatus,
    Role,
    SignalCode,
    UnitState,
    Verdict,
    values,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _backticked(text: str) -> set[str]:
    return set(re.findall(r"`([a-z0-9_-]+)`", text))


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def test_members_are_their_strings_in_json_and_comparisons() -> None:
    assert Verdict.GENUINE == "genuine" and "genuine" == Verdict.GENUINE
    assert json.dumps({"verdict": Verdict.CAUTION}) == '{"verdict": "caution"}'
    assert f"{Role.BRAND}" == "brand" and str(ReasonCode.NOT_FOUND) == "not-found"
    assert {Verdict.UNKNOWN: 1}["unknown"] == 1


def test_event_validators_take_exactly_the_vocabularies() -> None:
    assert events.ACTOR_ROLES == values(Role)
    assert set(events.PARTNER_ROLES) == set(PARTNER_ROLES) == set(Role) - {"operator", "brand"}
    assert events.INSPECT_RESULTS == values(InspectResult)
    check = events.ActorRegister.checks["role"]
    for role in Role:
        assert check(role.value, "role") == role
        assert type(check(role.value, "role")) is str  # signed bytes hold plain strings
    with pytest.raises(ValidationError):
        check("admin", "role")


def test_the_formats_role_lists_are_the_vocabulary() -> None:
    text = (DOCS / "FORMAT.md").read_text(encoding="utf-8")
    register = re.search(r"\| `actor.register` .*?`role` \(([^)]*)\)", text)
    authorize = re.search(r"\| `authorize` .*?`role` \(([^)]*)\)", text)
    inspect = re.search(r"\| `inspect` .*?`result` \(([^)]*)\)", text)
    assert register and authorize and inspect
    assert register.group(1).split(", ") == list(values(Role))
    assert authorize.group(1).split(", ") == [r.value for r in PARTNER_ROLES]
    assert inspect.group(1).split(", ") == list(values(InspectResult))


def test_the_api_docs_list_every_reason_code_and_no_other() -> None:
    text = (DOCS / "API.md").read_text(encoding="utf-8")
    listed = _backticked(_between(text, "Reason codes:", "\n\n"))
    assert listed == set(values(ReasonCode)) | set(values(SignalCode))
    assert not set(values(ReasonCode)) & set(values(SignalCode))


def test_the_api_docs_unit_view_names_the_verdicts_states_and_label_states() -> None:
    text = (DOCS / "API.md").read_text(encoding="utf-8")
    view = _between(text, "## The unit view", "```\n\n")

    def alternatives(field: str) -> list[str]:
        found = re.search(rf'"{field}": "([^"]*)"', view)
        assert found, field
        return found.group(1).split(" | ")

    assert alternatives("verdict") == list(values(Verdict))
    assert alternatives("state") == list(values(UnitState))
    assert alternatives("label") == list(values(LabelState))


def test_the_signals_docs_list_report_reasons_and_actions() -> None:
    text = (DOCS / "SIGNALS.md").read_text(encoding="utf-8")
    reasons = _between(text, "`POST /v1/reports`: unit, reason (", ")")
    assert [w.strip("` \n") for w in reasons.split(",")] == list(values(ReportReason))
    answering = _between(text, "Answering (", "A report is answered")
    assert {a.value for a in ReportAction} <= _backticked(answering)


def test_the_reports_service_takes_the_vocabularies() -> None:
    from ledger.service import reports

    assert reports.REASONS == values(ReportReason)
    assert reports.ACTIONS == values(ReportAction)
    assert ReportStatus.OPEN == "open"  # the store's open-first order and partial index


def test_the_verdict_says_only_vocabulary_words() -> None:
    from ledger.verify import verdict

    assert (verdict.GENUINE, verdict.CAUTION, verdict.UNKNOWN, verdict.INVALID) == tuple(Verdict)
    assert set(verdict.SIGNAL_MESSAGES) == set(SignalCode)
    unknown, reasons = verdict.judge(None, {}, [])
    assert unknown is Verdict.UNKNOWN and reasons[0].code is ReasonCode.NOT_FOUND


#: reasons the page's verdict banner says itself (genuine, unknown), not as a reason line
_BANNER = {ReasonCode.VERIFIED, ReasonCode.NOT_FOUND}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("code", sorted({*ReasonCode, *SignalCode} - _BANNER))
def test_the_page_has_words_for_every_reason(code: str, lang: str) -> None:
    """A reason the page cannot word would show its bare code to a shopper."""
    from api.consumer.page import reason_words

    title, _ = reason_words({"code": code, "message": "m", "evidence": {}}, lang)
    assert title and title != code and title != "m", (code, lang, title)
