"""Generate api/consumer/i18n_hant.py: every Simplified Chinese string the shopper's page
shows, in Traditional script for Taiwan (OpenCC ``s2twp``: characters and Taiwan
phrasing) and Hong Kong (``s2hk``).

A development tool: it needs the ``opencc`` package (``pip install opencc``), which the
server does not. Run it after changing a Chinese message or place name, then have the
result read by someone who reads Traditional Chinese natively::

    .venv/bin/python tools/gen_hant.py
    .venv/bin/ruff format api/consumer/i18n_hant.py

Hand corrections live here, so a rerun keeps them: `TERMS` for a word wherever it
occurs (OpenCC's systematic slips and mainland words a Taiwan or Hong Kong reader would
not use), `FIXES` for one whole string (place names). A new message that uses a word in
`TERMS` gets the corrected word without anyone listing the message.
"""

from __future__ import annotations

import importlib
import pprint
import re
import sys
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Simplified word -> (zh-TW, zh-HK), wherever it occurs; the longest word matching wins
TERMS: dict[str, tuple[str, str]] = {
    # OpenCC's slips
    "复制": ("複製", "複製"),  # OpenCC: 複制, and 覆制 after 上 ("从已售商品上复制")
    "联系": ("聯絡", "聯絡"),  # OpenCC reads 并联系 as 並聯 (wired in parallel) + 系
    "类型": ("類型", "類型"),  # s2twp: 型別, a programming language's type
    "保存": ("保存", "保存"),  # s2twp: 儲存, saving a file; here: keep a code safe
    "销毁": ("銷毀", "銷毀"),  # 銷燬 is a variant form neither place writes
    "“": ("「", "「"),  # Taiwan and Hong Kong quote with corner brackets
    "”": ("」", "」"),
    # mainland words -> the word a Taiwan / Hong Kong reader uses
    "举报": ("檢舉", "舉報"),  # reporting a fake: 檢舉 in Taiwan
    "条举报": ("件檢舉", "宗舉報"),  # the counter for reports: 件 / 宗
    "条记录": ("筆記錄", "條記錄"),  # records counted in Taiwan: 筆
    "{index}条": ("{index}筆", "{index}條"),
    "{size}条": ("{size}筆", "{size}條"),
    "提交": ("送出", "提交"),  # a form's button in Taiwan
    "二维码": ("QR Code", "二維碼"),  # Taiwan says QR Code; Hong Kong 二維碼
    "链接": ("連結", "連結"),  # s2hk: 鏈接, rare in Hong Kong
    "信息": ("資訊", "資料"),  # s2hk kept 信息 (a message, not information)
    "序列号": ("序號", "序號"),  # a product's serial number in both
    "当前": ("目前", "當前"),
    "核查": ("查核", "核查"),
    "核验": ("驗證", "核驗"),
    "渠道": ("通路", "渠道"),  # a brand's sales channels in Taiwan
    "顶部": ("最上方", "頂部"),
    "橙色": ("橘色", "橙色"),
    "索要": ("索取", "索取"),
    "设置": ("設定", "設定"),  # s2hk: 設置; Hong Kong sets things up with 設定 too
    "购物凭证": ("收據", "收據"),
    "有效期": ("有效期限", "有效期"),  # as printed on Taiwanese packaging
    "有效期至": ("有效期至", "有效期至"),
    "平台": ("平台", "平台"),  # 台 as in 台北時間, the everyday form in Taiwan
}

#: Simplified -> (zh-TW, zh-HK) for one whole string, by a native reader
FIXES: dict[str, tuple[str, str]] = {
    # the English page's names; the Simplified page keeps the mainland's 中国台湾 etc.
    "中国台湾": ("台灣", "台灣"),
    "中国香港": ("香港", "香港"),
    "中国澳门": ("澳門", "澳門"),
    "台湾": ("台灣", "台灣"),
    "伊利诺伊州": ("伊利諾州", "伊利諾州"),
    "得克萨斯州": ("德克薩斯州", "德克薩斯州"),
    "澳大利亚": ("澳洲", "澳洲"),
    "印度尼西亚": ("印尼", "印尼"),
    "孟加拉国": ("孟加拉", "孟加拉"),
    "阿联酋": ("阿拉伯聯合大公國", "阿聯酋"),
}

#: literal Simplified strings outside the message tables
EXTRA = ("北京时间",)

_TERM = re.compile("(" + "|".join(map(re.escape, sorted(TERMS, key=len, reverse=True))) + ")")
# s2hk writes 説 and 閲 (Japanese code points); Hong Kong text (Big5-HKSCS) has 說 and 閱
_HK_CODEPOINTS = str.maketrans("説閲", "說閱")
# Taiwan writes a space between Chinese and the Latin letters of "QR Code"
_QR_SPACE = (re.compile(r"(?<=[\u3400-\u9fff])QR Code"), re.compile(r"QR Code(?=[\u3400-\u9fff])"))


class Converter(Protocol):
    """What this tool uses of an ``opencc.OpenCC``."""

    def convert(self, text: str) -> str: ...


def strings() -> list[str]:
    """Every Simplified string: the messages' Chinese side, place names, `EXTRA`."""
    from api.consumer.i18n import MESSAGES
    from api.consumer.places import COUNTRIES, SUBDIVISIONS

    found = {zh for _, zh in MESSAGES.values()}
    found |= {zh for _, zh in COUNTRIES.values()} | {zh for _, zh in SUBDIVISIONS.values()}
    return sorted(found | set(EXTRA))


def convert(simplified: str, converter: Converter, column: int) -> str:
    """``simplified`` in the script of ``column`` (0 Taiwan, 1 Hong Kong): `TERMS` as
    listed, the text between them by OpenCC."""
    pieces = _TERM.split(simplified)
    out = "".join(
        TERMS[piece][column] if piece in TERMS else converter.convert(piece)
        for piece in pieces
        if piece
    )
    if column == 1:
        return out.translate(_HK_CODEPOINTS)
    before, after = _QR_SPACE
    return after.sub("QR Code ", before.sub(" QR Code", out))


def table(taiwan: Converter, hong_kong: Converter) -> dict[str, tuple[str, str]]:
    """Simplified -> (zh-TW, zh-HK) for every string: `FIXES` first, else `convert`."""
    return {s: FIXES.get(s, (convert(s, taiwan, 0), convert(s, hong_kong, 1))) for s in strings()}


def main() -> None:
    # a development tool's dependency, not the server's: imported by name, so that the
    # type check of a fresh clone (without it) passes
    opencc = importlib.import_module("opencc")
    result = table(opencc.OpenCC("s2twp"), opencc.OpenCC("s2hk"))
    out = ROOT / "api" / "consumer" / "i18n_hant.py"
    out.write_text(
        '"""Traditional Chinese for the shopper\'s page: Simplified string -> (zh-TW, zh-HK).\n\n'
        "Generated by tools/gen_hant.py (OpenCC s2twp and s2hk, with its hand fixes); do not\n"
        'edit by hand. No I/O."""\n\n'
        "HANT: dict[str, tuple[str, str]] = " + pprint.pformat(result, width=100) + "\n",
        encoding="utf-8",
    )
    print(f"{out}: {len(result)} strings")


if __name__ == "__main__":
    main()
