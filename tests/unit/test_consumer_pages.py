"""The shopper's pages beyond the verdict page: the headlines chosen for each reader
(api.consumer.headline), the claim page and its errors (api.consumer.claim_page), the
error and "How to check a product" pages (api.consumer.error_page), places and times
(api.consumer.places, api.consumer.i18n).

`english_in` finds English sentences of the pages' own messages in a text: a Chinese
page must show none (data such as brand names may be English; sentences may not).
"""

# ruff: noqa: RUF001 - Chinese punctuation in the expected words

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from api.consumer.claim_page import (
    claim_error_words,
    claim_form,
    render_claim_page,
    render_claim_retry,
    wait_words,
)
from api.consumer.error_page import render_error_page, render_help_page, wants_html
from api.consumer.i18n import MESSAGES
from api.consumer.page_signals import signal_text
from api.consumer.places import place_name, plain
from api.consumer.timeline import who
from api.csrf import CsrfError
from api.problems import RateLimitedError
from ledger.errors import NotFoundError, ValidationError
from ledger.rules import AlreadyClaimedError, BadClaimCodeError
from ledger.service.claims import ClaimLockedError
from tests.unit.test_page import (
    ACME,
    GTIN,
    PATH,
    STORIES,
    Page,
    entry,
    reason,
    render,
    seen,
    story,
)

_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def _fragments() -> list[str]:
    """The English messages' fixed parts of three words or more."""
    parts = []
    for english, _ in MESSAGES.values():
        for part in _PLACEHOLDER.split(english):
            part = part.strip(" .,:;()?!")
            if len(part.split()) >= 3:
                parts.append(part)
    return parts


FRAGMENTS = _fragments()


def english_in(text: str) -> list[str]:
    """The English message fragments found in ``text`` (whitespace normalised)."""
    flat = re.sub(r"\s+", " ", text)
    return [f for f in FRAGMENTS if f in flat]


LANGS = ("en", "zh-CN")


# --- headlines for each reader ---------------------------------------------------------


def sold_view() -> dict[str, Any]:
    view = story("sold")
    view["unit"]["last_sold"] = "2026-11-28T12:06:00Z"
    view["owner"] = False
    return view


def test_the_real_buyers_first_scan_is_neutral_and_offers_the_claim_at_the_top() -> None:
    page = seen(sold_view())
    assert "".join(page.h1) == "Sold on 28\u00a0Nov\u00a02026"  # never broken across lines
    assert page.text.index("Just bought it? Claim it now") < page.text.index("This code")
    assert "Buying it second-hand? Ask the seller for the transfer code" in page.text
    assert "Already sold" not in page.text  # not listed again as a caution
    links = [a.get("href") for t, a in page.tags if t == "a"]
    assert "#claim" in links and 'id="claim"' in render(sold_view())
    chinese = seen(sold_view(), "zh-CN")
    assert "".join(chinese.h1) == "已于 2026年11月28日售出"
    assert "立即认领" in chinese.text
    html = render(sold_view())
    assert 'class="verdict v-sold"' in html  # neutral blue, not the amber caution


def test_sold_with_another_reason_stays_a_caution() -> None:
    view = sold_view()
    view["reasons"].append(reason("reported", open=2))
    assert "".join(seen(view).h1) == "Caution"
    assert "2 reports about this item are open" in seen(view).text
    view["reasons"][-1] = reason("reported", open=1)
    assert "A report about this item is open" in seen(view).text  # no "1 report(s)"


def forged_view() -> dict[str, Any]:
    view = story("genuine")
    view["verdict"] = "invalid"
    view["reasons"] = [reason("label-invalid")]
    view["unit"]["label"] = "invalid"
    return view


