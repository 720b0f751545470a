"""Places as people read them: ISO 3166 codes as names, in English or Chinese.

A scan's place is an ISO 3166-1 country (``US``) or an ISO 3166-2 subdivision
(``CN-SH``), as `ledger.signals.places` stores it. `place_name` writes it the way a
reader of the page expects: ``Shanghai, China`` / ``中国上海``. The table is small and
bundled (the countries shoppers of the demo brands come from, and every province-level
division of China); a code not in it is shown as it is. `plain` takes the bidi controls
out of any text a page shows, so no name can turn the text around it backwards.
No I/O.
"""

from __future__ import annotations

import re

from api.consumer.i18n import chinese, hant

__all__ = ["COUNTRIES", "SUBDIVISIONS", "place_name", "plain"]

#: ISO 3166-1 alpha-2 -> (English, Simplified Chinese)
COUNTRIES: dict[str, tuple[str, str]] = {
    "CN": ("China", "中国"),
    "HK": ("Hong Kong", "中国香港"),
    "MO": ("Macao", "中国澳门"),
    "TW": ("Taiwan", "中国台湾"),
    "US": ("United States", "美国"),
    "CA": ("Canada", "加拿大"),
    "MX": ("Mexico", "墨西哥"),
    "BR": ("Brazil", "巴西"),
    "GB": ("United Kingdom", "英国"),
    "IE": ("Ireland", "爱尔兰"),
    "FR": ("France", "法国"),
    "DE": ("Germany", "德国"),
    "IT": ("Italy", "意大利"),
    "ES": ("Spain", "西班牙"),
    "NL": ("Netherlands", "荷兰"),
    "BE": ("Belgium", "比利时"),
    "CH": ("Switzerland", "瑞士"),
    "AT": ("Austria", "奥地利"),
    "SE": ("Sweden", "瑞典"),
    "NO": ("Norway", "挪威"),
    "DK": ("Denmark", "丹麦"),
    "FI": ("Finland", "芬兰"),
    "PL": ("Poland", "波兰"),
    "RU": ("Russia", "俄罗斯"),
    "TR": ("Türkiye", "土耳其"),
    "AE": ("United Arab Emirates", "阿联酋"),
    "SA": ("Saudi Arabia", "沙特阿拉伯"),
    "IL": ("Israel", "以色列"),
    "EG": ("Egypt", "埃及"),
    "ZA": ("South Africa", "南非"),
    "NG": ("Nigeria", "尼日利亚"),
    "IN": ("India", "印度"),
    "PK": ("Pakistan", "巴基斯坦"),
    "BD": ("Bangladesh", "孟加拉国"),
    "JP": ("Japan", "日本"),
    "KR": ("South Korea", "韩国"),
    "SG": ("Singapore", "新加坡"),
    "MY": ("Malaysia", "马来西亚"),
    "TH": ("Thailand", "泰国"),
    "VN": ("Vietnam", "越南"),
    "PH": ("Philippines", "菲律宾"),
    "ID": ("Indonesia", "印度尼西亚"),
    "AU": ("Australia", "澳大利亚"),
    "NZ": ("New Zealand", "新西兰"),
}

#: ISO 3166-2 -> (English, Simplified Chinese), without the country
SUBDIVISIONS: dict[str, tuple[str, str]] = {
    "CN-AH": ("Anhui", "安徽"),
    "CN-BJ": ("Beijing", "北京"),
    "CN-CQ": ("Chongqing", "重庆"),
    "CN-FJ": ("Fujian", "福建"),
    "CN-GD": ("Guangdong", "广东"),
    "CN-GS": ("Gansu", "甘肃"),
    "CN-GX": ("Guangxi", "广西"),
    "CN-GZ": ("Guizhou", "贵州"),
    "CN-HA": ("Henan", "河南"),
    "CN-HB": ("Hubei", "湖北"),
    "CN-HE": ("Hebei", "河北"),
    "CN-HI": ("Hainan", "海南"),
    "CN-HK": ("Hong Kong", "香港"),
    "CN-HL": ("Heilongjiang", "黑龙江"),
    "CN-HN": ("Hunan", "湖南"),
    "CN-JL": ("Jilin", "吉林"),
    "CN-JS": ("Jiangsu", "江苏"),
    "CN-JX": ("Jiangxi", "江西"),
    "CN-LN": ("Liaoning", "辽宁"),
    "CN-MO": ("Macao", "澳门"),
    "CN-NM": ("Inner Mongolia", "内蒙古"),
    "CN-NX": ("Ningxia", "宁夏"),
    "CN-QH": ("Qinghai", "青海"),
    "CN-SC": ("Sichuan", "四川"),
    "CN-SD": ("Shandong", "山东"),
    "CN-SH": ("Shanghai", "上海"),
    "CN-SN": ("Shaanxi", "陕西"),
    "CN-SX": ("Shanxi", "山西"),
    "CN-TJ": ("Tianjin", "天津"),
    "CN-TW": ("Taiwan", "台湾"),
    "CN-XJ": ("Xinjiang", "新疆"),
    "CN-XZ": ("Tibet", "西藏"),
    "CN-YN": ("Yunnan", "云南"),
    "CN-ZJ": ("Zhejiang", "浙江"),
    "US-CA": ("California", "加利福尼亚州"),
    "US-NY": ("New York", "纽约州"),
    "US-TX": ("Texas", "得克萨斯州"),
    "US-WA": ("Washington", "华盛顿州"),
    "US-FL": ("Florida", "佛罗里达州"),
    "US-IL": ("Illinois", "伊利诺伊州"),
    "GB-ENG": ("England", "英格兰"),
    "GB-SCT": ("Scotland", "苏格兰"),
    "JP-13": ("Tokyo", "东京"),
    "JP-27": ("Osaka", "大阪"),
}

_CODE = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")
# LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM ALM: the controls that reorder text
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def plain(value: object) -> str:
    """``value`` as text without bidi control characters (they would let a name reverse
    the words around it on the page)."""
    return _BIDI.sub("", str(value))


#: countries whose English name takes "the" when it stands alone in a sentence
_WITH_THE = frozenset({"US", "GB", "NL", "AE", "PH", "CZ", "DO", "BS", "GM", "CF", "KM", "MV"})


def place_name(code: object, lang: str) -> str:
    """The place ``code`` names, in ``lang`` (Chinese in its script, or English): a
    subdivision with its country (``Shanghai, China`` / ``中国上海``), a country alone; a
    code not in the tables, or text that is no code, shown as it is (bidi controls
    removed)."""
    text = plain(code or "").strip()
    if not _CODE.fullmatch(text):
        return text
    zh = chinese(lang)

    def name(entry: tuple[str, str]) -> str:
        return hant(entry[1], lang) if zh else entry[0]

    country = COUNTRIES.get(text[:2])
    if "-" not in text:
        if country is None:
            return text
        # "first checked in the United States"; "California, United States" keeps none
        return ("the " if text in _WITH_THE and not zh else "") + name(country)
    sub = SUBDIVISIONS.get(text)
    if sub is None:
        return f"{text[3:]}, {country[0]}" if country and not zh else text
    if country is None:
        return name(sub)
    if text in ("CN-HK", "CN-MO", "CN-TW"):
        return name(COUNTRIES[text[3:]])
    return f"{name(country)}{name(sub)}" if zh else f"{sub[0]}, {country[0]}"
