"""api.consumer.pagecache: a kept page is the page `render_unit_page` gives, byte for
byte, and never another unit's, language's, label state's or log state's.

The views are test_page's hand-built stories. A base's static parts (entries,
checkpoint) are shared between the views of one "base" here as the server shares them
(ledger.service.unitview.UnitBase): the cache keys them by identity.
"""

# CSRF tokens here are test values, not passwords
# ruff: noqa: S106

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.consumer import pagecache
from api.consumer.page import render_unit_page
from ledger import note
from ledger.note import logtime
from tests.factories import key
from tests.unit.test_page import CHECKPOINT, NOW, PATH, STORIES, SWITCH, story

LOG = note.Signer("test.example/log", key(1))

#: a checkpoint with the log's time line: the page shows its age (a per-request slot)
TIMED = logtime.stamp(
    note.sign_checkpoint(note.Checkpoint("test.example/log", 12, bytes(32)), LOG).decode(),
    LOG,
    int(NOW.timestamp()) - 90,
)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    pagecache.clear()
    yield
    pagecache.clear()


def both(view: dict[str, Any], lang: str = "en", **kw: Any) -> tuple[bytes, bytes]:
    """(the cached path's bytes, the plain render's bytes) for the same arguments."""
    args: dict[str, Any] = {"path": PATH, "switch_href": SWITCH, "now": NOW, **kw}
    return pagecache.render(view, lang, **args), render_unit_page(view, lang, **args).encode()


@pytest.mark.parametrize("name", STORIES)
@pytest.mark.parametrize("lang", ["en", "zh-CN", "zh-TW"])
def test_a_kept_page_is_the_rendered_page_with_this_requests_parts(name: str, lang: str) -> None:
    view = story(name)
    cached, plain = both(view, lang, csrf_token="tok-1")
    assert cached == plain
    assert pagecache.kept()[0] == 1
    # the next request: another scan count, CSRF token, query, minute; same kept page
    later = {**view, "scans": {**view["scans"], "count": view["scans"]["count"] + 40}}
    cached, plain = both(
        later,
        lang,
        csrf_token="tok-2<&>",
        switch_href=SWITCH + "&s=abc&x=<b>",
        now=NOW + timedelta(minutes=3, seconds=7),
    )
    assert cached == plain
    assert b"tok-2&lt;&amp;&gt;" in cached or b'name="csrf"' not in cached
    assert pagecache.kept()[0] == 1  # served from the kept page, not rendered again


def test_first_scan_and_second_scan_differ_in_the_hint_and_both_are_right() -> None:
    view = story("genuine")
    first = {**view, "scans": {"count": 1, "first": None}}
    assert both(first)[0] == both(first)[1]
    second = {**view, "scans": {"count": 2, "first": view["scans"]["first"]}}
    cached, plain = both(second)
    assert cached == plain
    assert pagecache.kept()[0] == 2  # the hint's paragraph shows: another cut page


def test_two_label_states_two_languages_never_share_a_page() -> None:
    """One base (the same entries and checkpoint objects), two label states, two
    languages: four pages, each the one its own view renders."""
    base = story("genuine")
    valid = {**base, "unit": {**base["unit"], "label": "valid"}}
    forged = {
        **base,
        "verdict": "invalid",
        "reasons": [{"code": "label-invalid", "message": "m", "evidence": {}}],
        "unit": {**base["unit"], "label": "invalid"},
    }
    pages = {}
    for lang in ("en", "zh-CN"):
        for name, view in (("valid", valid), ("forged", forged)):
            cached, plain = both(view, lang)
            assert cached == plain
            pages[(lang, name)] = cached
    assert len(set(pages.values())) == 4
    assert pagecache.kept()[0] == 4
    # asked again in turn: each still its own
    for (lang, name), page in pages.items():
        assert both(valid if name == "valid" else forged, lang)[0] == page