@pytest.mark.parametrize("lang", LANGS)
def test_a_forged_label_says_the_brand_did_not_print_it(lang: str) -> None:
    page = seen(forged_view(), lang)
    html = render(forged_view(), lang)
    if lang == "en":
        assert "".join(page.h1) == "This label was not printed by Acme Ltd"
        assert "The real SN-1 is with Shop." in page.text
        assert "Do not buy it." in page.text
    else:
        assert "".join(page.h1) == "此标签不是 Acme Ltd 印制的"
        assert "序列号为 SN-1 的正品目前在 Shop 处。" in page.text
        assert not english_in(page.text)
    assert 'class="verdict v-invalid"' in html
    assert 'id="claim"' not in html  # the real unit's claim form is not this label's
    assert 'class="tl"' not in html  # nor its green history
    assert 'id="report"' in html and 'href="#report"' in html
    assert page.text.index("SN-1") < page.text.index(
        "Report a problem" if lang == "en" else "举报问题"
    )


def test_a_recall_is_red_with_the_brands_support_contact() -> None:
    view = story("recalled")
    view["unit"]["product"]["support"] = "400-820-0000"
    page = seen(view)
    assert "".join(page.h1) == "Recalled: do not use"
    assert "Contact Acme Ltd (400-820-0000) for a refund or a replacement." in page.text
    assert 'class="verdict v-invalid"' in render(view)
    assert "Support 400-820-0000" in page.text


def test_a_failed_inspection_shows_its_note() -> None:
    view = story("genuine")
    view["verdict"], view["reasons"] = "caution", [reason("inspection-failed")]
    view["entries"].append(entry(6, "inspect", ACME, result="fail", note="seal broken"))
    assert "Note: seal broken" in seen(view).text


def test_partner_shown_by_role_when_the_brand_chooses() -> None:
    view = story("genuine")
    for e in view["entries"]:
        if e["signer"]["id"] == "ship-co":
            e["signer"] = {**e["signer"], "display": "role"}
    text = seen(view).text
    assert "Ship Co" not in text
    assert "Received by Courier" in text


def test_product_names_in_the_readers_language() -> None:
    view = story("genuine")
    view["unit"]["product"]["names"] = {"en": "Runner 42", "zh-CN": "跑鞋 42"}
    assert "跑鞋 42" in seen(view, "zh-CN").text
    assert "Runner 42" in seen(view).text


@pytest.mark.parametrize("name", ["genuine", "sold", "claimed", "recalled", "unknown", "invalid"])
def test_no_english_sentence_on_a_chinese_page(name: str) -> None:
    assert english_in(seen(story(name), "zh-CN").text) == []


def test_technical_details_are_folded_away() -> None:
    html = render(story("genuine"))
    details = html[html.index("<details>") : html.index("</details>")]
    for words in ("log entry #", "append-only log", "signed JSON", "offline proof"):
        assert words in details, words
        assert words not in html.replace(details, ""), words


_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _poisoned(value: Any) -> Any:
    """``value`` with bidi controls put into every string (two, inside and at the end)."""
    if isinstance(value, dict):
        return {k: _poisoned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_poisoned(v) for v in value]
    if isinstance(value, str):
        return value[:1] + "\u202e" + value[1:] + "\u2066"
    return value


def test_bidi_controls_never_reach_the_page() -> None:
    view = story("genuine")
    view["entries"][0]["event"]["place"] = "Shen\u202ezhen\u2066 DC"
    view["unit"]["brand"] = {**ACME, "name": "Ac\u202eme"}
    html = render(view)
    assert not _BIDI.search(html)
    assert "Shenzhen DC" in Page(html).text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", STORIES)
def test_bidi_controls_in_any_text_of_the_view_never_reach_a_page(name: str, lang: str) -> None:
    """Every string of the view (names, places, notes, reasons, codes, even the GTIN and
    the times) carries bidi controls: the verdict page and the claim page show none."""
    view = _poisoned(story(name))
    assert not _BIDI.search(render(view, lang))
    form = claim_form(view, PATH, "\u202eXY6Y", lang)
    page = render_claim_page(form, lang, csrf_token=CSRF, switch_href="/s", limit=LIMIT)
    assert not _BIDI.search(page)


