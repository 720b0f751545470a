"""A brand's side of the counterfeit signals, ``/v1/brands/{brand}/...``.

- ``GET /v1/brands/{brand}/alerts``: the brand's triage queue (clone signals, reports,
  response times); a signed request (ledger.reqsig) by the brand or an operator only.
- ``GET /v1/brands/{brand}/authorizations?partner=&gtin=&at=``: whether the brand
  authorizes a partner (a marketplace's seller check), with the entries and proofs to
  check it offline (ledger.verify.authorization); public, as the log is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.callers import request_signer
from api.context import ctx
from api.schemas import Alerts, AuthorizationAnswer, problems
from api.schemas_more import Retailers

router = APIRouter(tags=["signals"])


@router.get(
    "/v1/brands/{brand}/alerts",
    summary="The brand's triage queue: clone signals, reports, response times (signed)",
    response_model=Alerts,
    responses=problems(401, 403, 404, 422, 429),
)
async def alerts(request: Request, brand: str) -> Response:
    """Signals and reports for ``brand``; the request must be signed by it or an operator."""
    context = ctx(request)
    await context.limit(request)
    ledger = context.ledger_for_brand(brand)
    signer = await request_signer(request, ledger)
    ledger.reports.may_triage(signer, brand)
    body = await run_in_threadpool(ledger.reports.alerts, brand)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


_PARTNER = Query(..., description="the partner (seller) id")
_GTIN = Query(None, description="the GTIN to be sold (default: any)")
_AT = Query(None, description="RFC 3339 UTC time (default: now)")


@router.get(
    "/v1/brands/{brand}/authorizations",
    summary="Is a partner authorized by the brand (for a GTIN, at a time)? With proofs",
    response_model=AuthorizationAnswer,
    responses=problems(422, 429),
)
async def authorization(
    request: Request,
    brand: str,
    partner: str = _PARTNER,
    gtin: str | None = _GTIN,
    at: str | None = _AT,
) -> Response:
    """``{brand, partner, gtin, at, authorized, status, authorization, entries,
    checkpoint}``: status ``authorized``, ``expired``, ``not-yet-valid``, ``revoked`` or
    ``never-authorized`` (docs/API.md)."""
    from ledger import gs1
    from ledger.events import parse_time

    context = ctx(request)
    await context.limit(request)
    ledger = context.ledger_for_brand(brand, request)
    when = parse_time(at, "at") if at else ledger.now()
    wanted = gs1.normalize_gtin(gtin) if gtin else None
    body = await run_in_threadpool(ledger.partners.authorization, brand, partner, wanted, when)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/brands/{brand}/retailers",
    summary="The shops the brand authorizes as retailers today (JSON, or a page for a browser)",
    response_model=Retailers,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problems(404, 422, 429),
    },
)
async def retailers(
    request: Request,
    brand: Annotated[str, Path(description="the brand's actor id", examples=["acme"])],
    lang: str | None = None,
) -> Response:
    """``{brand, name, at, retailers: [{id, name, gtins, prefixes, until}]}``: the partners
    the brand's signed authorizations make retailers now (docs/API.md); a browser gets
    the shopper's page of them (linked from every unit page), in its language."""
    from api.consumer.error_page import render_retailers_page, wants_html
    from api.consumer.i18n import choose_language
    from ledger.events import format_time

    context = ctx(request)
    await context.limit(request)
    ledger = context.ledger_for_brand(brand, request)
    record = await run_in_threadpool(ledger.actor_view, brand)  # 404 for no such actor
    now = ledger.now()
    shops = await run_in_threadpool(ledger.partners.retailers, brand, now)
    name = str(record.get("name") or brand)
    if wants_html(request.headers.get("accept")):
        chosen = choose_language(request.headers.get("accept-language"), lang)
        headers = {"Content-Language": chosen, "Vary": "Accept, Accept-Language"}
        return HTMLResponse(render_retailers_page(name, shops, chosen), headers=headers)
    body = {"brand": brand, "name": name, "at": format_time(now), "retailers": shops}
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Vary": "Accept"})
