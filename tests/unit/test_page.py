"""The consumer page (api.consumer.page) and its words (api.consumer.i18n), in English
and Chinese.

Views are built by hand by a small factory (`story`) in the shape of docs/API.md, and
once for real by `Ledger.unit_view` on a SQLite file, then rendered and read back as
the visible text a shopper sees.
"""

# Chinese text uses full-width punctuation on purpose: RUF001 would flag every sentence.
# ruff: noqa: RUF001

from __future__ import annotations

import copy
import re
import string
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.consumer.i18n import MESSAGES, choose_language, format_moment
from api.consumer.page import render_unit_page

GTIN = "09506000134352"
PATH = f"/01/{GTIN}/21/SN-1"
SWITCH = f"{PATH}?lang=zh-CN"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CHECKPOINT = "test.example/log\n42\nq83vEjsfVnOH4vZvK3V8yxbJxHKoUOWo6sPTJz6JZ8k=\n\n— test.example/log abc=\n"
LANGS = ("en", "zh-CN")

ACME = {"id": "acme", "name": "Acme Ltd", "role": "brand", "revoked": False}
SHIP = {"id": "ship-co", "name": "Ship Co", "role": "courier", "revoked": False}
SHOP = {"id": "shop", "name": "Shop", "role": "retailer", "revoked": False}
INSP = {"id": "insp", "name": "Insp Lab", "role": "inspector", "revoked": False}


# --- the factory -------------------------------------------------------------------