def test_another_unit_or_log_state_with_equal_content_is_rendered_afresh() -> None:
    view = story("sold")
    assert both(view)[0] == both(view)[1]
    # another unit: its own objects, its own path
    other = story("sold")
    other["unit"] = {**other["unit"], "serial": "SN-2"}
    other["entries"] = copy.deepcopy(other["entries"])
    other["entries"][0]["event"]["place"] = "Another factory"
    cached, plain = both(other, path=PATH.replace("SN-1", "SN-2"))
    assert cached == plain
    assert b"Another factory" in cached
    # the same unit's next log state: a new checkpoint object (a grown log), same text
    grown = {**view, "checkpoint": CHECKPOINT.replace("\n42\n", "\n43\n")}
    cached, plain = both(grown)
    assert cached == plain and b"43" in cached
    # the same content in new objects (a rebuilt base): a miss, never a stale page
    rebuilt = copy.deepcopy(view)
    rebuilt["entries"][-1]["event"]["kind"] = "recall"
    cached, plain = both(rebuilt)
    assert cached == plain
    assert pagecache.kept()[0] == 4


def test_owner_and_picture_and_day_are_part_of_the_key() -> None:
    view = story("claimed")
    owned = {**view, "owner": True}
    assert both(view)[0] != both(owned)[0]
    assert both(owned)[0] == both(owned)[1]
    image = ("/v1/products/x/image/abc", 640, 480)
    assert both(view, image=image)[0] == both(view, image=image)[1]
    # the expiry is judged against the day: a day later, a new page
    expiring = {**view, "unit": {**view["unit"], "expiry": "261201"}}
    today = both(expiring)
    tomorrow = both(expiring, now=NOW + timedelta(days=1))
    assert today[0] == today[1] and tomorrow[0] == tomorrow[1]
    assert today[0] != tomorrow[0]


def test_the_unit_is_keyed_by_its_value_whatever_object_holds_it() -> None:
    """A unit object made afresh per request (an unsigned label's view) finds the page
    its equal made; a unit of another value, in a new object or not, does not."""
    view = story("sold")
    first = both(view)
    again = {**view, "unit": copy.deepcopy(view["unit"])}
    assert both(again) == first
    assert pagecache.kept()[0] == 1
    moved = {**view, "unit": {**view["unit"], "custodian": {"id": "x", "name": "Elsewhere"}}}
    cached, plain = both(moved)
    assert cached == plain and cached != first[0] and b"Elsewhere" in cached
    assert pagecache.kept()[0] == 2
    # the unit objects whose JSON is kept are bounded, and a dropped one is encoded again
    for _ in range(pagecache.UNIT_JSON + 5):
        assert both({**view, "unit": dict(view["unit"])})[0] == first[0]
    assert len(pagecache._units) <= pagecache.UNIT_JSON
    assert pagecache.kept()[0] == 2


def test_plain_values_are_keyed_with_their_type() -> None:
    # True and 1 are equal in Python, not in the view's JSON: two keys, two pages
    view = story("claimed")
    for owner in (True, 1, "1", None):
        cached, plain = both({**view, "owner": owner})
        assert cached == plain
    assert pagecache.kept()[0] == 4


def test_a_marker_like_text_in_a_view_is_shown_as_text() -> None:
    """A name holding a made-up marker cannot make the cache splice into it."""
    view = story("genuine")
    view["unit"] = {
        **view["unit"],
        "product": {"gtin": "1", "name": "\x02deadbeef0\x03 csrf_token"},
    }
    assert both(view)[0] == both(view)[1]
    assert both(view, csrf_token="zz")[0] == both(view, csrf_token="zz")[1]
    # a % of the page's own (or in a slot) is shown as it is
    view["unit"] = {**view["unit"], "product": {"gtin": "1", "name": "100% silk %s %d %%"}}
    cached, plain = both(view, csrf_token="%s")
    assert cached == plain and b"100% silk %s %d %%" in cached


