"""The words of the console's scans page in English and Simplified Chinese (one tuple
per key, as in api.console.i18n), and the names of China's provinces for its region
tables (ISO 3166-2:CN codes)."""

from __future__ import annotations

from api.console.i18n import ZH
from api.consumer.places import COUNTRIES

#: key -> (English, Simplified Chinese)
MESSAGES: dict[str, tuple[str, str]] = {
    "title": ("Scans", "扫码分析"),
    "window": ("Last {n} days, from {since}", "最近 {n} 天（自 {since} 起）"),
    "days": ("Days", "天数"),
    "show": ("Show", "查询"),
    "total": ("Scans in the window", "所选期间扫码次数"),
    "per_day": ("Scans per day", "每日扫码次数"),
    "per_product": ("Scans per product", "各商品扫码次数"),
    "per_lot": ("Scans per lot", "各批号扫码次数"),
    "per_region": ("Scans per region", "各地区扫码次数"),
    "first_regions": ("Where units were first scanned", "单品首次扫码地区"),
    "first_regions.note": (
        "Every unit counted once, at its first scan (all time). Darker rows: more units.",
        "每件单品仅按首次扫码计一次（不限时间）。颜色越深，单品越多。",
    ),
    "map.world": ("First scans by country", "首次扫码：按国家/地区"),
    "map.china": ("First scans in China by province", "首次扫码：中国各省份"),
    "map.source": (
        "Map data: Natural Earth (public domain)",
        "地图数据：Natural Earth（公有领域）",
    ),
    "map.notice": ("licences", "许可"),
    "map.zoom": (
        "Click a map to zoom it with the mouse wheel and drag it; it lets go when the "
        "pointer leaves.",
        "点击地图后，可用鼠标滚轮缩放、拖动平移；鼠标移出地图即恢复。",
    ),
    "probes": ("Invented serials (probing) by GTIN", "编造序列号探测（按 GTIN）"),
    "probes.note": (
        "Scans of serials that no unit of this GTIN has: someone guessing label codes.",
        "扫描了该 GTIN 下不存在的序列号：可能有人在猜测标签编码。",
    ),
    "day": ("Day", "日期"),
    "product": ("Product", "商品"),
    "gtin": ("GTIN", "GTIN"),
    "lot": ("Lot", "批号"),
    "no_lot": ("(none)", "（无）"),
    "region": ("Region", "地区"),
    "brand": ("Brand", "品牌"),
    "scans": ("Scans", "扫码次数"),
    "units": ("Units", "单品数"),
    "serials": ("Distinct invented serials", "编造序列号个数（去重）"),
    "active_days": ("Days with probing", "出现探测的天数"),
    "no_data": ("No scans in this window.", "该期间没有扫码记录。"),
    "no_probes": ("No invented serials scanned.", "未发现编造序列号的扫码。"),
    "truncated": (
        "Tables show the first 100 rows; the CSV has every row.",
        "表格仅显示前 100 行；CSV 包含全部数据。",
    ),
    "export": ("Export CSV", "导出 CSV"),
    "unknown": ("unknown", "未知"),
    "regions.source": (
        "Region: the place the scan was recorded with, else the client address's region in "
        "a bundled offline table (no address is stored).",
        "地区：扫码时记录的地点；否则按内置离线 IP 地址库推算（不保存 IP 地址）。",
    ),
}

#: ISO 3166-2:CN province -> (English, Simplified Chinese)
PROVINCES: dict[str, tuple[str, str]] = {
    "CN-BJ": ("Beijing", "北京"), "CN-TJ": ("Tianjin", "天津"), "CN-HE": ("Hebei", "河北"),
    "CN-SX": ("Shanxi", "山西"), "CN-NM": ("Inner Mongolia", "内蒙古"),
    "CN-LN": ("Liaoning", "辽宁"), "CN-JL": ("Jilin", "吉林"), "CN-HL": ("Heilongjiang", "黑龙江"),
    "CN-SH": ("Shanghai", "上海"), "CN-JS": ("Jiangsu", "江苏"), "CN-ZJ": ("Zhejiang", "浙江"),
    "CN-AH": ("Anhui", "安徽"), "CN-FJ": ("Fujian", "福建"), "CN-JX": ("Jiangxi", "江西"),
    "CN-SD": ("Shandong", "山东"), "CN-HA": ("Henan", "河南"), "CN-HB": ("Hubei", "湖北"),
    "CN-HN": ("Hunan", "湖南"), "CN-GD": ("Guangdong", "广东"), "CN-GX": ("Guangxi", "广西"),
    "CN-HI": ("Hainan", "海南"), "CN-CQ": ("Chongqing", "重庆"), "CN-SC": ("Sichuan", "四川"),
    "CN-GZ": ("Guizhou", "贵州"), "CN-YN": ("Yunnan", "云南"), "CN-XZ": ("Tibet", "西藏"),
    "CN-SN": ("Shaanxi", "陕西"), "CN-GS": ("Gansu", "甘肃"), "CN-QH": ("Qinghai", "青海"),
    "CN-NX": ("Ningxia", "宁夏"), "CN-XJ": ("Xinjiang", "新疆"),
    "CN": ("China (province unknown)", "中国（省份未知）"),
    "HK": ("Hong Kong", "中国香港"), "MO": ("Macao", "中国澳门"), "TW": ("Taiwan", "中国台湾"),
}  # fmt: skip


def scan_words(lang: str) -> dict[str, str]:
    """Every message of the scans page in ``lang`` (``en`` or ``zh-CN``), by key."""
    column = 1 if lang == ZH else 0
    return {key: pair[column] for key, pair in MESSAGES.items()}


def country_name(code: str, lang: str) -> str:
    """A country by name and code (``中国 CN``), for a map of countries; the code alone
    when the table lacks it."""
    names = COUNTRIES.get(code)
    return f"{names[1 if lang == ZH else 0]} {code}" if names else code


def region_name(region: str, lang: str) -> str:
    """A region code as the page shows it: ``CN-GD`` -> ``广东 CN-GD`` in Chinese,
    ``Guangdong CN-GD`` in English; ``unknown`` in words; other codes as they are."""
    if region == "unknown":
        return MESSAGES["unknown"][1 if lang == ZH else 0]
    names = PROVINCES.get(region) or COUNTRIES.get(region)  # other countries by name too
    return f"{names[1 if lang == ZH else 0]} {region}" if names else region
