"""The consumer verification page: one unit view (docs/API.md) rendered as HTML.

`render_unit_page` turns the JSON-ready unit view into a small, server-rendered,
mobile-first page in English or Simplified Chinese (docs/SIGNALS.md): a headline in
large plain words with what it means and what to do (`api.consumer.headline`), each
caution explained (`api.consumer.reasons`), the "checked N times" sentence, the
product and its status (`api.consumer.facts`) and the custody timeline
(`api.consumer.timeline`); the log's proofs and the signed data are folded away under
"Technical details". The page loads nothing from elsewhere and needs no JavaScript.
Everything from the view passes through Jinja2 autoescaping; no message carries markup.

It does not fetch the view, record the scan or choose the language (`api.consumer.i18n`
does that); it only presents what it is given. It reads no clock: ``now`` comes in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from api.consumer.environment import environment
from api.consumer.facts import (
    product_facts,
    product_name,
    scan_line,
    scanned_facts,
    status_facts,
)
from api.consumer.headline import headline
from api.consumer.i18n import (
    EN,
    ZH,
    chinese,
    choose_language,
    format_moment,
    page_language,
    text,
)
from api.consumer.page_signals import forms
from api.consumer.places import plain
from api.consumer.reasons import reason_lines, reason_words
from api.consumer.timeline import names_of, step
from ledger import gs1
from ledger.errors import LedgerError
from ledger.events import check_actor_id
from ledger.note.logtime import served_time

__all__ = ["choose_language", "is_local", "reason_words", "render_unit_page"]

VERDICTS = ("genuine", "caution", "unknown", "invalid")


def render_unit_page(
    view: Mapping[str, Any],
    lang: str,
    *,
    path: str,
    switch_href: str,
    now: datetime,
    csrf_token: str = "",
    image: tuple[str, int, int] | None = None,
) -> str:
    """Render the unit view as the consumer page (a full HTML document).

    Args:
        view: the unit view of docs/API.md (``unit`` is None for an unknown unit).
        lang: ``en``, ``zh-CN``, ``zh-TW`` or ``zh-HK`` (anything else renders English).
        path: the unit's resolver path; the JSON link points at it.
        switch_href: the URL of this page in the other language.
        now: the time of the check, shown in the footer and used to judge the expiry.
        csrf_token: the forms' CSRF token (api/csrf.py), sent back in their ``csrf`` field.
        image: (URL, width, height) of the product's picture, given only when its
            stored bytes are the ones its brand signed (ledger.service.catalog); never
            shown on a forged label's page.

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    return (
        environment()
        .get_template("unit.html")
        .render(
            page_context(
                view,
                lang,
                path=path,
                switch_href=switch_href,
                now=now,
                csrf_token=csrf_token,
                image=image,
            )
        )
    )


def page_context(
    view: Mapping[str, Any],
    lang: str,
    *,
    path: str,
    switch_href: str,
    now: datetime,
    csrf_token: str = "",
    image: tuple[str, int, int] | None = None,
) -> dict[str, Any]:
    """The template context of `render_unit_page` (same arguments): everything the page
    shows, its per-request parts (`page_slots`) included."""
    lang = page_language(lang)
    verdict = str(view.get("verdict")) if view.get("verdict") in VERDICTS else "invalid"
    unit = _obj(view.get("unit")) or None
    entries = [e for e in view.get("entries") or () if isinstance(e, Mapping)]
    names = names_of(unit, entries, lang)
    product = product_name(unit, lang)
    other = EN if chinese(lang) else ZH
    head = headline(view, verdict, entries, names, lang)
    reasons = reason_lines(view, verdict, entries, names, lang)
    form_parts = forms(view, lang, path)
    if head.forged:  # the genuine unit's claim form and history are not this label's
        form_parts["claim_action"] = form_parts["consume_action"] = None
        reasons = [r for r in reasons if r.tone == "bad"]
    return {
        "lang": lang,
        "other": other,
        "t": lambda key, **values: text(lang, key, **values),
        "verdict": verdict,
        "head": head,
        "title": f"{head.title} · {product or text(lang, 'site')}",
        "reasons": [] if head.quiet else reasons,
        "scanned": [] if unit else scanned_facts(path, lang),
        "product": product_facts(unit, product, lang, now),
        "status": status_facts(unit, entries, lang),
        "steps": [] if head.forged else [step(e, names, lang) for e in entries],
        "proof": _proof_line(view.get("checkpoint"), lang),
        "json_href": f"{path}?format=json" if is_local(path) else "?format=json",
        "proof_href": _proof_href(unit) if entries else None,
        "witnesses": _witness_line(view.get("witnesses"), lang),
        **form_parts,
        "here": path if is_local(path) else "",
        "lang_value": lang,
        "typed_code": "",
        "help_href": f"/how-to-check?lang={lang}",
        "retailers": _retailers_link(unit, lang),
        "image": _picture(image, product) if image and unit and not head.forged else None,
        **page_slots(view, lang, switch_href=switch_href, now=now, csrf_token=csrf_token),
    }