def test_the_cache_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pagecache, "MAX_BYTES", 60_000)
    views = []
    for i in range(30):
        view = story("genuine")
        view["entries"] = copy.deepcopy(view["entries"])  # 30 bases
        views.append(view)
        assert both(view, path=f"/01/09506000134352/21/SN-{i}")[0]
    count, nbytes = pagecache.kept()
    assert nbytes <= 60_000
    assert 1 <= count < 30
    # the oldest are gone, the newest kept
    pagecache.render(views[-1], "en", path="/01/09506000134352/21/SN-29", switch_href="", now=NOW)
    assert pagecache.kept()[0] == count


def test_the_budget_counts_the_key_a_page_is_kept_under() -> None:
    # a view with a long text keeps that text in its key: the budget must see it
    view = story("genuine")
    long = {**view, "unit": {**view["unit"], "note": "x" * 50_000}}
    assert both(view)[0]
    small = pagecache.kept()[1]
    pagecache.clear()
    assert both(long)[0]
    assert pagecache.kept()[1] >= small + 50_000


def served(view: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """``view`` with the parts and in the order of a served view (pagecache._SHAPE:
    ledger.service.ledger.unit_view's), ``parts`` put in its place."""
    whole = {"map_proof": "map-proof", "versions": {}, "owner": False, "witnesses": {}}
    whole = {**whole, **view, **parts}
    return {k: whole[k] for k in pagecache._SHAPE}


def test_a_served_view_is_found_by_the_identity_of_its_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A view whose parts (but its scans) are the objects of one seen before has that
    page, without working out its key: with this request's count, token and time."""
    view = served(story("sold"))
    assert both(view)[0] == both(view)[1]
    assert len(pagecache._by_identity) == 1

    def not_again(_view: object) -> None:
        raise AssertionError("the key was worked out again")

    monkeypatch.setattr(pagecache, "_rest_key", not_again)
    for count in (3, 4, 90):
        again = {**view, "scans": {**view["scans"], "count": count}}
        later = NOW + timedelta(seconds=count)
        cached = pagecache.render(
            again, "en", path=PATH, switch_href=SWITCH, now=later, csrf_token=f"t{count}"
        )
        plain = render_unit_page(
            again, "en", path=PATH, switch_href=SWITCH, now=later, csrf_token=f"t{count}"
        )
        assert cached == plain.encode() and f"t{count}".encode() in cached
    assert pagecache.kept()[0] == 1


def test_new_objects_are_keyed_by_value_and_never_served_a_stale_page() -> None:
    """Parts in new objects miss the identity key: equal ones find their page by value,
    others (and new static parts, equal or not) get their own."""
    view = served(story("sold"))
    first = both(view)[0]
    # equal reasons in a new object: by value, the same page
    assert both({**view, "reasons": copy.deepcopy(view["reasons"])})[0] == first
    assert pagecache.kept()[0] == 1
    # other reasons, a new unit, another verdict: each its own page, as rendered
    other = served(story("recalled"), entries=view["entries"], checkpoint=view["checkpoint"])
    for changed in (
        {**view, "reasons": other["reasons"]},
        {**view, "unit": {**view["unit"], "serial": "SN-9"}},
        {**view, "owner": True},
    ):
        cached, plain = both(changed)
        assert cached == plain and cached != first
    # the verdict is keyed too (the page words it from the reasons)
    assert both({**view, "verdict": other["verdict"]})[0] == first
    # the same content in new static objects (a rebuilt base): a new page, not the kept
    rebuilt = {**view, "entries": copy.deepcopy(view["entries"])}
    before = pagecache.kept()[0]
    assert both(rebuilt)[0] == both(rebuilt)[1]
    assert pagecache.kept()[0] == before + 1


class _Entries(list):  # type: ignore[type-arg]
    """A list that can be watched for its end (a weak reference)."""


def test_the_identity_keys_are_bounded_and_hold_no_static_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The identity memo is bounded and holds a view's small parts only: a base whose
    cut page left the cache is freed, and its key then finds nothing."""
    import gc
    import weakref

    monkeypatch.setattr(pagecache, "IDENTITY_KEYS", 8)
    view = served(story("genuine"))
    for _ in range(20):  # a unit made afresh per request (an unsigned label's view)
        fresh = {**view, "unit": dict(view["unit"])}
        assert both(fresh)[0] == both(fresh)[1]
    assert len(pagecache._by_identity) <= 8
    assert pagecache.kept()[0] == 1  # all of them one page, by value
    entries = _Entries(copy.deepcopy(view["entries"]))
    watched = weakref.ref(entries)
    based = {**view, "entries": entries}
    assert both(based)[0] == both(based)[1]
    known = dict(pagecache._by_identity)
    pagecache._kept.clear()  # its cut page leaves (as the byte budget makes it)
    del based, entries
    gc.collect()
    assert watched() is None
    pagecache._by_identity.update(known)
    assert both(view)[0] == both(view)[1]  # still right, rendered again


def test_a_view_that_is_not_json_ready_is_rendered_and_not_kept() -> None:
    view = {**story("genuine"), "odd": object()}
    cached, plain = both(view)
    assert cached == plain
    assert pagecache.kept()[0] == 0


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(STORIES),
    lang=st.sampled_from(["en", "zh-CN", "zh-HK"]),
    count=st.integers(min_value=0, max_value=10_000),
    token=_text,
    switch=_text,
    seconds=st.integers(min_value=0, max_value=10 * 86_400),
    timed=st.booleans(),
    shaped=st.booleans(),
)
def test_kept_pages_equal_rendered_pages(
    name: str,
    lang: str,
    count: int,
    token: str,
    switch: str,
    seconds: int,
    timed: bool,
    shaped: bool,
) -> None:
    """Whatever the per-request parts, the kept page spliced is the rendered page (a
    served view's found by the identity of its parts too)."""
    view = served(story(name)) if shaped else story(name)
    view["checkpoint"] = TIMED if timed else CHECKPOINT
    view["scans"] = {**view["scans"], "count": count}
    for href in (SWITCH, "?" + switch, switch):
        cached, plain = both(
            view, lang, csrf_token=token, switch_href=href, now=NOW + timedelta(seconds=seconds)
        )
        assert cached == plain
        # the age's paragraph is there exactly when the checkpoint has a time line
        said = ("public log as of about", "公开日志核对", "公開日誌核對")
        assert any(words.encode() in cached for words in said) == timed


@settings(max_examples=150)
@given(
    lang=st.sampled_from(["en", "zh-CN", "zh-TW", "zh-HK"]),
    count=st.one_of(st.integers(min_value=-2, max_value=10**7), st.sampled_from([True, False])),
    place=st.sampled_from([None, "DE", "CN-SH", "US-CA"]),
    source=st.sampled_from([None, "hint", "header"]),
    at=st.sampled_from(["2026-11-28T12:00:00Z", "2026-12-31T23:59:59.999Z", "not a time <b>"]),
    seconds=st.integers(min_value=-120, max_value=3 * 86_400),
)
def test_spliced_scan_sentences_and_footer_lines_are_the_rendered_ones(
    lang: str, count: int, place: str | None, source: str | None, at: str, seconds: int
) -> None:
    """The scan sentence is spliced into words worked out once per first scan with a
    marker count (api.consumer.slots), the time and age lines kept per minute and
    second: each page is still the page rendered whole, twice over (worked out, then
    from the memos)."""
    view = story("genuine")
    view["checkpoint"] = TIMED
    view["scans"] = {"count": count, "first": {"at": at, "place": place, "place_source": source}}
    for _ in range(2):
        cached, plain = both(view, lang, csrf_token="t", now=NOW + timedelta(seconds=seconds))
        assert cached == plain


def test_the_marker_count_in_a_first_scan_is_shown_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first scan whose words hold the marker's digits (as if someone guessed them)
    is worked out in full: the page is still the rendered one."""
    from api.consumer import slots

    view = story("genuine")
    # the year of the first scan's date: in its words
    monkeypatch.setattr(slots, "_COUNT", 2026)
    monkeypatch.setattr(slots, "_COUNT_DIGITS", b"2026")
    view["scans"] = {"count": 7, "first": {"at": "2026-11-28T12:00:00Z", "place": None}}
    cached, plain = both(view, "en")
    assert cached == plain and b"checked 7 times" in cached
