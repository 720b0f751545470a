"""The top of the consumer page: what a shopper reads in the first two seconds.

The verdict of the unit view (docs/API.md) stays what it is; this module only chooses
how it is presented, so each reader gets the words that fit:

- a forged label (``label-invalid`` or ``label-mismatch``): "This label was not
  printed by {brand}" in red, what to do, and where the real unit is; the page then
  shows no claim form and no history (they belong to the real unit);
- a sold, unclaimed unit (verdict ``caution`` with reason ``sold`` alone): a neutral
  "Sold on DATE" that speaks to both readers, the buyer who just bought it (claim it
  now) and a second-hand buyer (ask for the transfer code); caution stays for real risks;
- a recall: "Recalled: do not use" in red, with the brand's support contact;
- anything else: the verdict's own title, meaning and advice.

No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.consumer.i18n import format_day, text
from api.consumer.places import plain
from ledger.errors import LedgerError
from ledger.events import parse_time

__all__ = ["Headline", "headline"]

_FORGED = frozenset({"label-invalid", "label-mismatch"})


@dataclass(frozen=True)
class Headline:
    """The verdict box: its style (``tone``: a verdict, or ``sold``), icon, words, and a
    call to action (``cta``: (href, label)) or None.

    ``forged``: the label is not the brand's (no claim form, no history on the page);
    ``quiet``: the headline says all the reasons would (they are not listed again).
    """

    tone: str
    icon: str
    title: str
    means: tuple[str, ...]
    todo: str
    cta: tuple[str, str] | None = None
    forged: bool = False
    quiet: bool = False


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _day(value: object, lang: str) -> str:
    try:
        return format_day(parse_time(value).date(), lang)
    except LedgerError:
        return ""


def headline(
    view: Mapping[str, Any],
    verdict: str,
    entries: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    lang: str,
) -> Headline:
    """The headline of the page for ``view`` (whose verdict is ``verdict``)."""
    unit = _obj(view.get("unit"))
    codes = {str(_obj(r).get("code")) for r in view.get("reasons") or ()}
    brand = _obj(unit.get("brand"))
    brand_name = plain(brand.get("name") or brand.get("id") or "") or text(lang, "brand.the")
    support = plain(_obj(unit.get("product")).get("support") or "")
    if codes & _FORGED and unit:
        return _forged(unit, brand_name, names, lang)
    if verdict == "caution" and codes == {"sold"} and not unit.get("claimed"):
        day = _day(unit.get("last_sold"), lang)
        title = text(lang, "sold.title", date=day) if day else text(lang, "sold.title.nodate")
        means = (text(lang, "sold.new"), text(lang, "sold.second"))
        cta = ("#claim", text(lang, "sold.cta")) if not view.get("owner") else None
        return Headline("sold", "genuine", title, means, text(lang, "sold.todo"), cta, quiet=True)
    if "consumed" in codes and not codes & _FORGED:
        day = _day(unit.get("consumed_at"), lang)
        title = (
            text(lang, "consumed.title", date=day) if day else text(lang, "consumed.title.nodate")
        )
        return Headline(
            "invalid",
            "invalid",
            title,
            (text(lang, "consumed.means"),),
            text(lang, "consumed.todo"),
        )
    if verdict == "caution" and "recalled" in codes:
        contact = (
            text(lang, "recall.contact", brand=brand_name, support=support)
            if support
            else text(lang, "recall.contact.none", brand=brand_name)
        )
        title = text(lang, "recall.title")
        return Headline("invalid", "invalid", title, (text(lang, "recall.means"),), contact)
    return Headline(
        verdict,
        verdict,
        text(lang, f"{verdict}.title"),
        (text(lang, f"{verdict}.means"),),
        text(lang, f"{verdict}.todo"),
    )


def _forged(unit: Mapping[str, Any], brand: str, names: Mapping[str, str], lang: str) -> Headline:
    """A label the brand did not print: say so, say what to do, say where the real unit is."""
    serial = plain(unit.get("serial") or "")
    custodian = _obj(unit.get("custodian"))
    holder = names.get(str(custodian.get("id")), "") if custodian else ""
    state = str(unit.get("state") or "")
    if state in ("sold", "delivered", "claimed"):
        where = text(lang, "forged.where.sold", serial=serial)
    elif holder:
        where = text(lang, "forged.where.held", serial=serial, holder=holder)
    else:
        where = text(lang, "forged.where.unknown", serial=serial)
    return Headline(
        "invalid",
        "invalid",
        text(lang, "forged.title", brand=brand),
        (text(lang, "forged.means", brand=brand), where),
        text(lang, "forged.todo"),
        ("#report", text(lang, "forged.cta")),
        forged=True,
    )
