"""The unit view (JSON) and the GS1 Digital Link resolver (JSON or the consumer page)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import ctx
from api.schemas import UnitView, problems
from api.views import cached_json
from ledger import gs1
from ledger.errors import GS1Error
from ledger.events import format_time

router = APIRouter(tags=["units"])


def _etag(view: dict[str, Any]) -> str:
    """Changes when the unit's chain, the checkpoint, the scans or the label state do."""
    entries = view["entries"]
    parts = [
        view["verdict"],
        entries[-1]["leaf_hash"] if entries else "-",
        view["checkpoint"] or "-",
        str(view["scans"]["count"]),
        (view["unit"] or {}).get("label", "-"),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@router.get(
    "/v1/units/{gtin}/{serial:path}",
    summary="The unit view: verdict, reasons, entries with proofs, checkpoint",
    response_model=UnitView,
    responses=problems(422, 429),
)
async def get_unit(
    request: Request,
    gtin: str,
    serial: str,
    s: str | None = Query(None, description="the label's brand signature"),
) -> Response:
    """The unit view (docs/API.md); its ETag changes when the chain or checkpoint does."""
    context = ctx(request)
    await context.limit(request)
    unit = _unit_id(gtin, serial)
    view = await run_in_threadpool(context.ledger.unit_view, unit.gtin, unit.serial, s)
    return cached_json(request, view, _etag(view), "public, no-cache")


def _unit_id(gtin: str, serial: str) -> gs1.UnitId:
    return gs1.UnitId(gtin=gs1.normalize_gtin(gtin), serial=serial)


@router.get(
    "/01/{rest:path}",
    summary="GS1 Digital Link resolver: the consumer page, or JSON for Accept: application/json",
    response_model=UnitView,
    responses={
        200: {"content": {"text/html": {}}, "description": "the unit view, or the page"},
        **problems(404, 422, 429),
    },
)
async def resolve(request: Request, rest: str) -> Response:
    """Resolve ``/01/{gtin}[/10/{lot}]/21/{serial}[?17=YYMMDD&s=...]``; record the scan."""
    context = ctx(request)
    await context.limit(request)
    raw = request.scope.get("raw_path", b"").decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    link = gs1.parse_digital_link(f"http://resolver{raw}" + (f"?{query}" if query else ""))
    if link.serial is None:
        raise GS1Error("the resolver needs a serialized unit: /01/{gtin}/21/{serial}", field="path")
    params = dict(link.query)
    context.scan(request, link.gtin, link.serial, params.get("place"))
    view = await run_in_threadpool(
        context.ledger.unit_view, link.gtin, link.serial, params.get("s")
    )
    view["scans"]["count"] += sum(
        1 for p in context.pending_scans if (p.gtin, p.serial) == (link.gtin, link.serial)
    )
    if view["scans"]["first"] is None and view["scans"]["count"]:
        view["scans"]["first"] = {"at": format_time(datetime.now(UTC)), "place": params.get("place")}
    headers = {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}
    if params.get("format") == "json" or "application/json" in request.headers.get("accept", ""):
        return JSONResponse(view, headers=headers)
    from api.page import choose_language, render_unit_page

    lang = choose_language(request.headers.get("accept-language"), params.get("lang"))
    other = "en" if lang == "zh-CN" else "zh-CN"
    switch = (
        raw + "?" + urlencode([(k, v) for k, v in link.query if k != "lang"] + [("lang", other)])
    )
    html = render_unit_page(view, lang, path=raw, switch_href=switch, now=datetime.now(UTC))
    return HTMLResponse(html, headers={**headers, "Content-Language": lang})
