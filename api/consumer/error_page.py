"""The pages a shopper's browser gets instead of problem+json: an error page in words
(a wrong GTIN, an unknown address, too many checks), and the "How to check a product"
page that the bare domain and every verdict link to.

`wants_html` decides by the request's ``Accept``: a browser (``text/html`` before any
JSON) gets a page, an API client keeps its problem+json. Presents what it is given;
no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from api.consumer.environment import environment
from api.consumer.i18n import EN, ZH, chinese, format_day, page_language, text
from api.consumer.places import plain
from ledger.events import parse_time

__all__ = ["render_error_page", "render_help_page", "wants_html"]

#: problem codes -> the error page's (title, text) message keys
_PAGES = {
    "gs1": ("ep.gtin.title", "ep.gtin.text"),
    "bad-lot": ("ep.gtin.title", "ep.gtin.text"),
    "validation": ("ep.gtin.title", "ep.gtin.text"),
    "not-found": ("ep.404.title", "ep.404.text"),
    "method-not-allowed": ("ep.404.title", "ep.404.text"),
    "rate-limited": ("ep.busy.title", "ep.busy.text"),
    "csrf": ("error.title", "ce.expired"),
    "malformed-form": ("error.title", "ep.form.text"),
    "payload-too-large": ("error.title", "ep.form.text"),
}


def wants_html(accept: str | None) -> bool:
    """Whether a request's ``Accept`` asks for a page: ``text/html`` is named and comes
    before any JSON type (a browser's header; API clients name JSON or nothing)."""
    value = (accept or "").lower()
    html = value.find("text/html")
    if html < 0:
        return False
    json = [i for i in (value.find("application/json"), value.find("+json")) if i >= 0]
    return not json or html < min(json)


def render_error_page(code: str, lang: str, *, wait: str = "") -> str:
    """The error page for problem ``code`` in ``lang`` (a full HTML document); ``wait``
    is the readable wait of a rate limit.

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    lang = page_language(lang)
    title, body = _PAGES.get(code, ("ep.other.title", "ep.other.text"))
    tone = "unknown" if title == "ep.gtin.title" else "caution"
    context = {
        "lang": lang,
        "t": lambda key, **values: text(lang, key, **values),
        "title": text(lang, title),
        "lines": [text(lang, body, wait=wait or text(lang, "wait.min", n=1))],
        "tone": tone,
        "steps": [],
        "referrer": "no-referrer",
    }
    return environment().get_template("info.html").render(context)


def render_help_page(lang: str) -> str:
    """The "How to check a product" page in ``lang`` (a full HTML document).

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    lang = page_language(lang)
    context = {
        "lang": lang,
        "t": lambda key, **values: text(lang, key, **values),
        "title": text(lang, "help.title"),
        "lines": [],
        "tone": "",
        "steps": [text(lang, f"help.{n}") for n in range(1, 7)],
        "referrer": "no-referrer",
        "other": EN if chinese(lang) else ZH,
    }
    return environment().get_template("info.html").render(context)


def render_retailers_page(brand: str, retailers: list[dict[str, Any]], lang: str) -> str:
    """The public list of the shops ``brand`` (its name) authorizes today
    (ledger.service.partners.PartnerService.retailers), a full HTML document in ``lang``.

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    lang = page_language(lang)
    name = plain(brand)

    def item(shop: dict[str, Any]) -> str:
        day = format_day(parse_time(shop["until"]).date(), lang)
        return text(lang, "retailers.item", name=plain(shop["name"]), date=day)

    context = {
        "lang": lang,
        "t": lambda key, **values: text(lang, key, **values),
        "title": text(lang, "retailers.title", brand=name),
        "lines": [text(lang, "retailers.why" if retailers else "retailers.none", brand=name)],
        "tone": "",
        "steps": [item(shop) for shop in retailers],
        "referrer": "no-referrer",
        "other": EN if chinese(lang) else ZH,
    }
    return environment().get_template("info.html").render(context)
