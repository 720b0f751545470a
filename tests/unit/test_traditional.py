"""The shopper's page in Traditional Chinese (issue 22): zh-TW and zh-HK readers get every
message and place name in Traditional script, their zone named, and no Simplified-only
character anywhere the page wrote itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime

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
