"""The consumer page's words in English and Chinese, and the language choice.

`choose_language` picks ``en``, ``zh-CN``, ``zh-TW`` or ``zh-HK`` from an explicit
``?lang=`` or the ``Accept-Language`` header (RFC 9110 section 12.5.4, q-weighted).
Traditional Chinese (``zh-TW``, ``zh-HK``) is the Simplified text in Traditional script
and regional phrasing (`hant`, from the table tools/gen_hant.py generates). `text` looks a message
up by key and fills its ``{placeholders}``; `format_moment` and `format_day` write times
and dates the way each language's readers expect. Every message exists in both
languages by construction (one tuple per key). Messages are plain text: the template
escapes them, so none may carry markup. No I/O, no clock.
"""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

from api.consumer.i18n_hant import HANT
from api.consumer.i18n_pages import MESSAGES as PAGE_MESSAGES
from api.consumer.i18n_signals import MESSAGES as SIGNAL_MESSAGES
from api.consumer.i18n_view import MESSAGES as VIEW_MESSAGES
from api.shortmemo import kept_when_short

EN, ZH = "en", "zh-CN"
#: Traditional Chinese, for Taiwan and for Hong Kong and Macao
ZH_TW, ZH_HK = "zh-TW", "zh-HK"
#: the languages every message is written in (the JSON view's ``text`` carries these)
LANGUAGES = (EN, ZH)
#: the languages a page is served in
PAGE_LANGUAGES = (EN, ZH, ZH_TW, ZH_HK)
_CHINESE = frozenset({ZH, ZH_TW, ZH_HK})
_MAX_RANGES = 32  # an Accept-Language header longer than this is cut, not parsed whole

#: key -> (English, Simplified Chinese)
MESSAGES: dict[str, tuple[str, str]] = dict(VIEW_MESSAGES)


MESSAGES.update(SIGNAL_MESSAGES)
MESSAGES.update(PAGE_MESSAGES)

#: Beijing time (China keeps no daylight saving time): the zone of the Chinese page
BEIJING = timezone(timedelta(hours=8))


def text(lang: str, key: str, **values: object) -> str:
    """Return message ``key`` in ``lang`` with its placeholders filled.

    On a Chinese page a value meets its message as the CJK-Latin spacing convention
    wants (`cjk_spaced`): ``由{actor}生产登记`` reads ``由 Acme 生产登记`` and
    ``由上海工厂生产登记``, ``还可再试{n}次`` reads ``还可再试 3 次``. Only the two seams of
    each value are spaced: a name is shown as its owner wrote it.

    Raises:
        KeyError: ``key`` is not a message (a programming error, caught by the tests).
    """
    english, simplified = MESSAGES[key]
    if lang not in _CHINESE:
        return english.format(**values) if values else english
    if not values:
        return hant(simplified, lang)
    try:  # the value's type too: 1, 1.0 and True are equal keys but read differently
        memo = (lang, key, *((k, type(v), v) for k, v in values.items()))
        found = _FILLED.get(memo)
    except TypeError:  # an unhashable value: filled every time
        return _filled(hant(simplified, lang), values)
    if found is None:
        if len(_FILLED) >= FILLED_MAX:
            _FILLED.clear()
        found = _FILLED[memo] = _filled(hant(simplified, lang), values)
    return found


#: Chinese messages filled (`text`), by language, key and values: a page fills the same
#: ones again and again, and the seams' spacing is the dearest part of a page's words
_FILLED: dict[tuple[object, ...], str] = {}
FILLED_MAX = 8192


def _filled(template: str, values: dict[str, object]) -> str:
    """``template`` with its fields filled from ``values``, each seam spaced (`text`)."""
    out = ""
    for literal, field, spec, conversion in _parsed(template):
        out = _seam(out, literal)
        if field is not None:
            value = _FORMATTER.convert_field(_FORMATTER.get_field(field, (), values)[0], conversion)
            out = _seam(out, _FORMATTER.format_field(value, spec or ""))
    return out


_FORMATTER = string.Formatter()
#: Han ideographs: CJK Unified (with extension A) and Compatibility Ideographs
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: Latin letters (ASCII and Latin-1 to Latin Extended-B) and ASCII digits
_LATIN = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_HAN_LATIN = re.compile(f"([{_HAN}])([{_LATIN}])")
_LATIN_HAN = re.compile(f"([{_LATIN}])([{_HAN}])")


def cjk_spaced(text: str) -> str:
    """Return ``text`` with one space put between each Han character and a Latin letter
    or digit next to it (the usual CJK-Latin spacing convention: ``Acme出品`` becomes
    ``Acme 出品``, ``共3条`` becomes ``共 3 条``).

    Promises: nothing else changes; no space goes inside a Latin or Han run, nor next
    to full-width punctuation (U+3000-U+303F, U+FF00-U+FFEF) or any other character;
    a space already there is kept and never doubled, so a second pass changes nothing.
    """
    return _LATIN_HAN.sub(r"\1 \2", _HAN_LATIN.sub(r"\1 \2", text))