def entry(index: int, kind: str, signer: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """One view entry: a unit event of ``kind`` signed by ``signer``, at 12:00 + index min."""
    event = {
        "kind": kind,
        "actor": signer["id"],
        "time": f"2026-11-28T12:{index:02d}:00Z",
        "unit": {"gtin": GTIN, "serial": "SN-1"},
        "prev": None if kind == "commission" else "A" * 43,
        **fields,
    }
    return {
        "index": 10 + index,
        "leaf": "AAAA",
        "leaf_hash": "B" * 43,
        "proof": ["C" * 43],
        "event": event,
        "received": "2026-11-28T12:00:00.000Z",
        "signer": signer,
    }


def custody() -> list[dict[str, Any]]:
    """Made, shipped, received, inspected, handed to the shop, received there."""
    return [
        entry(0, "commission", ACME, place="Shenzhen factory"),
        entry(1, "handoff", ACME, to="ship-co", place="Shenzhen DC"),
        entry(2, "receive", SHIP, place="Shenzhen DC"),
        entry(3, "inspect", INSP, result="pass", note="seal intact"),
        entry(4, "handoff", SHIP, to="shop"),
        entry(5, "receive", SHOP, place="Shanghai store"),
    ]


def unit(**changes: Any) -> dict[str, Any]:
    """The view's ``unit`` object of an in-stock unit at the shop."""
    return {
        "gtin": GTIN,
        "serial": "SN-1",
        "path": PATH,
        "lot": "L1",
        "expiry": "271231",
        "brand": ACME,
        "product": {"gtin": GTIN, "name": "Runner 42"},
        "state": "in_stock",
        "custodian": SHOP,
        "pending": None,
        "sold": False,
        "delivered": False,
        "claimed": False,
        "recalled": False,
        "decommissioned": False,
        "flags": 0,
        "label": "absent",
        **changes,
    }


def reason(code: str, **evidence: Any) -> dict[str, Any]:
    return {"code": code, "message": f"english message for {code}", "evidence": evidence}


def story(name: str) -> dict[str, Any]:
    """A hand-built unit view for one of the page's stories."""
    entries, changes, reasons = custody(), {}, [reason("verified")]
    verdict = "caution"
    if name == "genuine":
        verdict = "genuine"
    elif name == "sold":
        entries.append(entry(6, "sell", SHOP))
        changes, reasons = {"state": "sold", "sold": True}, [reason("sold")]
    elif name == "claimed":
        entries += [entry(6, "sell", SHOP), entry(7, "claim", ACME, code="ABCD-EFGH-JKMN-PQRS")]
        changes = {"state": "claimed", "sold": True, "claimed": True}
        reasons = [reason("claimed")]
    elif name == "recalled":
        entries.append(entry(6, "recall", ACME, reason="battery fault"))
        changes, reasons = {"recalled": True}, [reason("recalled")]
    elif name == "flagged":
        entries.append(entry(6, "flag", ACME, code="clone-suspect", note="seen in two cities"))
        changes, reasons = {"flags": 1}, [reason("flagged", flags=1)]
    elif name == "revoked":
        revoked = {**SHIP, "revoked": True}
        entries[2]["signer"] = entries[4]["signer"] = revoked
        reasons = [reason("revoked-handler", actors=["ship-co"])]
    elif name == "invalid":
        verdict, reasons = "invalid", [reason("signature-invalid", index=12)]
    elif name == "unknown":
        return {
            "verdict": "unknown",
            "reasons": [reason("not-found")],
            "unit": None,
            "entries": [],
            "checkpoint": CHECKPOINT,
            "scans": {"count": 2, "first": {"at": "2026-11-28T12:00:00.000Z", "place": "CN"}},
        }
    return {
        "verdict": verdict,
        "reasons": reasons,
        "unit": unit(**changes),
        "entries": entries,
        "checkpoint": CHECKPOINT,
        "scans": {"count": 3, "first": {"at": "2026-11-28T12:00:00.000Z", "place": "CN"}},
    }


STORIES = ("genuine", "sold", "claimed", "recalled", "flagged", "revoked", "unknown", "invalid")


def render(view: dict[str, Any], lang: str = "en") -> str:
    return render_unit_page(view, lang, path=PATH, switch_href=SWITCH, now=NOW)


class Page(HTMLParser):
    """What a reader sees (text outside style/title) and every tag with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h1: list[str] = []
        self._hidden = 0
        self._in_h1 = False
        self.feed(html)
        self.text = re.sub(r"\s+", " ", " ".join(self.parts))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._hidden += tag in ("style", "title", "script")
        self._in_h1 = self._in_h1 or tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "title", "script")
        self._in_h1 = self._in_h1 and tag != "h1"

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)
            if self._in_h1:
                self.h1.append(data)


def seen(view: dict[str, Any], lang: str = "en") -> Page:
    return Page(render(view, lang))


# --- verdicts -----------------------------------------------------------------------

HEADLINES = {
    ("genuine", "en"): "Genuine",
    ("genuine", "zh-CN"): "正品",
    ("caution", "en"): "Caution",
    ("caution", "zh-CN"): "请注意",
    ("unknown", "en"): "Not found: likely counterfeit",
    ("unknown", "zh-CN"): "未找到：可能是假冒产品",
    ("invalid", "en"): "Warning: this record may be forged",
    ("invalid", "zh-CN"): "警告：此记录可能是伪造的",
    ("sold", "en"): "Already sold",
    ("sold", "zh-CN"): "已售出",
    ("recalled", "en"): "Recalled: do not use",
    ("recalled", "zh-CN"): "已召回：请勿使用",
}
WHAT_TO_DO = {
    ("genuine", "en"): "Check that the details below match",
    ("genuine", "zh-CN"): "请核对下方信息",
    ("caution", "en"): "If anything does not match what the seller told you, do not buy it.",
    ("caution", "zh-CN"): "如有与卖家所说不符之处，请勿购买。",
    ("unknown", "en"): "Do not buy it.",
    ("unknown", "zh-CN"): "请勿购买。",
    ("invalid", "en"): "Do not trust it.",
    ("invalid", "zh-CN"): "请勿相信此记录。",
    ("sold", "en"): "Just bought it? Claim it now",
    ("sold", "zh-CN"): "刚买下？请马上用包装内的认领码认领",
    ("recalled", "en"): "Contact Acme Ltd or the seller for a refund or a replacement.",
    ("recalled", "zh-CN"): "请联系 Acme Ltd 或卖家办理退款或换货。",
}
#: the headline's style (and icon) of the stories presented other than by their verdict
PRESENTED = {"sold": ("sold", "genuine"), "recalled": ("invalid", "invalid")}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", STORIES)
def test_every_story_shows_its_verdict_in_words_with_what_to_do(name: str, lang: str) -> None:
    view = story(name)
    page = seen(view, lang)
    verdict = name if name in PRESENTED else view["verdict"]
    assert "".join(page.h1).strip() == HEADLINES[verdict, lang]
    assert WHAT_TO_DO[verdict, lang] in page.text
    section = next(a for t, a in page.tags if t == "section")
    tone, _ = PRESENTED.get(name, (verdict, verdict))
    assert section["class"] == f"verdict v-{tone}"  # colour AND words AND an icon
    assert any(t == "svg" for t, _ in page.tags)


CAUTIONS = {
    "sold": ("Already sold", "已售出", "Buying it second-hand? Ask the seller for the transfer"),
    "claimed": ("Already claimed by a buyer", "已被买家认领", "If that was not you"),
    "recalled": ("Recalled by the brand", "品牌方已召回", "Reason: battery fault"),
    "flagged": ("Flagged as suspicious", "被标记为可疑", "Ask the seller where it came from"),
    "revoked": ("Handled by a revoked company", "经手方已被撤销资格", "registration: Ship Co."),
}


@pytest.mark.parametrize("name", list(CAUTIONS))
def test_each_caution_reason_is_explained_in_both_languages(name: str) -> None:
    english, chinese, explanation = CAUTIONS[name]
    assert english in seen(story(name)).text
    assert explanation in seen(story(name)).text
    assert chinese in seen(story(name), "zh-CN").text


def test_recall_reason_and_revoked_handler_detail_in_chinese() -> None:
    assert "原因：battery fault" in seen(story("recalled"), "zh-CN").text
    assert "曾经手该商品的企业已被撤销资格：Ship Co。" in seen(story("revoked"), "zh-CN").text
    assert "资格已被撤销" in seen(story("revoked"), "zh-CN").text  # on the timeline too


def test_invalid_explains_the_failed_check_and_a_forged_label() -> None:
    page = seen(story("invalid"))
    assert "A record was not confirmed by its company" in page.text
    assert "tampered with" in page.text
    forged = story("invalid")
    forged["reasons"] = [reason("label-invalid")]
    forged["unit"]["label"] = "invalid"
    text = seen(forged, "zh-CN").text
    assert "此标签不是 Acme Ltd 印制的" in text
    assert "标签是伪造的" in text


def test_a_reason_code_newer_than_the_page_shows_its_message() -> None:
    view = story("sold")
    view["reasons"] = [reason("open-report")]
    assert "english message for open-report" in seen(view).text


def test_label_signature_is_shown_only_when_present() -> None:
    view = story("genuine")
    assert "signature on this label" not in seen(view).text
    view["unit"]["label"] = "valid"
    assert "The brand's signature on this label checks out" in seen(view).text
    assert "标签上的品牌签名验证通过" in seen(view, "zh-CN").text


def test_unknown_unit_has_no_product_or_history_but_keeps_the_scan_count() -> None:
    page = seen(story("unknown"), "zh-CN")
    assert (
        "此码已被查询 2 次，首次查询于 2026年11月28日 20:00（北京时间），地点为中国。" in page.text
    )
    assert "流转记录" not in page.text
    assert "商品信息" not in page.text
    assert "此码可能已被复制" not in page.text  # nothing genuine to copy


def test_unknown_unit_shows_the_code_that_was_checked() -> None:
    path = f"/01/{GTIN}/10/L%26X/21/A%3Cb"
    html = render_unit_page(story("unknown"), "en", path=path, switch_href=SWITCH, now=NOW)
    text = Page(html).text
    assert f"The code you checked GTIN {GTIN} Lot L&X Serial A<b" in text
    assert "A&lt;b" in html
    broken = render_unit_page(story("unknown"), "en", path="/nonsense", switch_href="", now=NOW)
    assert "The code you checked" not in Page(broken).text


# --- product, status and timeline -----------------------------------------------------


def test_product_facts_in_both_languages() -> None:
    english = seen(story("genuine")).text
    for fact in ("Runner 42", "Acme Ltd", GTIN, "SN-1", "L1", "31 Dec 2027"):
        assert fact in english
    chinese = seen(story("genuine"), "zh-CN").text
    assert "有效期至 2027年12月31日" in chinese
    assert "序列号 SN-1" in chinese


def test_expired_unit_says_so() -> None:
    view = story("genuine")
    view["unit"]["expiry"] = "261130"
    assert "30 Nov 2026 (expired)" in seen(view).text
    assert "2026年11月30日（已过期）" in seen(view, "zh-CN").text


def test_status_shows_holder_claim_recall_and_inspections() -> None:
    text = seen(story("genuine")).text
    assert "Held by Shop · Retailer" in text
    assert "Ownership Not claimed yet" in text
    assert "Recall No recall" in text
    assert "Inspections 1 passed, 0 failed" in text
    claimed = seen(story("claimed")).text
    assert "Now Claimed by its buyer" in claimed
    assert "Ownership" not in claimed  # the state has said it: no second line saying it
    assert "召回状态 品牌方已召回" in seen(story("recalled"), "zh-CN").text


VERBS = {
    "en": [
        "Made by Acme Ltd",
        "Handed to Ship Co",
        "Received by Ship Co",
        "Inspected: passed",
        "Inspected: FAILED",
        "Sold by Shop",
        "Delivered to the buyer by Shop",
        "Claimed by its buyer",
        "Returned to Acme Ltd",
        "Recalled by Acme Ltd",
        "Taken out of circulation",
        "Flagged as suspicious",
    ],
    "zh-CN": [
        "由 Acme Ltd 生产登记",
        "移交给 Ship Co",
        "Ship Co 已接收",
        "检验：合格",
        "检验：不合格",
        "由 Shop 售出",
        "由 Shop 交付买家",
        "已被买家认领",
        "退回给 Acme Ltd",
        "由 Acme Ltd 召回",
        "已停止流通",
        "被标记为可疑",
    ],
}


def every_kind() -> dict[str, Any]:
    view = story("genuine")
    view["entries"] = [
        *custody()[:4],
        entry(4, "inspect", INSP, result="fail", note="torn seal"),
        entry(5, "sell", SHOP),
        entry(6, "deliver", SHOP),
        entry(7, "claim", ACME, code="ABCD-EFGH-JKMN-PQRS"),
        entry(8, "return", SHOP, to="acme", reason="wrong size"),
        entry(9, "recall", ACME, reason="battery fault"),
        entry(10, "decommission", ACME, reason="destroyed"),
        entry(11, "flag", ACME, code="clone-suspect"),
    ]
    return view


@pytest.mark.parametrize("lang", LANGS)
def test_timeline_has_a_human_verb_for_every_kind(lang: str) -> None:
    page = seen(every_kind(), lang)
    bold = [t for t, _ in page.tags if t == "b"]
    assert len(bold) == 12
    positions = [page.text.index(verb) for verb in VERBS[lang]]
    assert positions == sorted(positions)  # oldest first, as the story happened


def test_timeline_says_who_where_and_when() -> None:
    text = seen(story("genuine")).text
    assert "28 Nov 2026 12:01 UTC Where: Shenzhen DC Acme Ltd · Brand" in text
    assert "Note: seal intact" in text
    assert "log entry #13" in text  # folded away under the technical details
    chinese = seen(every_kind(), "zh-CN").text
    assert "2026年11月28日 20:02（北京时间） 地点：Shenzhen DC Ship Co · 物流" in chinese
    assert "原因：wrong size" in chinese
    assert "原因：clone-suspect" in chinese


def test_times_are_machine_readable_too() -> None:
    times = [a["datetime"] for t, a in seen(story("genuine")).tags if t == "time"]
    assert times[:2] == ["2026-11-28T12:00Z", "2026-11-28T12:01Z"]


# --- the scan message (docs/SIGNALS.md, "Scans and clone signals") ---------------------


@pytest.mark.parametrize(
    ("scans", "lang", "sentence"),
    [
        (
            {"count": 3, "first": {"at": "2026-11-28T12:00:00.000Z", "place": "CN-SH"}},
            "en",
            "This code has been checked 3 times; first on 28 Nov 2026 12:00 UTC in Shanghai, China.",
        ),
        (
            {"count": 3, "first": {"at": "2026-11-28T12:00:00.000Z", "place": "CN-SH"}},
            "zh-CN",
            "此码已被查询 3 次，首次查询于 2026年11月28日 20:00（北京时间），地点为中国上海。",
        ),
        (
            {"count": 7, "first": {"at": "2026-11-28T23:59:59.999Z", "place": None}},
            "en",
            "This code has been checked 7 times; first on 28 Nov 2026 23:59 UTC.",
        ),
        (
            {"count": 7, "first": {"at": "2026-11-28T23:59:59.999Z", "place": None}},
            "zh-CN",
            "此码已被查询 7 次，首次查询于 2026年11月29日 07:59（北京时间）。",
        ),
        (
            {"count": 1, "first": {"at": "2026-11-28T12:00:00.000Z", "place": "CN"}},
            "en",
            "This is the first check of this code.",
        ),
        ({"count": 0, "first": None}, "en", "This code has not been checked before."),
        ({"count": 0, "first": None}, "zh-CN", "此码此前未被查询过。"),
    ],
)
def test_scan_sentence(scans: dict[str, Any], lang: str, sentence: str) -> None:
    view = story("genuine")
    view["scans"] = scans
    assert sentence in seen(view, lang).text


def test_clone_hint_only_when_checked_more_than_once() -> None:
    view = story("genuine")
    assert "If the first check was not yours" in seen(view).text
    view["scans"] = {"count": 1, "first": {"at": "2026-11-28T12:00:00.000Z", "place": "CN"}}
    assert "If the first check was not yours" not in seen(view).text


# --- safety, size, self-containment ----------------------------------------------------------

NASTY = '<script>alert("x")</script>&amp;"\'<img src=x onerror=alert(1)>'


def test_everything_from_the_view_is_escaped() -> None:
    view = every_kind()
    view["unit"]["serial"] = NASTY
    view["unit"]["product"]["name"] = NASTY
    view["unit"]["lot"] = NASTY
    view["scans"]["first"]["place"] = NASTY
    view["reasons"] = [reason("x"), {**reason("y"), "message": NASTY}]
    view["verdict"] = "caution"
    for e in view["entries"]:
        e["event"]["place"] = NASTY
        e["signer"] = {**e["signer"], "name": NASTY}
    html = render(view)
    assert "<script" not in html
    assert "<img" not in html
    assert "onerror" not in " ".join(str(a) for _, a in Page(html).tags)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;amp;" in html
    assert NASTY in Page(html).text  # shown as text, exactly


def test_thirty_entries_stay_under_50_kb_in_both_languages() -> None:
    view = every_kind()
    view["entries"] = [
        copy.deepcopy(view["entries"][i % 12]) | {"index": 1_000_000 + i} for i in range(30)
    ]
    for e in view["entries"]:
        e["event"]["place"] = "Shanghai Pudong distribution centre 3"
    for lang in LANGS:
        size = len(render(view, lang).encode("utf-8"))
        assert size < 50_000, (lang, size)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", STORIES)
def test_self_contained_no_script_no_external_url(name: str, lang: str) -> None:
    html = render(story(name), lang)
    assert f'<html lang="{lang}">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<script" not in html.lower()
    assert not re.search(r"https?://", html)
    assert "@import" not in html and "url(" not in html
    page = Page(html)
    links = [a.get("href") or a.get("src") for _, a in page.tags if "href" in a or "src" in a]
    cta = ["#claim"] if name == "sold" else []
    # the brand's list of authorized shops, for a known unit of a known brand
    brand = (story(name).get("unit") or {}).get("brand") or {}
    shops = [f"/v1/brands/{brand['id']}/retailers?lang={lang}"] if brand.get("id") else []
    assert links[: 3 + len(cta) + len(shops)] == [
        SWITCH,
        *cta,
        f"/how-to-check?lang={lang}",
        *shops,
        f"{PATH}?format=json",
    ]
    known = story(name)["entries"]  # a unit with a history offers its offline proof
    proof = [f"/v1/units/{story(name)['unit']['gtin']}/SN-1/proof"] if known else []
    assert links[3 + len(cta) + len(shops) :] == proof
    assert not any(k.startswith("on") for _, a in page.tags for k in a)


def test_language_switch_link_names_the_other_language() -> None:
    english = Page(render(story("genuine"), "en"))
    link = next(a for t, a in english.tags if t == "a")
    assert (link["href"], link["hreflang"]) == (SWITCH, "zh-CN")
    assert "中文" in english.text
    assert "English" in seen(story("genuine"), "zh-CN").text


@pytest.mark.parametrize(
    "href", ["//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/\\evil.example"]
)
def test_links_never_leave_the_server(href: str) -> None:
    html = render_unit_page(story("genuine"), "en", path=href, switch_href=href, now=NOW)
    links = [a["href"] for t, a in Page(html).tags if t == "a"]
    assert links[:2] == ["?lang=zh-CN", "/how-to-check?lang=en"]
    assert links[2].startswith("/v1/brands/") and links[3] == "?format=json"
    assert all(x.startswith("/v1/units/") for x in links[4:])  # the offline proof


def test_font_stack_includes_cjk_fonts() -> None:
    html = render(story("genuine"))
    for font in ('"PingFang SC"', '"Noto Sans CJK SC"', '"Microsoft YaHei"', "sans-serif"):
        assert font in html


def test_footer_says_signed_and_proven_with_checkpoint_size() -> None:
    text = seen(story("genuine")).text
    assert "proven in a public, append-only log (42 entries at this check)" in text
    assert "Checked on 1 Dec 2026 09:30 UTC" in text
    chinese = seen(story("unknown") | {"checkpoint": None}, "zh-CN").text
    assert "每条记录都由经手方签名，并可在公开、只增不改的日志中查证。" in chinese


def test_a_malformed_time_is_shown_raw_not_raised() -> None:
    view = story("genuine")
    view["entries"][0]["event"]["time"] = "yesterday"
    assert "yesterday" in seen(view).text


# --- i18n --------------------------------------------------------------------------------------


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    fields = string.Formatter()
    for key, (english, chinese) in MESSAGES.items():
        assert english and chinese, key
        named = [{f for _, f, _, _ in fields.parse(m) if f} for m in (english, chinese)]
        assert named[0] == named[1], key
        assert "<" not in english + chinese, key  # plain text only: the template escapes


def test_format_moment() -> None:
    moment = datetime(2026, 11, 28, 20, 5, tzinfo=UTC)
    assert format_moment(moment, "en") == "28\u00a0Nov\u00a02026\u00a020:05\u00a0UTC"
    assert format_moment(moment, "zh-CN") == "2026年11月29日\u00a004:05（北京时间）"


@pytest.mark.parametrize(
    ("header", "explicit", "expected"),
    [
        (None, None, "en"),
        ("", None, "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh-CN"),
        ("zh", None, "zh-CN"),
        ("zh-Hans-CN", None, "zh-CN"),
        ("zh-TW", None, "zh-TW"),
        ("ZH-hk;q=0.5", None, "zh-HK"),
        ("zh-MO", None, "zh-HK"),
        ("zh-Hant", None, "zh-TW"),
        ("zh-Hant-HK", None, "zh-HK"),
        ("zh_CN", None, "zh-CN"),
        ("zh_TW", None, "zh-TW"),
        ("zh-SG", None, "zh-CN"),
        ("zh-Hans", None, "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", None, "en"),
        ("en;q=0.4, zh;q=0.6", None, "zh-CN"),
        ("fr-FR, zh;q=0.5", None, "zh-CN"),
        ("fr-FR, de;q=0.5", None, "en"),
        ("zh;q=0, en;q=0.1", None, "en"),
        ("zh;q=bogus, en;q=0.1", None, "en"),
        ("zh;q=2", None, "en"),
        ("*", None, "en"),
        ("en, zh", None, "en"),  # ties: the first wins
        (";;;,,,==", None, "en"),
        ("zh-CN", "en", "en"),
        ("en", "zh-CN", "zh-CN"),
        ("en", "zh", "zh-CN"),
        ("en", "zh-TW", "zh-TW"),
        ("zh-TW", "zh-CN", "zh-CN"),
        ("en", "ZH-cn", "zh-CN"),
        ("zh-CN", "klingon", "zh-CN"),  # an explicit value the page lacks is ignored
        ("zh-CN", "*", "zh-CN"),
        (None, "", "en"),
    ],
)
def test_choose_language(header: str | None, explicit: str | None, expected: str) -> None:
    assert choose_language(header, explicit) == expected


def test_choose_language_on_a_huge_header_is_bounded() -> None:
    assert choose_language("fr;q=0.1," * 10_000 + "zh", None) == "en"


# --- a real view from the ledger -------------------------------------------------------------


def test_real_unit_view_from_a_sqlite_ledger(tmp_path: Path) -> None:
    from ledger.service.ledger import Ledger, Scan
    from tests.integration.world import LedgerWorld, clock, config
    from tests.rules_factories import NOW as LEDGER_NOW

    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.db", config("page"), clock=clock)
    try:
        ledger.init(name="Registry")
        world = LedgerWorld.base(ledger)
        w = world.world
        for kind, actor, fields in (
            ("handoff", "acme", {"to": "ship-co", "place": "Shenzhen DC"}),
            ("receive", "ship-co", {"place": "Shenzhen DC"}),
            ("inspect", "insp", {"result": "pass", "place": "Port of Shanghai"}),
            ("handoff", "ship-co", {"to": "shop"}),
            ("receive", "shop", {"place": "Shanghai store"}),
        ):
            world.append(w.on_unit(kind, actor, **fields))
        ledger.record_scans(
            # the place of a trusted geolocation header (ledger.signals.places.stored_place)
            [Scan(GTIN, "SN-0001", LEDGER_NOW, "geo:CN-SH", "c" * 32, "wechat") for _ in range(2)]
        )
        genuine = ledger.unit_view(GTIN, "SN-0001")
        world.append(w.on_unit("sell", "shop"))
        sold = ledger.unit_view(GTIN, "SN-0001")
    finally:
        ledger.close()

    english = seen(genuine)
    assert "".join(english.h1) == "Genuine"
    for words in (
        "Made by Acme",
        "Handed to Ship-Co",
        "Received by Ship-Co",
        "Inspected: passed",
        "Where: Port of Shanghai",
        "This code has been checked 2 times; first on 28 Nov 2026 12:00 UTC in Shanghai, China.",
        "Acme Sneaker 42",
    ):
        assert words in english.text, words
    chinese = seen(sold, "zh-CN")
    assert "".join(chinese.h1).startswith("已于 ")  # sold, dated, and neutral
    assert "由 Shop 售出" in chinese.text
    assert "刚买下？" in chinese.text
    assert (
        "此码已被查询 2 次，首次查询于 2026年11月28日 20:00（北京时间），地点为中国上海。"
        in chinese.text
    )
    assert len(render(sold, "zh-CN").encode()) < 50_000


_TAGS = st.sampled_from(["zh", "zh-TW", "zh-Hant", "zh_HK", "en", "*", "fr", "de-CH", ""])


@given(
    header=st.one_of(
        st.none(),
        st.lists(
            st.tuples(_TAGS, st.sampled_from(["", ";q=0.5", ";q=0", ";q=1.5", ";q=x"])),
            max_size=40,
        ).map(lambda ranges: ",".join(tag + q for tag, q in ranges)),
        st.text(max_size=300),
    ),
    explicit=st.one_of(st.none(), _TAGS, st.text(max_size=20)),
)
def test_a_kept_language_choice_is_the_choice_worked_out(
    header: str | None, explicit: str | None
) -> None:
    """choose_language keeps its answers per short (header, choice): the same answer."""
    from api.consumer import i18n

    for _ in range(2):  # worked out (or kept), then from the memo
        assert choose_language(header, explicit) == i18n._choose(header, explicit)
