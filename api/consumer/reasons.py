"""The verdict's reasons in words: each caution or failure of a unit view as a titled
line, for the page and for the JSON view's localised ``text``. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.consumer.i18n import chinese, format_day, text
from api.consumer.page_signals import SHOWN_ANYWAY, SIGNAL_CODES, signal_text
from api.consumer.places import plain
from ledger.errors import LedgerError
from ledger.events import parse_time
from ledger.service.batches import VOID_REASON

__all__ = ["TAMPER", "Line", "reason_line", "reason_lines", "reason_words"]

TAMPER = frozenset(
    "checkpoint-invalid leaf-hash-invalid proof-invalid signature-invalid chain-broken "
    "chain-incomplete checkpoint-stale bad-timestamp bad-cosignature unknown-witness".split()
)


@dataclass(frozen=True)
class Line:
    """A titled line: a verdict reason, or a fact (``title`` the label, ``text`` the value)."""

    title: str
    text: str = ""
    detail: str = ""
    tone: str = ""


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def reason_lines(
    view: Mapping[str, Any],
    verdict: str,
    entries: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    lang: str,
) -> list[Line]:
    """Each caution or failure explained; genuine and unknown say it all in the banner,
    but for the owner's claim and the probing of invented serials."""
    reasons = [r for r in view.get("reasons") or () if isinstance(r, Mapping)]
    if verdict not in ("caution", "invalid"):
        shown = SHOWN_ANYWAY.get(verdict, frozenset())
        reasons = [r for r in reasons if r.get("code") in shown]
    return [reason_line(r, entries, names, lang) for r in reasons]


def reason_line(
    reason: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    lang: str,
) -> Line:
    """One reason of a unit view as a line in ``lang``."""
    code = str(reason.get("code") or "")
    evidence = _obj(reason.get("evidence"))
    if code in TAMPER:
        return Line(text(lang, f"r.{code}"), text(lang, "r.tamper.why"), tone="bad")
    if code == "flagged":
        count = evidence.get("flags")
        many = isinstance(count, int) and count > 1
        detail = text(lang, "r.flagged.count", count=count) if many else ""
        return Line(text(lang, "r.flagged"), text(lang, "r.flagged.why"), detail, "bad")
    if code in SIGNAL_CODES:
        title, why = signal_text(code, evidence, names, lang)
        tone = {"owned": "good", "label-mismatch": "bad"}.get(code, "")
        return Line(title, why, tone=tone)
    if code == "revoked-handler":
        ids = evidence.get("actors") or ()
        sep = "、" if chinese(lang) else ", "
        listed = sep.join(names.get(str(i), plain(i)) for i in ids) or "?"
        return Line(text(lang, "r.revoked-handler"), text(lang, f"r.{code}.why", names=listed))
    if code == "inspection-failed":
        note = _latest(entries, "inspect", "note", lang, key="note")
        return Line(text(lang, f"r.{code}"), text(lang, f"r.{code}.why"), note, tone="bad")
    if code in ("recovered-key", "key-compromised"):  # no one signs for another (issue 17)
        tone = "bad" if code == "key-compromised" else ""
        return Line(text(lang, f"r.{code}"), text(lang, f"r.{code}.why"), tone=tone)
    if code in ("returned-after-sale", "resold"):
        return _past_sale(code, evidence, lang)
    if code == "consumed":
        return Line(text(lang, "r.consumed"), text(lang, "r.consumed.why"), tone="bad")
    if code in ("sold", "claimed", "recalled", "decommissioned", "label-invalid"):
        kind = {"recalled": "recall", "decommissioned": "decommission"}.get(code, "")
        detail = _latest(entries, kind, "reason", lang) if kind else ""
        if kind == "recall" and detail == text(lang, "reason", text=VOID_REASON):
            detail = text(lang, "reason.voided")  # the console voided its print batch
        tone = "bad" if code in ("recalled", "label-invalid") else ""
        return Line(text(lang, f"r.{code}"), text(lang, f"r.{code}.why"), detail, tone)
    return Line(plain(code or "?"), plain(reason.get("message") or ""))  # newer than this page


def _past_sale(code: str, evidence: Mapping[str, Any], lang: str) -> Line:
    """A sale a return did not erase (docs/ARCHITECTURE.md section 5), dated when known."""
    try:
        day = format_day(parse_time(evidence.get("last_sold")).date(), lang)
    except LedgerError:  # a unit sold before its sales were recorded (migration 0006)
        day = "?"
    if code == "resold":
        return Line(text(lang, "r.resold"), text(lang, "r.resold.why", date=day))
    key = "r.returned-after-sale" if day != "?" else "r.returned-after-sale.nodate"
    return Line(text(lang, key, date=day), text(lang, "r.returned-after-sale.why"))


def reason_words(reason: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """(title, explanation) of one reason in ``lang``, as the page words it."""
    line = reason_line(reason, (), {}, lang)
    return line.title, line.text


def _latest(
    entries: Sequence[Mapping[str, Any]], kind: str, name: str, lang: str, key: str = "reason"
) -> str:
    """Field ``name`` of the last event of ``kind`` (a recall's reason, a failed
    inspection's note), as a detail line; "" when there is none."""
    for entry in reversed(entries):
        event = _obj(entry.get("event"))
        if event.get("kind") != kind or not event.get(name):
            continue
        if kind == "inspect" and event.get("result") != "fail":
            continue
        return text(lang, key, text=plain(event[name]))
    return ""
