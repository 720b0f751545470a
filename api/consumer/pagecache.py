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

A served view (the keys of ledger.service.ledger.unit_view, in its order: `_SHAPE`) is
looked up first by the identity of its parts but the scans (`_by_identity`): a view of
a busy unit carries the very objects of the view before (its base's static parts, the
label-judged unit, the judged reasons, the witnesses), and their ids with what else the
page shows find the key above without working out its JSON. Such an entry holds the
small parts (verdict, reasons, unit, owner, witnesses) so that their ids stay theirs;
the static parts are checked by identity against the cut page's, as for the key; a
view of another shape, or with new objects, takes the key by value.

The rest's value is written per request without a JSON encoder where it can be
(`_rest_key`): a str, int, bool or None as itself with its type (so ``True`` and ``1``
never share a key, as their JSON does not), the ``unit`` object as its JSON kept per
object (`_unit_json`: a view base's label-judged unit is one object for every view of
that label, ledger.service.unitview.finish, never changed after it is made, as the
views that share it rely on), anything else (the verdict, the reasons, the witnesses)
as one JSON text. Keyed by the unit's JSON, not its identity: a unit made afresh per
request (an unsigned label's) still finds its page, and a unit object is never taken
for another (`_unit_json` holds each object it keeps, so its id is not reused).
"""

from __future__ import annotations

import json
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from operator import itemgetter
from typing import Any

from markupsafe import escape

from api import viewjson
from api.consumer import slots as slot_words
from api.consumer.environment import environment
from api.consumer.i18n import page_language
from api.consumer.page import page_context
from api.viewjson import KEPT_PARTS, STATIC

#: bytes of cut pages kept at most (a page is 10-60 KB)
MAX_BYTES = 8 * 1024 * 1024
#: a marker's secret: no text in a view can forge a marker (a unit's name, a reason)
_SECRET = secrets.token_hex(12)
_MARKER = re.compile(f"\x02{_SECRET}([a-z_0-9]+)\x03")

#: a cut page: the objects its key named by identity, its pieces with a place for each
#: slot's value between them, what picks the slots' values in their order, its bytes
_Cut = tuple[
    tuple[Any, ...], list[bytes | None], Callable[[Mapping[str, Any]], tuple[Any, ...]], int
]

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
    token = csrf_token.encode()
    # a token without a character Jinja escapes (every token issued has none) as it is
    values["csrf_token"] = (
        token
        if len(token.translate(None, _ESCAPED)) == len(token)
        else str(escape(csrf_token)).encode()
    )
    # what the page shows besides the view: the same in the identity key and the key
    around = (lang, path, image, now.date(), bool(values["scans1"]), values["age"] is None)
    found = None
    fast = None
    if tuple(view) == _SHAPE:  # the usual view: each part by identity (`_by_identity`)
        parts = tuple(view.values())
        fast = (*map(id, parts[:7]), id(parts[8]), id(parts[9]), *around)
        known = _by_identity.get(fast)
        if known is not None:
            found = _kept.get(known[1])
            if found is not None and not _holds(found[0], parts):
                found = None
            key = known[1]
    if found is None:
        # STATIC's parts, spelled out: a generator and its tuple per request cost more
        statics = (
            view.get("entries"),
            view.get("checkpoint"),
            view.get("map_proof"),
            view.get("versions"),
        )
        try:
            rest, nbytes = _rest_key(view)
        except (TypeError, ValueError):  # not a JSON-ready view: render it, keep nothing
            return _render(view, lang, path, switch_href, now, csrf_token, image).encode()
        key = (id(statics[0]), id(statics[1]), id(statics[2]), id(statics[3]), rest, *around)
        found = _kept.get(key)
        if found is not None and not _holds(found[0], (None, None, None, *statics)):
            found = None
        if found is None:
            found = _cut(view, lang, path, switch_href, now, image, statics, values)
            # the key is kept too: the view's JSON and the path count in the budget
            found = (*found[:3], found[3] + nbytes + len(path))
            _keep(key, found)
        else:
            _kept.move_to_end(key)
        if fast is not None:
            if len(_by_identity) >= IDENTITY_KEYS:
                _by_identity.clear()
            # the parts but the static ones (the cut page holds those) and the scans,
            # held so that their ids stay theirs while kept here
            parts = tuple(view.values())
            _by_identity[fast] = ((parts[0], parts[1], parts[2], parts[8], parts[9]), key)
    else:
        _kept.move_to_end(key)
    # the cut page's pieces with this request's slot values between them (both in C)
    _, template, slots, _ = found
    out = template.copy()
    out[1::2] = slots(values)
    return b"".join(out)


def _holds(held: tuple[Any, ...], parts: tuple[Any, ...]) -> bool:
    """Whether a cut page's static parts (``held``) are the view's (``parts``, in
    `_SHAPE`'s order): the very objects, not equal ones."""
    return (
        held[0] is parts[3] and held[1] is parts[4] and held[2] is parts[5] and held[3] is parts[6]
    )


#: a view's keys as ledger.service.ledger.unit_view makes them, in its order: such a
#: view is looked up by the identity of its parts first (`_by_identity`)
_SHAPE = (
    "verdict",
    "reasons",
    "unit",
    "entries",
    "checkpoint",
    "map_proof",
    "versions",
    "scans",
    "owner",
    "witnesses",
)
#: the characters Jinja's escaping replaces (markupsafe.escape): a text without them is
#: shown as it is
_ESCAPED = b"&<>\"'"
#: (the ids of a view's parts but its scans, and what else the page shows) -> (the
#: view's parts, held so that no other object takes their ids meanwhile; the key of its
#: cut page): a view whose parts are the very objects of one seen before has that
#: page, and its key needs no JSON. Parts are only read, never changed, once in a view
#: (the static parts: ledger.service.unitview; the kept ones: viewjson.piece); the cut
#: page's static parts are still checked by identity, as the key's are
_by_identity: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
#: identity keys kept at most (emptied when full; each holds a view's small parts
#: alive: its verdict, reasons, unit, owner and witnesses)
IDENTITY_KEYS = 1024


#: view keys the key leaves out of the rest: the static parts (by identity) and the
#: scan count (a slot)
_NOT_REST = frozenset((*STATIC, "scans"))
#: types whose values go into the key as themselves (with their type)
_PLAIN = frozenset((str, int, bool, type(None)))
#: the JSON of the rest's parts that are neither plain nor the unit: the view's JSON
#: settings (Starlette's), one encoder for every request
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: unit objects whose JSON is kept at most (`_unit_json`; emptied when full)
UNIT_JSON = 1024
_units: dict[int, tuple[object, str]] = {}


def _rest_key(view: Mapping[str, Any]) -> tuple[tuple[Any, ...], int]:
    """(the view's rest by value, the bytes it holds about): every part but `STATIC`
    and ``scans``, in the view's order (module doc).

    Raises:
        TypeError, ValueError: a part is not JSON-ready.
    """
    plain: list[tuple[Any, ...]] = []
    other: list[tuple[str, str | bytes]] = []
    unit = None
    nbytes = 0
    for k, v in view.items():
        if k in _NOT_REST:
            continue
        kind = type(v)
        if kind in _PLAIN:
            plain.append((k, kind, v))
            nbytes += 64 + (len(v) if kind is str else 0)
        elif k == "unit" and kind is dict:
            unit = _unit_json(v)
            nbytes += len(unit)
        else:
            # a kept part (the judged reasons, the witnesses) as the JSON kept with the
            # very object (viewjson.piece: bytes), anything else encoded here (text):
            # by value either way, and bytes never equal text
            text: str | bytes = (
                viewjson.piece(v)
                if (kind is list or kind is dict) and k in KEPT_PARTS
                else _ENCODER.encode(v)
            )
            other.append((k, text))
            nbytes += 64 + len(text)
    return (tuple(plain), unit, tuple(other)), nbytes


def _unit_json(unit: dict[str, Any]) -> str:
    """``unit``'s JSON (the rest's settings), kept per object: every view of a label at
    one log size carries the same unit object (module doc)."""
    found = _units.get(id(unit))
    if found is not None and found[0] is unit:
        return found[1]
    text = _ENCODER.encode(unit)
    if len(_units) >= UNIT_JSON:
        _units.clear()
    _units[id(unit)] = (unit, text)  # held: its id is not another object's meanwhile
    return text


def clear() -> None:
    """Forget every kept page (and the slots' words, api.consumer.slots, and the units'
    JSON)."""
    _kept.clear()
    _size[0] = 0
    _units.clear()
    _by_identity.clear()
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
    pieces = [p.encode() for p in parts[0::2]]
    names = parts[1::2]
    nbytes = sum(len(p) for p in pieces) + 64 * len(pieces) + 200
    template: list[bytes | None] = [None] * (2 * len(pieces) - 1)
    template[0::2] = pieces
    return statics, template, _picker(names), nbytes


def _picker(names: list[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """What gives the values of the slots ``names`` from a request's values, as a tuple
    (``itemgetter`` gives one name's value alone)."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda values: tuple(values[name] for name in names)


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
