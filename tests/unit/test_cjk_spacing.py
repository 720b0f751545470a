# ruff: noqa: RUF001  (full-width punctuation is what these tests are about)
"""Spacing between Chinese and Latin text (issue 22): a brand, product or partner name
or a number set into a Chinese message gets a space where it meets a Han character,
none next to full-width punctuation, none inside the name (`api.consumer.i18n`)."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.consumer.i18n import MESSAGES, ZH, ZH_HK, ZH_TW, cjk_spaced, text
from tests.profiles import examples

HAN = "中文商品由上海生产登记已售出牌"
LATIN = "AcmeZz09éÅß"
FULL_WIDTH = "：（），。、；！？“”「」"
OTHER = " -./:_#%'&"
_HAN_CHAR = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_CHAR = re.compile("[A-Za-z0-9\u00c0-\u024f]")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Acme出品", "Acme 出品"),
        ("共3条", "共 3 条"),
        ("由Acme Ltd生产登记", "由 Acme Ltd 生产登记"),
        ("Café上海", "Café 上海"),
        ("此标签不是Acme印制的", "此标签不是 Acme 印制的"),
        ("联系Acme（support@acme.cn）", "联系 Acme（support@acme.cn）"),
        ("原因：Expired", "原因：Expired"),  # full-width colon: no space
        ("「Acme」", "「Acme」"),
        ("由 Acme 生产", "由 Acme 生产"),  # already spaced: unchanged
        ("SN-000024", "SN-000024"),
        ("上海工厂", "上海工厂"),
        ("", ""),
    ],
)
def test_examples(before: str, after: str) -> None:
    assert cjk_spaced(before) == after


def _inserted(before: str, after: str) -> list[int]:
    """Positions in ``after`` of the spaces that ``before`` did not have."""
    found, j = [], 0
    for i, ch in enumerate(after):
        if j < len(before) and before[j] == ch:
            j += 1
        else:
            assert ch == " ", "only spaces are ever added"
            found.append(i)
    assert j == len(before)
    return found


_TEXT = st.text(alphabet=st.sampled_from(HAN + LATIN + FULL_WIDTH + OTHER), max_size=40)


@settings(max_examples=examples(300), deadline=None)
@given(_TEXT)
def test_spaces_go_only_between_han_and_latin_and_once(before: str) -> None:
    after = cjk_spaced(before)
    assert cjk_spaced(after) == after  # idempotent
    for i in _inserted(before, after):
        left, right = after[i - 1], after[i + 1]
        # never inside a Latin (or Han) run, never next to full-width punctuation
        assert {bool(_HAN_CHAR.match(left)), bool(_HAN_CHAR.match(right))} == {True, False}
        assert _LATIN_CHAR.match(left) or _LATIN_CHAR.match(right)
        assert left not in FULL_WIDTH and right not in FULL_WIDTH
    # and nowhere is a Han character left touching a Latin letter or digit
    assert not re.search(
        "[\u4e00-\u9fff][A-Za-z0-9\u00c0-\u024f]|[A-Za-z0-9\u00c0-\u024f][\u4e00-\u9fff]", after
    )


@settings(max_examples=examples(200), deadline=None)
@given(name=_TEXT.filter(lambda s: s.strip() != ""))
def test_a_name_set_into_a_message_is_shown_as_written(name: str) -> None:
    """Only the seams of a value are spaced: the name itself is never changed."""
    for lang in (ZH, ZH_TW, ZH_HK):
        shown = text(lang, "v.commission", actor=name)
        assert name in shown


@pytest.mark.parametrize(
    ("lang", "key", "values", "shown"),
    [
        (ZH, "v.commission", {"actor": "Acme"}, "由 Acme 生产登记"),
        (ZH, "v.commission", {"actor": "上海工厂"}, "由上海工厂生产登记"),
        (ZH, "v.commission", {"actor": "Acme上海"}, "由 Acme上海生产登记"),  # as written
        (ZH_TW, "v.commission", {"actor": "Acme"}, "由 Acme 生產登記"),
        (ZH, "forged.title", {"brand": "Acme"}, "此标签不是 Acme 印制的"),
        (ZH, "forged.title", {"brand": "安可"}, "此标签不是安可印制的"),
        (ZH, "retailers.title", {"brand": "Acme"}, "Acme 授权的销售商"),
        (ZH, "entry", {"index": 19}, "日志第 19 条"),
        (ZH_TW, "entry", {"index": 19}, "日誌第 19 筆"),
        (ZH, "r.flagged.count", {"count": 3}, "已被标记 3 次。"),
        (
            ZH,
            "retailers.item",
            {"name": "Acme Store", "date": "2027年1月1日"},
            "Acme Store，授权至 2027年1月1日",
        ),
        (ZH, "wait.min", {"n": 15}, "15 分钟"),
        (ZH, "ep.busy.text", {"wait": "15 分钟"}, "请在 15 分钟后再试。"),
        (ZH, "r.returned-after-sale", {"date": "2027年1月1日"}, "已于 2027年1月1日售出，后被退回"),
        ("en", "v.commission", {"actor": "上海工厂"}, "Made by 上海工厂"),  # English: as is
    ],
)
def test_messages_space_their_values(
    lang: str, key: str, values: dict[str, object], shown: str
) -> None:
    assert text(lang, key, **values) == shown


def test_no_chinese_message_spaces_a_placeholder_by_hand() -> None:
    """The seams are `text`'s to space: a space written next to a placeholder would
    also stand between two Han characters when the value is Chinese."""
    han = "[\u4e00-\u9fff]"
    for key, (_, simplified) in MESSAGES.items():
        assert not re.search(rf"\}} {han}|{han} \{{", simplified), key
        fields = {f for _, f, _, _ in string.Formatter().parse(simplified) if f}
        if fields:
            assert text(ZH, key, **dict.fromkeys(fields, "上海")).count(" ") == (
                simplified.count(" ")
            ), key
