"""The consumer page's parts for counterfeit signals: the reasons of claims, clone
signals, reports and the blacklist in words; the claim and report forms (plain HTML
forms, no JavaScript); the small pages that answer them; and each reason's localised
text for the JSON view. Presents only what it is given; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from api.consumer.environment import environment
from api.consumer.i18n import LANGUAGES, chinese, format_day, page_language, text
from api.consumer.places import place_name
from ledger import gs1
from ledger.errors import LedgerError
from ledger.events import parse_time
from ledger.service.reports import REASONS
from ledger.vocab import ReasonCode, SignalCode, Verdict

#: reason codes this module words, with the evidence fields their messages use
SIGNAL_CODES: frozenset[str] = frozenset(
    {
        ReasonCode.OWNED,
        ReasonCode.HELD_BY_REVOKED,
        ReasonCode.REPORTED,
        ReasonCode.REPORT_UNDER_REVIEW,
        ReasonCode.LABEL_UNSIGNED,
        ReasonCode.LABEL_MISMATCH,
        *SignalCode,
    }
)
#: reasons shown on a page whose verdict banner would otherwise say it all (a report
#: under review is a note: shown, and the verdict stays genuine)
SHOWN_ANYWAY: dict[str, frozenset[str]] = {
    Verdict.GENUINE: frozenset({ReasonCode.OWNED, ReasonCode.REPORT_UNDER_REVIEW}),
    Verdict.UNKNOWN: frozenset({SignalCode.SERIAL_PROBING}),
}


def _number(value: object) -> object:
    """A whole number with thousands separators (``11,642``), as both languages write a
    distance; anything else as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value


def signal_text(
    code: str, evidence: Mapping[str, Any], names: Mapping[str, str], lang: str
) -> tuple[str, str]:
    """(title, explanation) of one of `SIGNAL_CODES` in ``lang``, filled from its evidence."""
    values: dict[str, Any] = {}
    if code == "held-by-revoked":
        sep = "、" if chinese(lang) else ", "
        values["names"] = sep.join(names.get(str(a), str(a)) for a in evidence.get("actors", ()))
    elif code == "post-claim-scans":
        values = {
            "date": _day(evidence.get("claimed_at"), lang),
            "clients": evidence.get("clients"),
        }
    elif code == "impossible-travel":
        values = {
            "from_place": place_words(_obj(evidence.get("from")), lang) or "?",
            "to_place": place_words(_obj(evidence.get("to")), lang) or "?",
            "minutes": evidence.get("minutes"),
            "km": _number(evidence.get("km")),
        }
    elif code == "many-scanners":
        values = {"clients": evidence.get("scanners", evidence.get("clients"))}
    elif code == "serial-probing":
        values = {"serials": evidence.get("serials")}
    elif code in ("reported", "report-under-review"):
        values = {"count": evidence.get("open")}
    elif code == "label-mismatch":
        field = "expiry" if evidence.get("field") == "expiry" else "lot"
        recorded = evidence.get("unit")
        values = {
            "field": text(lang, f"label.field.{field}"),
            "shown": evidence.get("label") or "?",
            "recorded": recorded if recorded else text(lang, "label.none"),
        }
    why = f"r.{code}.why"
    one = values.get("clients" if code == "post-claim-scans" else "count") == 1
    if one and code in ("post-claim-scans", "reported"):
        why += ".one"  # English has a singular; the Chinese sentence counts the same way
    return text(lang, f"r.{code}"), text(lang, why, **values)


def place_words(scan: Mapping[str, Any], lang: str) -> str:
    """A scan's place as the page shows it: a client's hint (source ``hint``) says
    that it is one; a trusted header's place (or one of unstated source) is shown bare."""
    place = scan.get("place")
    if not place:
        return ""
    if scan.get("source", scan.get("place_source")) == "hint":
        return text(lang, "place.hint", place=place_name(place, lang))
    return place_name(place, lang)


#: localised reason lists kept (`localise`), by the identity of the list they word
LOCALISED = 1024
_localised: dict[int, tuple[object, object, list[dict[str, Any]]]] = {}


def localise(view: dict[str, Any], reason_text: Any) -> dict[str, Any]:
    """The view with ``text: {en: {title, text}, zh-CN: {...}}`` on every reason;
    ``reason_text(reason, lang) -> (title, text)`` words one reason (a pure function).

    A view's reasons list that is a kept object (a unit's judged reasons,
    ledger.service.signals) is worded once: the words are kept with the very list and
    function they came from (identity, never equality) and shared (read, not changed)."""
    given = view.get("reasons") or ()
    kept = _localised.get(id(given))
    if kept is not None and kept[0] is given and kept[1] is reason_text:
        return {**view, "reasons": kept[2]}
    reasons = []
    for reason in given:
        words = {lang: dict(zip(("title", "text"), reason_text(reason, lang), strict=True))
                 for lang in LANGUAGES}  # fmt: skip
        reasons.append({**reason, "text": words})
    if isinstance(given, list):
        if len(_localised) >= LOCALISED:
            _localised.clear()
        _localised[id(given)] = (given, reason_text, reasons)
    return {**view, "reasons": reasons}


def forms(view: Mapping[str, Any], lang: str, path: str) -> dict[str, Any]:
    """What the claim and report forms need: their actions, the unit, the reasons."""
    unit = _obj(view.get("unit"))
    gtin, serial = unit.get("gtin"), unit.get("serial")
    if not unit:
        try:
            link = gs1.parse_digital_link("http://resolver" + path)
            gtin, serial = link.gtin, link.serial
        except LedgerError:
            gtin = serial = None
    try:  # only a well-formed unit gets forms (the view is read defensively)
        gs1.UnitId(gtin=str(gtin), serial=str(serial))
    except LedgerError:
        gtin = serial = None
    claimable = bool(unit) and not unit.get("decommissioned") and not view.get("owner")
    unit_path = f"/v1/units/{gtin}/{quote(str(serial), safe='')}"
    # the owner (recognised by its cookie: view["owner"]) may mark its unit used up, once
    usable = bool(view.get("owner")) and not unit.get("consumed_at") and gtin and serial
    return {
        "claim_action": f"{unit_path}/claim" if claimable and gtin and serial else None,
        "consume_action": f"{unit_path}/consume" if usable else None,
        "report_action": "/v1/reports" if gtin and serial else None,
        "form_gtin": gtin,
        "form_serial": serial,
        "report_reasons": [(r, text(lang, f"report.reason.{r}")) for r in REASONS],
    }


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _day(value: object, lang: str) -> str:
    try:
        moment: datetime = parse_time(value)
    except LedgerError:
        return "?"
    return format_day(moment.date(), lang)


def language(lang: str | None) -> str:
    """``lang`` when pages are served in it, else ``en``."""
    return page_language(lang)


def words(lang: str | None, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` (a page language, anything else English), filled from
    ``values``; for the lines of the notices answering the forms."""
    return text(language(lang), key, **values)


def render_notice(
    lang: str,
    title_key: str,
    lines: Sequence[str],
    *,
    tone: str = "genuine",
    secret: str | None = None,
    back: str | None = None,
) -> str:
    """A small page answering a form: a title, lines of text, maybe a one-time secret."""
    lang = language(lang)
    context = {
        "lang": lang,
        "t": lambda key, **values: text(lang, key, **values),
        "title": text(lang, title_key),
        "lines": list(lines),
        "tone": tone,
        "secret": secret,
        "back": back if back and back.startswith("/") and not back.startswith("//") else None,
    }
    return environment().get_template("notice.html").render(context)
