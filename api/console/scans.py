"""The console's scan analytics (docs/CONSOLE.md, "Scans"): ``/console/scans``, its CSV
``/console/export/scans.csv``, and the page's static files under ``/console/static/``
(Apache ECharts, vendored with its licence; the maps of first-scan regions, built by
tools/build_maps.py from Natural Earth, with their notice; the page's own script and
stylesheet).

The page is whole without JavaScript: every figure is a table; the charts draw the
same data, read from a JSON data block, with the bundled ECharts, and the script
fetches the maps' GeoJSON from this server. Its CSP allows scripts, stylesheets and
fetches from this server only ('self'), no inline script.

A brand's staff see their brand's scans only (``?brand=`` naming another: 403); the
operator's staff see every brand, or one with ``?brand=``.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console import session
from api.console.csvfile import csv_response
from api.console.environment import policy
from api.console.routes import _lang, _page, render
from api.console.scanwords import country_name, region_name, scan_words
from ledger.errors import NotFoundError
from ledger.service.console_auth import Staff
from ledger.service.scanstats import CSV_COLUMNS, ScanStatsService, check_days

router = APIRouter(prefix="/console", include_in_schema=False)
STATIC = Path(__file__).parent / "static"
#: the static files served, by name: their media type
FILES = {
    "echarts-6.1.0.min.js": "text/javascript; charset=utf-8",
    "scans.js": "text/javascript; charset=utf-8",
    "scans.css": "text/css; charset=utf-8",
    "echarts-LICENSE": "text/plain; charset=utf-8",
    "echarts-NOTICE": "text/plain; charset=utf-8",
    "echarts-LICENSE-d3": "text/plain; charset=utf-8",
    "map-world.json": "application/json",
    "map-china.json": "application/json",
    "maps-NOTICE": "text/plain; charset=utf-8",
}
#: the maps the page draws: name -> static file (GeoJSON, features named by region code)
MAPS = {"world": "map-world.json", "china": "map-china.json"}
#: regions drawn on China's map besides its provinces (countries in the region codes)
CHINA_MAP_EXTRA = frozenset({"HK", "MO", "TW"})
#: a year: the URLs carry the file's digest, so a changed file is a new URL
_IMMUTABLE = "public, max-age=31536000, immutable"


@cache
def _file(name: str) -> tuple[bytes, str]:
    """A static file's bytes and the first 16 hex digits of their SHA-256."""
    data = (STATIC / name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16]


def static_url(name: str) -> str:
    """The URL of a static file, with its digest (so it may be cached for good)."""
    return f"/console/static/{name}?v={_file(name)[1]}"


@cache
def scans_policy() -> str:
    """The scans page's CSP: the console's, with scripts, stylesheets and fetches (the
    maps' GeoJSON) also allowed from this server ('self'), never inline script."""
    return policy().replace(
        "style-src ", "script-src 'self'; connect-src 'self'; style-src 'self' ", 1
    )


def _service(request: Request) -> ScanStatsService:
    found: ScanStatsService = request.app.state.scanstats
    return found


def _brands(request: Request, staff: Staff) -> list[str] | None:
    """The brands whose scans ``staff`` sees here: ``?brand=`` if they may see it
    (else ForbiddenError), else their own, or None (every brand) for the operator."""
    console = session.service(request)
    wanted = request.query_params.get("brand") or None
    if wanted is not None:
        console.check_brand(staff, wanted)
        return [wanted[:64]]
    return None if staff.operator else console.brands_of(staff)


@router.get("/scans")
async def scans(request: Request) -> Response:
    """Scans per day, product, lot and region; first-scan regions; probing."""

    async def page(request: Request, staff: Staff) -> Response:
        days = check_days(request.query_params.get("days"))
        brands = _brands(request, staff)
        lang = _lang(request)
        figures = _service(request).summary(brands, days)
        for row in figures["per_region"] + figures["first_regions"]:
            row["name"] = region_name(row["region"], lang)
        chart = _chart_data(figures, lang)
        response = render(
            request,
            "scans.html",
            staff,
            s=scan_words(lang),
            f=figures,
            chart=chart,
            brand=request.query_params.get("brand") or "",
            script=static_url("scans.js"),
            echarts=static_url("echarts-6.1.0.min.js"),
            stylesheet=static_url("scans.css"),
            maps={name: static_url(file) for name, file in MAPS.items()},
        )
        response.headers["Content-Security-Policy"] = scans_policy()
        return response

    return await _page(request, page)


