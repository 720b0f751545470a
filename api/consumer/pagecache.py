"""The consumer page, rendered once per unit view, language and log state; per-request
parts spliced in.

Rendering the page (`api.consumer.page`: the headline, reasons, timeline, every message
in the reader's language, then Jinja) costs several times the unit view itself. All of
it is a function of the view, the language, the path and the day, except `page.SLOTS`:
the language switch (it carries the scanned query), the forms' CSRF token (per
browser), the scan sentence (the count moves with every scan), the time of the check
and the log state's age. `render` renders a page once with a marker in place of each
slot, keeps it cut at the markers as UTF-8 pieces, and for later requests with the same
key joins the pieces with the slots' values, escaped as Jinja escapes them (worked out
once per what they depend on: `api.consumer.slots`): the bytes
are the ones `page.render_unit_page` gives (tests/unit/test_page_cache.py compares them).

The key holds, as viewjson does for the JSON, the view's parts fixed per (unit, log
size) by identity (``entries``, ``checkpoint``, ``map_proof``, ``versions``: the same
objects for every view of a unit at one log size, ledger.service.unitview.UnitBase;
never by equality, so no other unit's or log state's page can be served), and by value
everything else the page reads: the rest of the view but its scan count (verdict,
reasons, the unit with its label state, owner, witnesses), the page language, the path,
the picture, the day (the expiry is judged against it), and which optional slots show.
A new log size is a new base, new objects, a new key: the page is invalidated exactly
when the JSON encoding is. At most `MAX_BYTES` of pages are kept, least recently used
out first; a kept page holds its base's static objects alive until it goes (as a kept
JSON encoding does), which the budget does not count; the budget counts each page's
pieces and its key (the view's JSON and the path).
"""

from __future__ import annotations

import json
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from markupsafe import escape

from api.consumer import slots as slot_words
from api.consumer.environment import environment
from api.consumer.i18n import page_language
from api.consumer.page import page_context
from api.viewjson import STATIC

#: bytes of cut pages kept at most (a page is 10-60 KB)
MAX_BYTES = 8 * 1024 * 1024
#: a marker's secret: no text in a view can forge a marker (a unit's name, a reason)
_SECRET = secrets.token_hex(12)
_MARKER = re.compile(f"\x02{_SECRET}([a-z_0-9]+)\x03")

#: a cut page: the objects its key named by identity, its pieces and the slots between
_Cut = tuple[tuple[Any, ...], tuple[bytes, ...], tuple[str, ...], int]

_kept: OrderedDict[tuple[Any, ...], _Cut] = OrderedDict()
_size = [0]


def _mark(name: str) -> str:
    return f"\x02{_SECRET}{name}\x03"


def render(
    view: Mapping[str, Any],
    lang: str,
    *,
    path: str,
    switch_href: str,
    now: datetime,
    csrf_token: str = "",
    image: tuple[str, int, int] | None = None,
) -> bytes:
    """The consumer page of ``view`` as UTF-8 bytes: the bytes of
    `page.render_unit_page` with the same arguments (same meaning of each), from the
    cut page kept for its key when there is one.

    Raises:
        jinja2.TemplateError: the templates are missing or broken (a deployment error).
    """
    lang = page_language(lang)
    # the slots' values escaped as Jinja escapes them and encoded (api.consumer.slots:
    # the words of a slot are worked out once per what they depend on)
    values = slot_words.escaped(view, lang, switch_href=switch_href, now=now)
    values["csrf_token"] = str(escape(csrf_token)).encode()
    statics = tuple(view.get(k) for k in STATIC)
    try:
        rest = json.dumps(
            [[k, v] for k, v in view.items() if k not in STATIC and k != "scans"],
            ensure_ascii=False,
            separators=(",", ":"),
        )
    except (TypeError, ValueError):  # not a JSON-ready view: render it, keep nothing
        return _render(view, lang, path, switch_href, now, csrf_token, image).encode()
    key = (
        tuple(id(s) for s in statics),
        rest,
        lang,
        path,
        image,
        now.date(),
        bool(values["scans1"]),  # the template shows the hint's paragraph only if any
        values["age"] is None,  # and the age's
    )
    found = _kept.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], statics, strict=True)):
        found = _cut(view, lang, path, switch_href, now, image, statics, values)
        # the key is kept too: the view's JSON and the path count in the budget
        found = (*found[:3], found[3] + len(rest.encode()) + len(path))
        _keep(key, found)
    else:
        _kept.move_to_end(key)
    _, pieces, names, _ = found
    out = [pieces[0]]
    for name, piece in zip(names, pieces[1:], strict=True):
        out.append(values[name])
        out.append(piece)
    return b"".join(out)


def clear() -> None:
    """Forget every kept page (and the slots' words, api.consumer.slots)."""
    _kept.clear()
    _size[0] = 0
    slot_words.clear()


def kept() -> tuple[int, int]:
    """(pages kept, their bytes)."""
    return len(_kept), _size[0]


def _render(
    view: Mapping[str, Any],
    lang: str,
    path: str,
    switch_href: str,
    now: datetime,
    csrf_token: str,
    image: tuple[str, int, int] | None,
    marked: Mapping[str, Any] | None = None,
) -> str:
    context = page_context(
        view, lang, path=path, switch_href=switch_href, now=now, csrf_token=csrf_token, image=image
    )
    if marked is not None:
        context.update(marked)
    return environment().get_template("unit.html").render(context)


def _cut(
    view: Mapping[str, Any],
    lang: str,
    path: str,
    switch_href: str,
    now: datetime,
    image: tuple[str, int, int] | None,
    statics: tuple[Any, ...],
    values: Mapping[str, bytes | None],
) -> _Cut:
    """Render the page with a marker in each slot and cut it at the markers."""
    marked = {
        "switch_href": _mark("switch_href"),
        "csrf_token": _mark("csrf_token"),
        # an empty hint or a missing age stays what it is: the template tests them
        "scans": (_mark("scans0"), _mark("scans1") if values["scans1"] else ""),
        "checked": _mark("checked"),
        "age": None if values["age"] is None else _mark("age"),
    }
    parts = _MARKER.split(_render(view, lang, path, switch_href, now, "", image, marked))
    pieces = tuple(p.encode() for p in parts[0::2])
    names = tuple(parts[1::2])
    nbytes = sum(len(p) for p in pieces) + 64 * len(pieces) + 200
    return statics, pieces, names, nbytes


def _keep(key: tuple[Any, ...], cut: _Cut) -> None:
    """Keep ``cut`` under ``key`` within `MAX_BYTES` (a page over it alone is not kept)."""
    old = _kept.pop(key, None)
    if old is not None:
        _size[0] -= old[3]
    if cut[3] > MAX_BYTES:
        return
    _kept[key] = cut
    _size[0] += cut[3]
    while _size[0] > MAX_BYTES:
        _, (_, _, _, dropped) = _kept.popitem(last=False)
        _size[0] -= dropped
