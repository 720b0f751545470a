"""The consumer verification page: one unit view (docs/API.md) rendered as HTML.

`render_unit_page` turns the JSON-ready unit view into a small, server-rendered,
mobile-first page in English or Simplified Chinese (docs/SIGNALS.md): the verdict in
large plain words with what it means and what to do, each caution explained, the
"checked N times; first on DATE in PLACE" message, the product, its status (holder,
claim, recall, inspections, label signature) and the custody timeline. The page loads
nothing from elsewhere and needs no JavaScript. Everything from the view passes through
Jinja2 autoescaping; no message carries markup.

It does not fetch the view, record the scan or choose the language (`api.consumer.i18n`
does that); it only presents what it is given. It reads no clock: ``now`` comes in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from api.consumer.environment import environment
from api.consumer.i18n import EN, ZH, choose_language, format_day, format_moment, text
from api.consumer.page_signals import SHOWN_ANYWAY, SIGNAL_CODES, forms, place_words, signal_text
from ledger import gs1
from ledger.errors import LedgerError
from ledger.events import parse_time

__all__ = ["choose_language", "reason_words", "render_unit_page"]

VERDICTS = ("genuine", "caution", "unknown", "invalid")
_TAMPER = frozenset(
    "checkpoint-invalid leaf-hash-invalid proof-invalid signature-invalid chain-broken "
    "chain-incomplete".split()
)
#: timeline tone per event kind: good (green), bad (red), warn (amber), "" (neutral)
_TONES = {"commission": "good", "recall": "bad", "flag": "bad", "decommission": "warn"}
_ROLES = frozenset("operator brand warehouse courier retailer customs inspector".split())
_STATES = frozenset("in_stock sold delivered claimed decommissioned".split())
_VERBS = frozenset(
    "commission handoff receive sell deliver claim return recall decommission flag".split()
)


@dataclass(frozen=True)
class Line:
    """A titled line: a verdict reason, or a fact (``title`` the label, ``text`` the value)."""

    title: str
    text: str = ""
    detail: str = ""
    tone: str = ""


@dataclass(frozen=True)
class Step:
    """One entry of the custody timeline, in words."""

    verb: str
    who: str
    when: str
    iso: str
    where: str = ""
    notes: Sequence[str] = field(default_factory=tuple)
    revoked: str = ""
    entry: str = ""
    tone: str = ""


def render_unit_page(
    view: Mapping[str, Any],
    lang: str,
    *,
    path: str,
    switch_href: str,
    now: datetime,
    csrf_token: str = "",
) -> str:
    """Render the unit view as the consumer page (a full HTML document).

    Args:
        view: the unit view of docs/API.md (``unit`` is None for an unknown unit).
        lang: ``en`` or ``zh-CN`` (anything else renders English).
        path: the unit's resolver path; the JSON link points at it.
        switch_href: the URL of this page in the other language.
        now: the time of the check, shown in the footer and used to judge the expiry.
        csrf_token: the forms' CSRF token (api/csrf.py), sent back in their ``csrf`` field.

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    lang = ZH if lang == ZH else EN
    verdict = str(view.get("verdict")) if view.get("verdict") in VERDICTS else "invalid"
    unit = _obj(view.get("unit")) or None
    entries = [e for e in view.get("entries") or () if isinstance(e, Mapping)]
    names = _names(unit, entries)
    product = _product_name(unit, lang)
    other = EN if lang == ZH else ZH
    context = {
        "lang": lang,
        "other": other,
        "t": lambda key, **values: text(lang, key, **values),
        "verdict": verdict,
        "title": f"{text(lang, verdict + '.title')} · {product or text(lang, 'site')}",
        "reasons": _reasons(view, verdict, entries, names, lang),
        "scans": _scan_line(view.get("scans"), lang, known=unit is not None),
        "scanned": [] if unit else _scanned_facts(path, lang),
        "product": _product_facts(unit, product, lang, now),
        "status": _status_facts(unit, entries, lang),
        "steps": [_step(e, names, lang) for e in entries],
        "proof": _proof_line(view.get("checkpoint"), lang),
        "checked": text(lang, "footer.checked", when=format_moment(now, lang)),
        "json_href": f"{path}?format=json" if _is_local(path) else "?format=json",
        "proof_href": _proof_href(unit) if entries else None,
        "witnesses": _witness_line(view.get("witnesses"), lang),
        "switch_href": switch_href if _is_local(switch_href) else f"?lang={other}",
        **forms(view, lang, path),
        "here": path if _is_local(path) else "",
        "lang_value": lang,
        "csrf_token": csrf_token,
    }
    return environment().get_template("unit.html").render(context)


