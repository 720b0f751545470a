"""The shopper's page in Traditional Chinese (issue 22): zh-TW and zh-HK readers get every
message and place name in Traditional script, their zone named, and no Simplified-only
character anywhere the page wrote itself."""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.consumer.error_page import render_error_page, render_help_page
from api.consumer.i18n import MESSAGES, ZH_HK, ZH_TW, format_moment, hant, text
from api.consumer.i18n_hant import HANT
from api.consumer.places import COUNTRIES, SUBDIVISIONS, place_name
from tests.unit.test_page import Page, render, story

#: characters written only in Simplified script (their Traditional forms differ)
SIMPLIFIED_ONLY = set("这个们认码询时间记录请该过买卖货产应为没于经发现关报确实条东门对说")
STORIES = ("genuine", "sold", "claimed", "recalled", "unknown")


def simplified_in(text: str) -> set[str]:
    return {ch for ch in text if ch in SIMPLIFIED_ONLY}


def test_the_table_holds_every_chinese_message_and_place_name() -> None:
    wanted = {zh for _, zh in MESSAGES.values()}
    wanted |= {zh for _, zh in (*COUNTRIES.values(), *SUBDIVISIONS.values())}
    missing = sorted(wanted - HANT.keys())
    assert not missing, f"run tools/gen_hant.py: {missing[:5]}"
    for simplified, (taiwan, hong_kong) in HANT.items():  # placeholders survive
        fields = set(re.findall(r"\{\w+\}", simplified))
        assert (
            set(re.findall(r"\{\w+\}", taiwan)) == fields == set(re.findall(r"\{\w+\}", hong_kong))
        )


@pytest.mark.parametrize("lang", [ZH_TW, ZH_HK])
@pytest.mark.parametrize("name", STORIES)
def test_each_story_reads_in_traditional_script(name: str, lang: str) -> None:
    html = render(story(name), lang)
    page = Page(html)
    assert f'<html lang="{lang}"' in html
    assert not simplified_in(page.text), (name, lang, simplified_in(page.text))
    assert not simplified_in("".join(page.h1))


@pytest.mark.parametrize("lang", [ZH_TW, ZH_HK])
def test_help_and_error_pages_read_in_traditional_script(lang: str) -> None:
    for html in (render_help_page(lang), render_error_page("gs1", lang)):
        assert not simplified_in(Page(html).text)


def test_times_name_the_readers_zone_and_places_read_in_its_script() -> None:
    noon = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert format_moment(noon, ZH_TW).endswith("20:00（台北時間）")  # noqa: RUF001
    assert format_moment(noon, ZH_HK).endswith("20:00（香港時間）")  # noqa: RUF001
    assert place_name("CN-GD", ZH_TW) == "中國廣東"
    assert hant(MESSAGES["site"][1], ZH_TW) == "商品真偽查詢"
    assert text(ZH_TW, "genuine.title") == "正品"
    assert text(ZH_HK, "wait.min", n=15) == "15 分鐘"


#: forms a native reader flagged (tools/gen_hant.py TERMS): OpenCC's slips in both columns
NEVER = ("複制", "覆制", "型別", "聯系", "銷燬", "儲存", "“", "”")
#: mainland words, or OpenCC's variant code points, a Taiwan / Hong Kong reader would not see
NEVER_TW = ("二維碼", "舉報", "序列號", "鏈接", "信息", "平臺", "臺灣", "中國台", "當前")
NEVER_HK = ("説", "閲", "信息", "鏈接", "序列號", "聯繫", "條舉報", "中國台")


def test_no_string_keeps_a_conversion_a_native_reader_flagged() -> None:
    for simplified, (taiwan, hong_kong) in HANT.items():
        for word in NEVER + NEVER_TW:
            assert word not in taiwan, (simplified, taiwan, word)
        for word in NEVER + NEVER_HK:
            assert word not in hong_kong, (simplified, hong_kong, word)


def test_the_warnings_read_as_each_place_writes_them() -> None:
    assert text(ZH_TW, "r.sold.why").endswith("此碼可能是從已售商品上複製的。")
    assert text(ZH_HK, "scans.hint") == "如果首次查詢的人不是您，此碼可能已被複製。"  # noqa: RUF001
    assert text(ZH_TW, "forged.cta") == "檢舉此標籤"  # Taiwan: 檢舉
    assert text(ZH_HK, "forged.cta") == "舉報此標籤"
    assert "2 宗舉報" in text(ZH_HK, "r.reported.why", count=2)  # Hong Kong counts cases: 宗
    assert "2 件檢舉" in text(ZH_TW, "r.reported.why", count=2)
    assert text(ZH_TW, "help.1") == "找到包裝上標有「掃碼驗真」的 QR Code，用手機相機掃描。"  # noqa: RUF001
    assert text(ZH_HK, "help.1") == "找到包裝上標有「掃碼驗真」的二維碼，用手機相機掃描。"  # noqa: RUF001
    assert text(ZH_TW, "report.reason") == "問題類型"
    assert "請妥善保存" in text(ZH_TW, "cp.what")  # keep it safe, not 儲存 (save a file)
    assert place_name("TW", ZH_TW) == place_name("CN-TW", ZH_HK) == "台灣"
    assert place_name("HK", ZH_HK) == "香港"
    assert place_name("US-IL", ZH_HK) == "美國伊利諾州"


def test_the_committed_table_is_what_the_generator_makes() -> None:
    opencc = pytest.importorskip("opencc")  # a development tool, not a server dependency
    path = Path(__file__).resolve().parents[2] / "tools" / "gen_hant.py"
    spec = importlib.util.spec_from_file_location("gen_hant", path)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    made = gen.table(opencc.OpenCC("s2twp"), opencc.OpenCC("s2hk"))
    assert made == HANT, "api/consumer/i18n_hant.py was edited by hand: rerun tools/gen_hant.py"