def _seam(left: str, right: str) -> str:
    """``left + right``, with a space where the convention wants one at the seam."""
    return left + _gap(left[-1:] + right[:1]) + right if left and right else left + right


@lru_cache(maxsize=16384)
def _gap(pair: str) -> str:
    """What goes between the two characters of ``pair``: a space or nothing (`cjk_spaced`)."""
    return cjk_spaced(pair)[1:-1]


@lru_cache(maxsize=4096)
def _parsed(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    """``template`` cut into literals and fields (string.Formatter.parse), once."""
    return tuple(_FORMATTER.parse(template))


def chinese(lang: str | None) -> bool:
    """Whether ``lang`` is one of the Chinese page languages."""
    return lang in _CHINESE


def page_language(lang: str | None) -> str:
    """``lang`` when pages are served in it, else English."""
    return lang if lang is not None and lang in PAGE_LANGUAGES else EN


def hant(simplified: str, lang: str) -> str:
    """``simplified`` as ``lang`` reads it: in Traditional script for ``zh-TW`` and
    ``zh-HK`` (a string missing from the generated table is left as it is), unchanged
    otherwise. Names and text that brands or users wrote are never converted."""
    if lang == ZH_TW:
        return HANT.get(simplified, (simplified, simplified))[0]
    if lang == ZH_HK:
        return HANT.get(simplified, (simplified, simplified))[1]
    return simplified


#: how each Chinese page names the UTC+8 zone its times are written in
_ZONE = {ZH: "北京时间", ZH_TW: "台北時間", ZH_HK: "香港時間"}


def format_moment(moment: datetime, lang: str) -> str:
    """Write an aware time in the reader's zone, named: UTC on the English page
    (``2026-11-28 12:00 UTC``), Beijing time on the Chinese page
    (``2026年11月28日 20:00`` with Beijing time named). The date and time never break across lines
    (no-break spaces).

    Raises:
        Nothing: a naive datetime is read as UTC.
    """
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if lang in _CHINESE:
        local = utc.astimezone(BEIJING)  # Beijing, Taipei, Hong Kong: one UTC+8
        return f"{format_day(local.date(), lang)}\u00a0{local:%H:%M}（{_ZONE[lang]}）"
    return f"{format_day(utc.date(), lang)}\u00a0{utc:%H:%M}\u00a0UTC"


def format_day(day: date, lang: str) -> str:
    """Write a date: ``31 Dec 2027`` (no-break spaces, so it never breaks across lines)
    / ``2027年12月31日``.

    Raises:
        Nothing.
    """
    if lang in _CHINESE:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day}\u00a0{_MONTHS[day.month - 1]}\u00a0{day.year}"


_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


#: Chinese tags read in Traditional script (region or script subtags), lower case
_TRADITIONAL = {"tw": ZH_TW, "hant": ZH_TW, "hk": ZH_HK, "mo": ZH_HK}


def _language_of(tag: str) -> str | None:
    """Map a language tag to a page language; None when the page has no such language.

    ``zh-TW``, ``zh-Hant`` and ``zh-Hant-TW`` read Traditional (Taiwan); ``zh-HK``,
    ``zh-MO`` and ``zh-Hant-HK`` Traditional (Hong Kong); every other Chinese tag
    Simplified. ``zh_CN``-style tags (an underscore) are understood."""
    parts = tag.strip().lower().replace("_", "-").split("-")
    if parts[0] == "zh":
        subtags = parts[1:]
        for subtag in reversed(subtags):  # the region decides over the script
            if subtag in ("cn", "sg", "hans"):
                return ZH
            if subtag in _TRADITIONAL:
                return _TRADITIONAL[subtag]
        return ZH
    if parts[0] in ("en", "*"):
        return EN
    return None


def _quality(params: list[str]) -> float:
    """The q value of one Accept-Language range (1 when absent, -1 when malformed)."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return -1.0
            return q if 0.0 <= q <= 1.0 else -1.0
    return 1.0


def choose_language(accept_language: str | None, explicit: str | None) -> str:
    """Choose the page language: ``en``, ``zh-CN``, ``zh-TW`` or ``zh-HK``.

    An explicit choice (``?lang=``) that names a page language wins; otherwise the
    ``Accept-Language`` range with the highest q (RFC 9110 section 12.5.4; the first
    one on ties) among those the page speaks; otherwise English. Kept per (header,
    choice) when both are short (a browser sends the same header on every page).

    Raises:
        Nothing: a malformed header or value falls back to English.
    """
    return _chosen(accept_language, explicit)


def _choose(accept_language: str | None, explicit: str | None) -> str:
    """`choose_language`, worked out."""
    if explicit:
        chosen = _language_of(explicit) if explicit.strip() != "*" else None
        if chosen is not None:
            return chosen
    best, best_q = EN, 0.0
    for item in (accept_language or "").split(",")[:_MAX_RANGES]:
        tag, *params = item.split(";")
        language, q = _language_of(tag), _quality(params)
        if language is not None and q > best_q:
            best, best_q = language, q
    return best


#: header and choice kept up to 200 characters together: 1,024 kept, a few hundred KB
_chosen = kept_when_short(200, 1024)(_choose)