def _obj(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (the view is read defensively)."""
    return value if isinstance(value, Mapping) else {}


def _is_local(href: str) -> bool:
    """Whether ``href`` stays on this server: a path or a query, never another host."""
    return href.startswith(("/", "?")) and not href.startswith(("//", "/\\"))


# --- names, times ----------------------------------------------------------------------


def _names(unit: Mapping[str, Any] | None, entries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Actor id -> display name, from every actor the view describes."""
    actors = [e.get("signer") for e in entries]
    if unit:
        actors += [unit.get("brand"), unit.get("custodian"), unit.get("pending")]
    return {
        str(a["id"]): str(a.get("name") or a["id"])
        for a in actors
        if isinstance(a, Mapping) and a.get("id")
    }


def _who(actor: object, lang: str) -> tuple[str, str]:
    """(``Name · Role``, the revoked warning or "") for a view's actor object."""
    if not isinstance(actor, Mapping):
        return "", ""
    name = str(actor.get("name") or actor.get("id") or "")
    role = str(actor.get("role"))
    label = f"{name} · {text(lang, 'role.' + role)}" if role in _ROLES else name
    return label, text(lang, "revoked") if actor.get("revoked") else ""


def _moment(value: object, lang: str) -> tuple[str, str]:
    """(readable time, machine time) of a ledger timestamp; the raw text if malformed."""
    try:
        moment = parse_time(value)
    except LedgerError:
        return str(value or ""), ""
    return format_moment(moment, lang), moment.strftime("%Y-%m-%dT%H:%MZ")


# --- the verdict's reasons ----------------------------------------------------------------


def _reasons(
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
    return [_reason(r, entries, names, lang) for r in reasons]


def _reason(
    reason: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    lang: str,
) -> Line:
    code = str(reason.get("code") or "")
    evidence = _obj(reason.get("evidence"))
    if code in _TAMPER:
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
        who = "、" if lang == ZH else ", "
        listed = who.join(names.get(str(i), str(i)) for i in ids) or "?"
        return Line(text(lang, "r.revoked-handler"), text(lang, f"r.{code}.why", names=listed))
    if code == "inspection-failed":
        return Line(text(lang, f"r.{code}"), text(lang, f"r.{code}.why"), tone="bad")
    if code in ("recovered-key", "key-compromised"):  # no one signs for another (issue 17)
        tone = "bad" if code == "key-compromised" else ""
        return Line(text(lang, f"r.{code}"), text(lang, f"r.{code}.why"), tone=tone)
    if code in ("returned-after-sale", "resold"):
        return _past_sale(code, evidence, lang)
    if code in ("sold", "claimed", "recalled", "decommissioned", "label-invalid"):
        detail = _latest_reason(entries, code, lang)
        tone = "bad" if code in ("recalled", "label-invalid") else ""
        return Line(text(lang, f"r.{code}"), text(lang, f"r.{code}.why"), detail, tone)
    return Line(code or "?", str(reason.get("message") or ""))  # a code newer than this page


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
    line = _reason(reason, (), {}, lang)
    return line.title, line.text


def _latest_reason(entries: Sequence[Mapping[str, Any]], code: str, lang: str) -> str:
    """The ``reason`` field of the last recall/decommission event, as a detail line."""
    kind = {"recalled": "recall", "decommissioned": "decommission"}.get(code)
    for entry in reversed(entries):
        event = _obj(entry.get("event"))
        if kind and event.get("kind") == kind and event.get("reason"):
            return text(lang, "reason", text=event["reason"])
    return ""


# --- scans, product, status ----------------------------------------------------------------


def _scan_line(scans: object, lang: str, *, known: bool) -> tuple[str, str]:
    """(the scan sentence of docs/SIGNALS.md, the clone hint or "" for an unknown unit)."""
    scans = _obj(scans)
    count = scans.get("count") if isinstance(scans.get("count"), int) else 0
    first = scans.get("first") if isinstance(scans.get("first"), Mapping) else None
    if not count or first is None:
        return text(lang, "scans.none"), ""
    date, _ = _moment(first.get("at"), lang)
    key = "scans.one" if count == 1 else "scans"
    if first.get("place"):
        place = place_words(first, lang)  # a client's hint is shown as one
        sentence = text(lang, key, count=count, date=date, place=place)
    else:
        sentence = text(lang, key + ".noplace", count=count, date=date)
    return sentence, text(lang, "scans.hint") if count > 1 and known else ""


def _scanned_facts(path: str, lang: str) -> list[Line]:
    """For an unknown unit: the GTIN, lot and serial read from the scanned path."""
    try:
        link = gs1.parse_digital_link(f"http://resolver{path}")
    except LedgerError:
        return []
    facts = [Line(text(lang, "f.gtin"), link.gtin)]
    if link.lot:
        facts.append(Line(text(lang, "f.lot"), link.lot))
    if link.serial:
        facts.append(Line(text(lang, "f.serial"), link.serial))
    return facts


def _product_name(unit: Mapping[str, Any] | None, lang: str) -> str:
    if not unit:
        return ""
    product = unit.get("product")
    name = product.get("name") if isinstance(product, Mapping) else None
    return str(name) if name else text(lang, "unnamed")


def _product_facts(
    unit: Mapping[str, Any] | None, product: str, lang: str, now: datetime
) -> list[Line]:
    if not unit:
        return []
    brand = _obj(unit.get("brand"))
    facts = [
        Line(text(lang, "f.name"), product),
        Line(text(lang, "f.brand"), str(brand.get("name") or brand.get("id") or "?")),
        Line(text(lang, "f.gtin"), str(unit.get("gtin") or "")),
        Line(text(lang, "f.serial"), str(unit.get("serial") or "")),
    ]
    if unit.get("lot"):
        facts.append(Line(text(lang, "f.lot"), str(unit["lot"])))
    if unit.get("expiry"):
        facts.append(_expiry(str(unit["expiry"]), lang, now))
    return facts


def _expiry(yymmdd: str, lang: str, now: datetime) -> Line:
    try:
        day = gs1.expiry_date(yymmdd, now.date())
    except LedgerError:
        return Line(text(lang, "f.expiry"), yymmdd)
    if day < now.date():
        expired = text(lang, "f.expired", date=format_day(day, lang))
        return Line(text(lang, "f.expiry"), expired, tone="bad")
    return Line(text(lang, "f.expiry"), format_day(day, lang))


def _status_facts(
    unit: Mapping[str, Any] | None, entries: Sequence[Mapping[str, Any]], lang: str
) -> list[Line]:
    if not unit:
        return []
    facts = [Line(text(lang, "f.state"), _state(unit, lang))]
    holder, revoked = _who(unit.get("custodian"), lang)
    if holder and unit.get("state") not in ("claimed", "delivered", "decommissioned"):
        facts.append(Line(text(lang, "f.holder"), holder, revoked, "bad" if revoked else ""))
    claimed = bool(unit.get("claimed"))
    facts.append(Line(text(lang, "f.claim"), text(lang, "claim.yes" if claimed else "claim.no")))
    recall = ("recall.yes", "bad") if unit.get("recalled") else ("recall.no", "")
    facts.append(Line(text(lang, "f.recall"), text(lang, recall[0]), tone=recall[1]))
    results = [_obj(e.get("event")).get("result") for e in entries]
    passed, failed = results.count("pass"), results.count("fail")
    inspections = (
        text(lang, "insp.count", passed=passed, failed=failed)
        if passed + failed
        else text(lang, "insp.none")
    )
    facts.append(Line(text(lang, "f.inspections"), inspections, tone="bad" if failed else ""))
    label = unit.get("label")
    if label in ("valid", "invalid", "unsigned", "mismatch"):
        tone = {"valid": "good", "unsigned": ""}.get(str(label), "bad")
        facts.append(Line(text(lang, "f.label"), text(lang, f"label.{label}"), tone=tone))
    return facts


def _state(unit: Mapping[str, Any], lang: str) -> str:
    state = str(unit.get("state") or "")
    if state == "in_transit":
        pending = _obj(unit.get("pending"))
        return text(lang, "s.in_transit", to=pending.get("name") or pending.get("id") or "?")
    return text(lang, f"s.{state}") if state in _STATES else state


# --- the timeline ----------------------------------------------------------------------------


def _step(entry: Mapping[str, Any], names: Mapping[str, str], lang: str) -> Step:
    event = _obj(entry.get("event"))
    kind = str(event.get("kind") or "")
    who, revoked = _who(entry.get("signer"), lang)
    actor = names.get(str(event.get("actor")), str(event.get("actor") or "?"))
    to = names.get(str(event.get("to")), str(event.get("to") or "?"))
    when, iso = _moment(event.get("time"), lang)
    verb, tone = _verb(kind, event, actor, to, lang)
    notes = []
    for name, key in (("reason", "reason"), ("note", "note")):
        if event.get(name):
            notes.append(text(lang, key, text=event[name]))
    if kind == "flag" and event.get("code"):
        notes.insert(0, text(lang, "reason", text=event["code"]))
    index = entry.get("index")
    return Step(
        verb=verb,
        who=who,
        when=when,
        iso=iso,
        where=text(lang, "where", place=event["place"]) if event.get("place") else "",
        notes=tuple(notes),
        revoked=revoked,
        entry=text(lang, "entry", index=index) if isinstance(index, int) else "",
        tone=tone,
    )


def _verb(kind: str, event: Mapping[str, Any], actor: str, to: str, lang: str) -> tuple[str, str]:
    """(the human verb of an event, its tone)."""
    if kind == "inspect":
        passed = event.get("result") == "pass"
        return text(lang, "v.inspect.pass" if passed else "v.inspect.fail"), (
            "good" if passed else "bad"
        )
    if kind in _VERBS:
        return text(lang, f"v.{kind}", actor=actor, to=to), _TONES.get(kind, "")
    return text(lang, "v.other", kind=kind or "?"), ""


def _proof_href(unit: Mapping[str, Any] | None) -> str | None:
    """The offline proof's download path, for a well-formed GS1 identity only."""
    try:
        valid = gs1.UnitId(gtin=str(unit["gtin"]), serial=str(unit["serial"])) if unit else None
    except (LedgerError, KeyError):
        return None
    return f"/v1/units/{valid.gtin}/{quote(valid.serial, safe='')}/proof" if valid else None


def _witness_line(witnesses: object, lang: str) -> str | None:
    """How many configured witnesses vouched (docs/API.md), when the log has any."""
    counts = _obj(witnesses)
    configured, vouched = counts.get("configured"), counts.get("vouched")
    if not isinstance(configured, int) or not isinstance(vouched, int) or configured < 1:
        return None
    return text(lang, "footer.witnesses", vouched=vouched, configured=configured)


def _proof_line(checkpoint: object, lang: str) -> str:
    """The footer's proof sentence, with the checkpoint's tree size when there is one."""
    lines = checkpoint.split("\n") if isinstance(checkpoint, str) else []
    # c2sp.org/tlog-checkpoint: the second line is the tree size in decimal
    if len(lines) > 1 and lines[1].isascii() and lines[1].isdigit():
        return text(lang, "footer.proof", size=int(lines[1]))
    return text(lang, "footer.proof.nosize")
