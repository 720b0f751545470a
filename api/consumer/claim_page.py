"""The claim page: what the code inside the package opens (``?claim=CODE``).

The inner label's QR code carries the claim code in the query (docs/FORMAT.md section
8), so the page opens with the code already in the form and one button: no script, no
typing. The same page answers a failed claim, with the shopper's typed code kept and
the error in their language (`claim_error_words`). The page's referrer policy is
``strict-origin``, so the code in its address never travels, not even to this server.

Presents what it is given; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.consumer.environment import environment
from api.consumer.facts import product_name
from api.consumer.i18n import EN, ZH, chinese, page_language, text
from api.consumer.page_signals import forms
from api.consumer.places import plain
from ledger.errors import LedgerError

__all__ = ["ClaimForm", "claim_error_words", "claim_form", "render_claim_page", "wait_words"]

#: the longest code the form keeps to show again (a claim code is 21 characters)
MAX_TYPED = 64


@dataclass(frozen=True)
class ClaimForm:
    """What the claim page shows: the unit, the form's action and what is in it.

    ``state``: ``open`` (the form), ``yours``, ``claimed`` (by someone else),
    ``cannot`` (out of circulation, or no claim code), ``unknown`` (no such unit).
    """

    state: str
    path: str
    serial: str
    product: str = ""
    brand: str = ""
    action: str | None = None
    typed: str = ""


def claim_form(view: Mapping[str, Any], path: str, code: str, lang: str) -> ClaimForm:
    """The claim page's content for a unit view and the code the QR code carried."""
    unit = view.get("unit") if isinstance(view.get("unit"), Mapping) else None
    typed = plain(code)[:MAX_TYPED]
    if not unit:
        return ClaimForm("unknown", path, "")
    brand = unit.get("brand") if isinstance(unit.get("brand"), Mapping) else {}
    common = {
        "path": path,
        "serial": plain(unit.get("serial") or ""),
        "product": product_name(unit, lang),
        "brand": plain(brand.get("name") or brand.get("id") or ""),
    }
    if view.get("owner"):
        return ClaimForm("yours", **common)
    if unit.get("claimed"):
        return ClaimForm("claimed", **common)
    action = forms(view, lang, path)["claim_action"]
    if action is None:
        return ClaimForm("cannot", **common)
    return ClaimForm("open", action=action, typed=typed, **common)


def wait_words(seconds: int, lang: str) -> str:
    """A wait as people say it: ``40 seconds``, ``15 min``, ``2 h`` / ``15 分钟``."""
    if seconds < 90:
        return text(lang, "wait.s", n=max(1, seconds))
    if seconds < 90 * 60:
        return text(lang, "wait.min", n=round(seconds / 60))
    return text(lang, "wait.h", n=round(seconds / 3600))


def claim_error_words(error: LedgerError, lang: str) -> str:
    """The shopper's words for a refused claim (never the API's English detail)."""
    code = error.code
    retry = getattr(error, "retry_after", None)
    if code == "validation":
        typo = "check character" in error.message
        return text(lang, "ce.typo" if typo else "ce.format")
    keys = {
        "bad-claim-code": "ce.wrong",
        "already-claimed": "ce.claimed",
        "no-claim-code": "ce.nocode",
        "not-found": "ce.notfound",
        "csrf": "ce.expired",
    }
    left, after = getattr(error, "attempts_left", None), getattr(error, "wait_after", None)
    if code == "bad-claim-code" and isinstance(left, int) and isinstance(after, int):
        key = "ce.left.none" if left == 0 else "ce.left.one" if left == 1 else "ce.left"
        gap = "" if chinese(lang) else " "  # Chinese sentences follow without a space
        return text(lang, "ce.wrong") + gap + text(lang, key, n=left, wait=wait_words(after, lang))
    if code in ("claim-locked", "rate-limited") and isinstance(retry, int):
        key = "ce.locked" if code == "claim-locked" else "ce.busy"
        return text(lang, key, wait=wait_words(retry, lang))
    return text(lang, keys.get(code, "ce.other"))


def render_claim_page(
    form: ClaimForm,
    lang: str,
    *,
    csrf_token: str,
    switch_href: str = "",
    error: str = "",
    limit: tuple[int, timedelta] | None = None,
) -> str:
    """The claim page (a full HTML document) for ``form``, in ``lang``.

    ``error``: the words of a refused claim, shown above the form; ``limit``: (wrong codes
    allowed, the wait after them), shown under the form so the lock never surprises.

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    lang = page_language(lang)
    titles = {
        "open": "cp.title",
        "yours": "cp.yours",
        "claimed": "cp.already",
        "cannot": "cp.cannot",
        "unknown": "unknown.title",
    }
    lines = {
        "open": "cp.lead" if form.typed and not error else "cp.lead.empty",
        "yours": "cp.yours.why",
        "claimed": "cp.already.why",
        "cannot": "cp.cannot.why",
        "unknown": "unknown.means",
    }
    warning = ""
    if limit is not None:
        wait = wait_words(int(limit[1].total_seconds()), lang)
        warning = text(lang, "cp.warn", max=limit[0], wait=wait)
    context = {
        "lang": lang,
        "other": EN if chinese(lang) else ZH,
        "t": lambda key, **values: text(lang, key, **values),
        "title": text(lang, titles[form.state]),
        "lead": text(lang, lines[form.state]),
        "form": form,
        "tone": {"open": "sold", "yours": "genuine", "unknown": "unknown"}.get(
            form.state, "caution"
        ),
        "csrf_token": csrf_token,
        "error": error,
        "warning": warning,
        "switch_href": switch_href,
        # the origin alone, never the address with its code; not no-referrer, which
        # makes a browser send "Origin: null" with the form, refused as cross-site
        "referrer": "strict-origin",
    }
    return environment().get_template("claim.html").render(context)


def render_claim_retry(
    error: LedgerError,
    lang: str,
    *,
    path: str,
    action: str,
    serial: str,
    typed: str,
    csrf_token: str,
    limit: tuple[int, timedelta] | None = None,
) -> str:
    """The claim page again after a refused claim: the error in the shopper's words
    above the form, and what they typed still in it.

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    form = ClaimForm("open", path, plain(serial), action=action, typed=plain(typed)[:MAX_TYPED])
    words = claim_error_words(error, lang)
    return render_claim_page(form, lang, csrf_token=csrf_token, error=words, limit=limit)
