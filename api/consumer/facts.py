"""The facts of the consumer page: the scan sentence, the product card and the status
card of a unit view, in words. Presents what it is given; no I/O; ``now`` comes in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from api.consumer.i18n import EN, ZH, chinese, format_day, text
from api.consumer.page_signals import place_words
from api.consumer.places import plain
from api.consumer.reasons import Line
from api.consumer.timeline import ROLES, moment, who
from ledger import gs1
from ledger.errors import LedgerError

__all__ = ["product_facts", "product_name", "scan_line", "scanned_facts", "status_facts"]

_STATES = frozenset("in_stock sold delivered claimed decommissioned".split())


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def scan_line(scans: object, lang: str, *, known: bool) -> tuple[str, str]:
    """(the scan sentence of docs/SIGNALS.md, the clone hint or "" for an unknown unit).
    The count includes this check, so a count of one says it is the first."""
    scans = _obj(scans)
    count = scans.get("count") if isinstance(scans.get("count"), int) else 0
    first = scans.get("first") if isinstance(scans.get("first"), Mapping) else None
    if not count or first is None:
        return text(lang, "scans.none"), ""
    if count == 1:
        return text(lang, "scans.first"), ""
    date, _ = moment(first.get("at"), lang)
    if first.get("place"):
        place = place_words(first, lang)  # a client's hint is shown as one
        sentence = text(lang, "scans", count=count, date=date, place=place)
    else:
        sentence = text(lang, "scans.noplace", count=count, date=date)
    return sentence, text(lang, "scans.hint") if known else ""


def scanned_facts(path: str, lang: str) -> list[Line]:
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


def product_name(unit: Mapping[str, Any] | None, lang: str) -> str:
    """The product's name in ``lang`` when the brand gave one (``names``), else its name."""
    if not unit:
        return ""
    product = _obj(unit.get("product"))
    names = _obj(product.get("names"))
    name = names.get(ZH if chinese(lang) else EN) or product.get("name")
    return plain(name) if name else text(lang, "unnamed")


def product_facts(
    unit: Mapping[str, Any] | None, product: str, lang: str, now: datetime
) -> list[Line]:
    """Name, brand, brand support contact, GTIN, serial, lot, expiry."""
    if not unit:
        return []
    brand = _obj(unit.get("brand"))
    facts = [
        Line(text(lang, "f.name"), product),
        Line(text(lang, "f.brand"), plain(brand.get("name") or brand.get("id") or "?")),
    ]
    support = _obj(unit.get("product")).get("support")
    if support:
        facts.append(Line(text(lang, "f.support"), plain(support)))
    facts += [
        Line(text(lang, "f.gtin"), plain(unit.get("gtin") or "")),
        Line(text(lang, "f.serial"), plain(unit.get("serial") or "")),
    ]
    if unit.get("lot"):
        facts.append(Line(text(lang, "f.lot"), plain(unit["lot"])))
    if unit.get("expiry"):
        facts.append(_expiry(str(unit["expiry"]), lang, now))
    return facts


def _expiry(yymmdd: str, lang: str, now: datetime) -> Line:
    try:
        day = gs1.expiry_date(yymmdd, now.date())
    except LedgerError:
        return Line(text(lang, "f.expiry"), plain(yymmdd))
    if day < now.date():
        expired = text(lang, "f.expired", date=format_day(day, lang))
        return Line(text(lang, "f.expiry"), expired, tone="bad")
    return Line(text(lang, "f.expiry"), format_day(day, lang))


def status_facts(
    unit: Mapping[str, Any] | None, entries: Sequence[Mapping[str, Any]], lang: str
) -> list[Line]:
    """State, holder, ownership, recall, inspections and the label's signature."""
    if not unit:
        return []
    facts = [Line(text(lang, "f.state"), _state(unit, lang))]
    holder, revoked = who(unit.get("custodian"), lang)
    if holder and unit.get("state") not in ("claimed", "delivered", "decommissioned"):
        facts.append(Line(text(lang, "f.holder"), holder, revoked, "bad" if revoked else ""))
    claimed = bool(unit.get("claimed"))
    if unit.get("state") != "claimed":  # else the state line has just said it
        facts.append(
            Line(text(lang, "f.claim"), text(lang, "claim.yes" if claimed else "claim.no"))
        )
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
        to = plain(pending.get("name") or pending.get("id") or "?")
        if pending.get("display") == "role" and pending.get("role") in ROLES:
            to = text(lang, f"role.{pending['role']}")
        return text(lang, "s.in_transit", to=to)
    return text(lang, f"s.{state}") if state in _STATES else plain(state)