def _chart_data(figures: dict[str, Any], lang: str) -> dict[str, Any]:
    """What the charts draw (the tables' data, small): label and value lists."""
    words = scan_words(lang)

    def pairs(rows: list[dict[str, Any]], label: str, value: str) -> dict[str, list[Any]]:
        return {"labels": [r[label] for r in rows], "values": [r[value] for r in rows]}

    products = [
        {**r, "label": f"{r['name_zh'] if lang != 'en' else r['name']} {r['gtin']}".strip()}
        for r in figures["per_product"]
    ]
    lots = [
        {**r, "label": f"{r['gtin']} {r['lot'] or words['no_lot']}"} for r in figures["per_lot"]
    ]
    return {
        "words": {k: words[k] for k in ("scans", "units", "serials", "map.world", "map.china")},
        "day": pairs(figures["per_day"], "day", "scans"),
        "product": pairs(products[:20], "label", "scans"),
        "lot": pairs(lots[:20], "label", "scans"),
        "region": pairs(figures["per_region"][:20], "name", "scans"),
        "probe": pairs(figures["probes"][:20], "gtin", "serials"),
        **map_data(figures["first_regions"], lang),
    }


def map_data(first_regions: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """What the maps fill: ``world``, units by country (China's provinces summed into
    ``CN``), and ``china``, units by province, Hong Kong, Macao and Taiwan, each a list
    of ``{"name": code, "value": units, "label": shown name}``; ``china`` is empty unless
    some unit was first scanned in a province (then the page draws China's map too).
    ``unknown`` places no unit on a map."""
    world: dict[str, int] = {}
    china: dict[str, int] = {}
    for row in first_regions:
        region, units = row["region"], int(row["units"])
        if region == "unknown":
            continue
        country = "CN" if row["country"] in CHINA_MAP_EXTRA else row["country"]
        world[country] = world.get(country, 0) + units
        if region.startswith("CN-") or region in CHINA_MAP_EXTRA:
            china[region] = china.get(region, 0) + units
    if not any(r.startswith("CN-") for r in china):
        china = {}

    def items(units: dict[str, int]) -> list[dict[str, Any]]:
        return [{"name": r, "value": n, "label": region_name(r, lang)} for r, n in units.items()]

    shown = items(world)
    if "CN" in world:  # the world map's own shapes of Taiwan, Hong Kong, Macao: China's fill
        china_item = next(i for i in shown if i["name"] == "CN")
        china_item["label"] = country_name("CN", lang)
        shown += [{**china_item, "name": code} for code in sorted(CHINA_MAP_EXTRA)]
    return {"world": shown, "china": items(china)}


@router.get("/export/scans.csv")
async def export_scans(request: Request) -> Response:
    """The scan aggregates as CSV (brand, day, GTIN, lot, region, scans), UTF-8 with a
    byte-order mark, for ``?days=`` (default 30, at most 366) and ``?brand=``."""

    async def page(request: Request, staff: Staff) -> Response:
        days = check_days(request.query_params.get("days"))
        rows = _service(request).csv_rows(_brands(request, staff), days)
        return csv_response("scans.csv", CSV_COLUMNS, rows)

    return await _page(request, page)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """A static file of the scans page (`FILES`), cached for good (its URL carries its
    digest); any other name is 404."""
    media = FILES.get(name)
    if media is None:
        raise NotFoundError("no such file")
    data, digest = _file(name)
    return Response(
        data,
        media_type=media,
        headers={
            "Cache-Control": _IMMUTABLE,
            "ETag": f'"{digest}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
