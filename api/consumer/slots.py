"""The consumer page's per-request parts (`api.consumer.page.SLOTS`, but the CSRF token)
as the cached page (`api.consumer.pagecache`) splices them in: the strings
`api.consumer.page.page_slots` gives, escaped as Jinja escapes them, UTF-8, each worked
out once per what it depends on instead of once per request.

- **The scan sentence** depends on the count, which moves with every scan. Its words are
  worked out once per (language, known unit, first scan) with a marker count: an
  18-digit number drawn when the process starts, so no date or place can hold it (a
  sentence where it does not occur exactly once is worked out in full). The sentence of
  a count is the marker's with the marker replaced by the count's digits: digits only
  meet their message at its two seams, and the Chinese seam spacing (`i18n.text`)
  treats every digit alike, so the bytes are those of the count worked out in full.
  A count of 0 or 1 (other sentences), a missing first scan or a count that is not a
  plain int is worked out in full.
- **The time of the check** is written to the minute: once per (language, minute).
- **The log state's age** is a number of whole seconds: once per (language, seconds).
- **The language switch** is escaped once per (link, language) for a link of a label's
  length (`KEPT_LINK` characters; the router keeps the link itself per label).

Every memo holds at most `MAX_ENTRIES` entries and is emptied when full (an entry is a
few hundred bytes: at most about 2 MB in all). tests/unit/test_page_cache.py compares the
spliced pages with pages rendered whole.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from markupsafe import escape

from api.consumer.facts import scan_line
from api.consumer.page import age_words, checked_line, known_unit, served_at, switch_slot

#: entries each memo holds at most
MAX_ENTRIES = 4096
#: language switch links up to this long are kept escaped (a label's link is ~200)
KEPT_LINK = 512
#: the marker count: 18 digits, drawn per process
_COUNT = 10**17 + secrets.randbelow(9 * 10**17)
_COUNT_DIGITS = str(_COUNT).encode()

_scans: dict[tuple[Any, ...], tuple[bytes, bytes, bytes]] = {}
_checked: dict[tuple[Any, ...], bytes] = {}
_ages: dict[tuple[str, int], bytes] = {}
_switches: dict[tuple[str, str], bytes] = {}
#: the scan sentence with no scan (0) or of the first (1), by language
_plain: dict[tuple[str, int], tuple[bytes, bytes]] = {}


def escaped(
    view: Mapping[str, Any], lang: str, *, switch_href: str, now: datetime
) -> dict[str, bytes | None]:
    """The slots of `page.page_slots` (same arguments; ``lang`` a page language) but the
    CSRF token, each escaped and encoded: ``switch_href``, ``scans0`` (the scan
    sentence), ``scans1`` (its hint, maybe empty), ``checked``, ``age`` (None without a
    time line)."""
    sentence, hint = _scan_words(view, lang)
    stamp = now.timestamp()  # one reading for both footer lines
    # each memo looked up here first: its function (which keeps what it works out) is
    # called only for what is not kept yet
    switch = _switches.get((switch_href, lang))
    checked_key = _checked_key(now, lang, stamp)
    checked = _checked.get(checked_key)
    dated = served_at(view.get("checkpoint"))
    age_key = None if dated is None else (lang, max(0, int(stamp) - dated))
    age = None if age_key is None else _ages.get(age_key)
    return {
        "switch_href": _switch_words(switch_href, lang) if switch is None else switch,
        "scans0": sentence,
        "scans1": hint,
        "checked": _checked_words(now, lang, checked_key) if checked is None else checked,
        "age": _age_words(age_key) if age is None and age_key is not None else age,
    }


def clear() -> None:
    """Forget every memo."""
    for memo in (_scans, _checked, _ages, _switches, _plain):
        memo.clear()


def _bytes(text: str) -> bytes:
    return str(escape(text)).encode()


def _keep(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= MAX_ENTRIES:
        memo.clear()
    memo[key] = value


def _scan_words(view: Mapping[str, Any], lang: str) -> tuple[bytes, bytes]:
    scans = view.get("scans")
    # a view's parts are dicts: the abstract Mapping test only for anything else
    if scans.__class__ is dict or isinstance(scans, Mapping):
        count = scans.get("count")
        first = scans.get("first")
        if (
            count.__class__ is int
            and count > 1
            and (first.__class__ is dict or isinstance(first, Mapping))
        ):
            unit = view.get("unit")
            known = bool(unit) and (unit.__class__ is dict or isinstance(unit, Mapping))
            try:
                # the first scan's items in its own order: an equal scan in another
                # order is only another key (the view's are made in one order)
                key: tuple[Any, ...] = (lang, known, tuple(first.items()))
                cut = _scans.get(key)
            except TypeError:  # a value that is not hashable (or keys not comparable)
                cut = None
                key = ()
            if cut is None:
                marked, hint = scan_line({"count": _COUNT, "first": first}, lang, known=known)
                parts = _bytes(marked).split(_COUNT_DIGITS)
                if len(parts) == 2:
                    cut = (parts[0], parts[1], _bytes(hint))
                    if key:
                        _keep(_scans, key, cut)
            if cut is not None:
                return b"%s%d%s" % (cut[0], count, cut[1]), cut[2]
    # no scan or the first one: a sentence of the language alone (`scan_line`'s first
    # two cases, tested as it tests them), worked out once per language
    counted = scans.get("count") if isinstance(scans, Mapping) else None
    firsts = scans.get("first") if isinstance(scans, Mapping) else None
    count = counted if isinstance(counted, int) else 0
    case = 0 if not count or not isinstance(firsts, Mapping) else 1 if count == 1 else None
    if case is not None:
        words = _plain.get((lang, case))
        if words is None:
            sentence, hint = scan_line(scans, lang, known=known_unit(view))
            words = _plain[(lang, case)] = (_bytes(sentence), _bytes(hint))
        return words
    sentence, hint = scan_line(scans, lang, known=known_unit(view))
    return _bytes(sentence), _bytes(hint)


def _switch_words(switch_href: str, lang: str) -> bytes:
    key = (switch_href, lang)
    found = _switches.get(key)
    if found is None:
        found = _bytes(switch_slot(switch_href, lang))
        if len(switch_href) <= KEPT_LINK:  # a stranger's long links are not kept
            _keep(_switches, key, found)
    return found


def _checked_key(now: datetime, lang: str, stamp: float) -> tuple[Any, ...]:
    """The footer's time line's memo key. The line is written in UTC (or Beijing time) to
    the minute (`format_moment`): for an aware time that is its minute since the epoch
    (``stamp``: its timestamp), with its minute of the hour (exact: a float rounding up
    to the next minute gives another key); a naive one is read as UTC there, and as
    local time by ``timestamp``, so it keys by its own minute."""
    if now.tzinfo is not None:
        return (lang, int(stamp // 60), now.minute)
    return (lang, now.replace(second=0, microsecond=0))


def _checked_words(now: datetime, lang: str, key: tuple[Any, ...]) -> bytes:
    found = _bytes(checked_line(now, lang))
    _keep(_checked, key, found)
    return found


def _age_words(key: tuple[str, int]) -> bytes:
    found = _bytes(age_words(key[1], key[0]))
    _keep(_ages, key, found)
    return found