# --- places and times ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "en", "zh"),
    [
        ("CN-SH", "Shanghai, China", "中国上海"),
        ("US", "the United States", "美国"),  # "first checked in the United States"
        ("CN-HK", "Hong Kong", "中国香港"),
        ("US-CA", "California, United States", "美国加利福尼亚州"),
        ("FR-75", "75, France", "FR-75"),
        ("ZZ", "ZZ", "ZZ"),
        ("Shanghai, Nanjing Road", "Shanghai, Nanjing Road", "Shanghai, Nanjing Road"),
        ("x" * 500, "x" * 500, "x" * 500),
    ],
)
def test_places_as_names(code: str, en: str, zh: str) -> None:
    assert place_name(code, "en") == en
    assert place_name(code, "zh-CN") == zh


def test_plain_takes_out_bidi_controls() -> None:
    assert plain("a\u202eb\u200fc\u2068d") == "abcd"


# --- the claim page --------------------------------------------------------------------

CODE = "XY6Y-KD2Y-7B5A-55X1-X"
CSRF = "1796309524.form-token"
LIMIT = (10, timedelta(minutes=15))


def claim_html(view: dict[str, Any], lang: str = "en", code: str = CODE) -> str:
    form = claim_form(view, PATH, code, lang)
    return render_claim_page(form, lang, csrf_token=CSRF, limit=LIMIT)


@pytest.mark.parametrize("lang", LANGS)
def test_the_claim_page_has_the_code_filled_in_and_one_button(lang: str) -> None:
    html = claim_html(sold_view(), lang)
    page = Page(html)
    assert "".join(page.h1) == ("Claim your item" if lang == "en" else "认领您的商品")
    inputs = [a for t, a in page.tags if t == "input" and a.get("name") == "code"]
    assert inputs[0]["value"] == CODE
    assert [t for t, _ in page.tags].count("button") == 1
    assert "<script" not in html
    assert '<meta name="referrer" content="strict-origin">' in html  # the code stays here
    # the claim first: the form comes before the explanation
    what = "What claiming does" if lang == "en" else "认领之后"
    assert html.index("<button") < html.index(what)
    warn = (
        "After 10 wrong codes in a row"
        if lang == "en"
        else "连续输错 10 次后，需等待 15 分钟才能再次认领"
    )
    assert warn in page.text
    assert "Runner 42" in page.text
    if lang == "zh-CN":
        assert not english_in(page.text)


def test_the_claim_page_for_each_state() -> None:
    claimed = story("claimed")
    assert "This item has already been claimed" in Page(claim_html(claimed)).text
    assert "<form" not in claim_html(claimed)
    owner = sold_view() | {"owner": True}
    assert "This item is yours" in Page(claim_html(owner)).text
    assert "Not found: likely counterfeit" in Page(claim_html(story("unknown"))).text
    gone = sold_view()
    gone["unit"]["decommissioned"] = True
    assert "This item cannot be claimed" in Page(claim_html(gone)).text


def test_a_huge_or_hostile_code_is_cut_and_escaped() -> None:
    html = claim_html(sold_view(), code='"><script>x</script>' + "A" * 10_000)
    assert "<script>x" not in html
    assert len(html) < 20_000


@pytest.mark.parametrize(
    ("error", "en", "zh"),
    [
        (ValidationError("the check character does not match: a typo?", field="code"),
         "The code has a typo", "认领码有输入错误"),
        (ValidationError("a claim code has 17 symbols, not 0", field="code"),
         "This is not a claim code", "这不是认领码"),
        (BadClaimCodeError("the claim code does not match the unit"),
         "This code does not match this item", "此码与该商品不匹配"),
        (BadClaimCodeError("no match", attempts_left=2, wait_after=900),
         "2 more tries, then claiming pauses for 15 min.", "还可再试 2 次，之后需等待 15 分钟才能"),
        (BadClaimCodeError("no match", attempts_left=1, wait_after=900),
         "1 more try, then", "还可再试 1 次"),
        (BadClaimCodeError("no match", attempts_left=0, wait_after=1800),
         "No tries left: the next one can come in 30 min.", "已没有剩余次数，请在 30 分钟后再试。"),
        (AlreadyClaimedError("the unit is already claimed"),
         "enter the transfer code", "请输入对方提供的转让码"),
        (ClaimLockedError("too many wrong codes: must wait 900 s", 900),
         "Too many wrong codes. Please try again in 15 min.", "输错次数过多，请在 15 分钟后再试。"),
        (RateLimitedError("slow down", 40), "try again in 40 seconds", "请在 40 秒后再试"),
        (NotFoundError("no unit"), "not in the brand's register", "品牌方的登记记录中没有该商品"),
        (CsrfError("bad token"), "This form has expired", "表单已过期"),
    ],
)  # fmt: skip
def test_claim_errors_in_the_shoppers_words(error: Any, en: str, zh: str) -> None:
    assert en in claim_error_words(error, "en")
    chinese = claim_error_words(error, "zh-CN")
    assert zh in chinese
    assert not re.search(r"[a-z]{3,}", chinese)  # no English, no API detail


