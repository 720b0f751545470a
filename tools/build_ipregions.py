"""Build ``ledger/service/data/ipregions.bin``, the offline IP-to-region table of the
console's scan analytics (docs/CONSOLE.md, "Regions"), from two npm packages:

- ``@ip-location-db/geo-whois-asn-country`` (``*-ipv4-num.csv``, ``*-ipv6-num.csv``):
  IPv4 and IPv6 ranges to ISO 3166-1 countries (RIR whois data, CC BY 4.0 by the NRO);
- ``ip2region`` (``data/ip2region.db``, the lionsoul2014/ip2region data, Apache-2.0):
  China's IPv4 ranges to provinces, written as ISO 3166-2 codes (``CN-GD``) where the
  country table also says ``CN``.

Usage: ``python tools/build_ipregions.py COUNTRY_DIR IP2REGION_DB OUT`` (the unpacked
packages: ``npm pack NAME`` then ``tar xzf``). The file format (zlib-compressed) is
`ledger.service.ipregions`'s.
"""

from __future__ import annotations

import csv
import struct
import sys
import zlib
from array import array
from pathlib import Path

#: ip2region's province names -> ISO 3166-2:CN codes (Hong Kong, Macao and Taiwan are
#: countries in the country table and stay so)
PROVINCES = {
    "北京": "BJ", "天津": "TJ", "河北省": "HE", "山西省": "SX", "内蒙古": "NM", "辽宁省": "LN",
    "吉林省": "JL", "黑龙江省": "HL", "上海": "SH", "江苏省": "JS", "浙江省": "ZJ", "安徽省": "AH",
    "福建省": "FJ", "江西省": "JX", "山东省": "SD", "河南省": "HA", "湖北省": "HB", "湖南省": "HN",
    "广东省": "GD", "广西": "GX", "海南省": "HI", "重庆": "CQ", "四川省": "SC", "贵州省": "GZ",
    "云南省": "YN", "西藏": "XZ", "陕西省": "SN", "甘肃省": "GS", "青海省": "QH", "宁夏": "NX",
    "新疆": "XJ",
}  # fmt: skip
MAGIC = b"PLIPREGION1\n"


def _country_ranges(path: Path, shift: int) -> list[tuple[int, int, str]]:
    with path.open(newline="") as f:
        return [(int(a) >> shift, int(b) >> shift, cc) for a, b, cc in csv.reader(f)]


def _province_ranges(db: bytes) -> list[tuple[int, int, str]]:
    first, last = struct.unpack("<II", db[:8])
    out = []
    for p in range(first, last + 1, 12):
        start, end, ptr = struct.unpack("<III", db[p : p + 12])
        length, ptr = ptr >> 24, ptr & 0xFFFFFF
        fields = db[ptr + 4 : ptr + length].decode().split("|")
        code = PROVINCES.get(fields[2]) if fields[0] == "中国" else None
        if code is not None:
            out.append((start, end, "CN-" + code))
    return out


def _paint(
    base: list[tuple[int, int, str]], over: list[tuple[int, int, str]]
) -> list[tuple[int, str]]:
    """(start, region) steps: ``base`` ranges, with ``over`` where base says CN; gaps ''."""
    events: list[tuple[int, str]] = []
    for start, end, region in sorted(base):
        events.append((start, region))
        events.append((end + 1, ""))
    steps = _steps(events)
    if over:
        painted: list[tuple[int, str]] = []
        o_events: list[tuple[int, str]] = []
        for start, end, region in sorted(over):
            o_events.append((start, region))
            o_events.append((end + 1, ""))
        o_steps = _steps(o_events)
        points = sorted({s for s, _ in steps} | {s for s, _ in o_steps})
        bi = oi = 0
        for point in points:
            while bi + 1 < len(steps) and steps[bi + 1][0] <= point:
                bi += 1
            while oi + 1 < len(o_steps) and o_steps[oi + 1][0] <= point:
                oi += 1
            b = steps[bi][1] if steps[bi][0] <= point else ""
            o = o_steps[oi][1] if o_steps[oi][0] <= point else ""
            painted.append((point, o if b == "CN" and o else b))
        steps = painted
    merged: list[tuple[int, str]] = []
    for start, region in steps:
        if merged and merged[-1][1] == region:
            continue
        merged.append((start, region))
    return merged


def _steps(events: list[tuple[int, str]]) -> list[tuple[int, str]]:
    # a range's end+1 event is overridden by a range starting at the same point
    by_point: dict[int, str] = {}
    for point, region in events:
        if region or point not in by_point:
            by_point[point] = region
    return sorted(by_point.items())


def build(country_dir: Path, ip2region_db: Path, out: Path) -> None:
    """Write the table (format: ledger/service/ipregions.py)."""
    v4 = _paint(
        _country_ranges(next(country_dir.glob("*-ipv4-num.csv")), 0),
        _province_ranges(ip2region_db.read_bytes()),
    )
    v6 = _paint(_country_ranges(next(country_dir.glob("*-ipv6-num.csv")), 64), [])
    v6 = [(s, r) for s, r in v6 if s < 1 << 64]
    regions = sorted({r for _, r in v4} | {r for _, r in v6} | {""})
    index = {r: i for i, r in enumerate(regions)}
    body = bytearray(MAGIC)
    names = "\n".join(regions).encode()
    body += struct.pack("<I", len(names)) + names
    for steps, code in ((v4, "I"), (v6, "Q")):
        starts = array(code, (s for s, _ in steps))
        which = array("H", (index[r] for _, r in steps))
        if sys.byteorder != "little":
            starts.byteswap()
            which.byteswap()
        body += struct.pack("<I", len(steps)) + starts.tobytes() + which.tobytes()
    out.write_bytes(zlib.compress(bytes(body), 9))
    print(
        f"{out}: {len(body)} bytes (compressed {out.stat().st_size}), {len(regions)} regions,"
        f" {len(v4)} IPv4 and {len(v6)} IPv6 steps"
    )


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