#: the page's parts that differ between two requests for the same unit view, language and
#: log state (`page_slots`): the cached page (api.consumer.pagecache) splices them in
SLOTS = ("switch_href", "csrf_token", "scans", "checked", "age")


def page_slots(
    view: Mapping[str, Any], lang: str, *, switch_href: str, now: datetime, csrf_token: str
) -> dict[str, Any]:
    """The per-request parts of the page's template context (`SLOTS`): the language
    switch (it carries the scanned query), the forms' CSRF token, the scan sentence and
    its hint (the count moves with every scan), the time of the check and the log
    state's age. ``lang`` is a page language (`page_language`)."""
    return {
        "switch_href": switch_slot(switch_href, lang),
        "csrf_token": csrf_token,
        "scans": scan_line(view.get("scans"), lang, known=known_unit(view)),
        "checked": checked_line(now, lang),
        "age": _age_line(view.get("checkpoint"), now, lang),
    }


def switch_slot(switch_href: str, lang: str) -> str:
    """The language switch's link as the page shows it: ``switch_href`` when it stays
    on this server (`is_local`), else just the other language."""
    return switch_href if is_local(switch_href) else f"?lang={EN if chinese(lang) else ZH}"


def known_unit(view: Mapping[str, Any]) -> bool:
    """Whether the view is of a unit the log knows (the scan sentence's clone hint)."""
    return bool(_obj(view.get("unit")))


def checked_line(now: datetime, lang: str) -> str:
    """The footer's time of the check (to the minute: `format_moment`)."""
    return text(lang, "footer.checked", when=format_moment(now, lang))


def _retailers_link(unit: Mapping[str, Any] | None, lang: str) -> tuple[str, str] | None:
    """(href, words) of the brand's public list of authorized shops, for a known unit."""
    brand = _obj(_obj(unit).get("brand"))
    try:  # only a well-formed actor id goes into a link (the view is read defensively)
        brand_id = check_actor_id(brand.get("id"))
    except LedgerError:
        return None
    name = plain(brand.get("name") or brand_id)
    return f"/v1/brands/{brand_id}/retailers?lang={lang}", text(lang, "retailers.link", brand=name)


#: the widest a product picture is drawn on the page (CSS pixels; a 390 px phone)
PICTURE_WIDTH = 320


def _picture(image: tuple[str, int, int], alt: str) -> dict[str, Any] | None:
    """The product picture's ``<img>`` attributes: a local URL only, drawn at most
    `PICTURE_WIDTH` wide with its aspect kept (no layout shift, no stylesheet change)."""
    href, width, height = image
    if not is_local(href) or width < 1 or height < 1:
        return None
    shown = min(width, PICTURE_WIDTH)
    return {"src": href, "width": shown, "height": round(height * shown / width), "alt": alt}


def _obj(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (the view is read defensively)."""
    return value if isinstance(value, Mapping) else {}


def is_local(href: str) -> bool:
    """Whether ``href`` stays on this server: a path or a query, never another host."""
    return href.startswith(("/", "?")) and not href.startswith(("//", "/\\"))


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


def _age_line(checkpoint: object, now: datetime, lang: str) -> str | None:
    """How old the log's state this page was checked against is (the checkpoint's time
    line, docs/FORMAT.md 5.2); None for a checkpoint without one."""
    dated = served_at(checkpoint)
    if dated is None:
        return None
    return age_words(max(0, int(now.timestamp()) - dated), lang)


def age_words(seconds: int, lang: str) -> str:
    """The footer's age line for a log state ``seconds`` old (`_age_line`)."""
    if seconds < 60:
        age = text(lang, "age.s", n=seconds)
    elif seconds < 5400:
        age = text(lang, "wait.min", n=round(seconds / 60))
    else:
        age = text(lang, "wait.h", n=round(seconds / 3600))
    return text(lang, "footer.age", age=age)


def served_at(checkpoint: object) -> int | None:
    """The time line of a checkpoint (`ledger.service.dating.served_time`), None for
    anything else or a checkpoint without one; parsed once per checkpoint."""
    return _served_time(checkpoint) if isinstance(checkpoint, str) else None


@lru_cache(maxsize=256)
def _served_time(checkpoint: str) -> int | None:
    """`served_time` of a checkpoint, parsed once per checkpoint (every page shows it)."""
    return served_time(checkpoint)


def _proof_line(checkpoint: object, lang: str) -> str:
    """The proof sentence of the technical details, with the checkpoint's tree size."""
    lines = checkpoint.split("\n") if isinstance(checkpoint, str) else []
    # c2sp.org/tlog-checkpoint: the second line is the tree size in decimal
    if len(lines) > 1 and lines[1].isascii() and lines[1].isdigit():
        return text(lang, "footer.proof", size=int(lines[1]))
    return text(lang, "footer.proof.nosize")