def test_a_refused_claim_keeps_what_was_typed() -> None:
    error = BadClaimCodeError("the claim code does not match the unit")
    html = render_claim_retry(
        error, "zh-CN", path=PATH, action=f"/v1/units/{GTIN}/SN-1/claim", serial="SN-1",
        typed="xy6y kd2y", csrf_token=CSRF, limit=LIMIT,
    )  # fmt: skip
    page = Page(html)
    assert "此码与该商品不匹配" in page.text
    assert any(a.get("value") == "xy6y kd2y" for t, a in page.tags if t == "input")
    assert not english_in(page.text)


def test_wait_words() -> None:
    assert wait_words(40, "en") == "40 seconds"
    assert wait_words(900, "en") == "15 min"
    assert wait_words(7200, "zh-CN") == "2 小时"


# --- error and help pages --------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "en", "zh"),
    [
        ("gs1", "This code cannot be read", "无法识别此码"),
        ("not-found", "Page not found", "页面不存在"),
        ("rate-limited", "Too many checks", "查询过于频繁"),
        ("internal", "Something went wrong", "出了点问题"),
    ],
)
def test_error_pages_in_words(code: str, en: str, zh: str) -> None:
    for lang, title in (("en", en), ("zh-CN", zh)):
        page = Page(render_error_page(code, lang, wait="1 min"))
        assert "".join(page.h1) == title
        assert "/how-to-check" in str(page.tags)
        if lang == "zh-CN":
            assert not english_in(page.text)


def test_a_rate_limit_without_a_wait_is_worded_in_the_readers_language() -> None:
    """No Retry-After: the page still names a wait, in the page's language."""
    assert "请在 1 分钟后再试。" in Page(render_error_page("rate-limited", "zh-CN")).text
    assert "Please wait 1 min and try again." in Page(render_error_page("rate-limited", "en")).text


def test_help_page_in_both_languages() -> None:
    english = Page(render_help_page("en"))
    assert "".join(english.h1) == "How to check a product"
    assert "scan the code inside the package" in english.text
    chinese = Page(render_help_page("zh-CN"))
    assert "".join(chinese.h1) == "如何查验商品"
    assert not english_in(chinese.text)


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("text/html", True),
        ("application/json", False),
        ("application/json, text/html", False),
        ("*/*", False),
        (None, False),
        ("", False),
    ],
)
def test_wants_html(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html


@pytest.mark.parametrize(("lang", "shown"), [("en", "Platform"), ("zh-CN", "平台")])
def test_the_operator_is_named_by_its_role(lang: str, shown: str) -> None:
    """The operator is this service: "Platform" / "平台", not "Platform operator · Platform"
    in English on a Chinese page."""
    operator = {"id": "operator", "name": "Platform operator", "role": "operator"}
    assert who(operator, lang) == (shown, "")
    assert who(ACME, lang)[0] == ("Acme Ltd · Brand" if lang == "en" else "Acme Ltd · 品牌方")


@pytest.mark.parametrize(("lang", "words"), [("en", "11,642 km away"), ("zh-CN", "11,642 公里外")])
def test_a_distance_is_written_with_thousands_separators(lang: str, words: str) -> None:
    evidence = {"km": 11642, "minutes": 60, "from": {}, "to": {}}
    _, why = signal_text("impossible-travel", evidence, {}, lang)
    assert words in why
