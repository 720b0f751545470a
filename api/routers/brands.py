"""A brand's side of the counterfeit signals, ``/v1/brands/{brand}/...``.

- ``GET /v1/brands/{brand}/alerts``: the brand's triage queue (clone signals, reports,
  response times); a signed request (ledger.reqsig) by the brand or an operator only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.callers import request_signer
from api.context import ctx
from api.schemas import Alerts, problems

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
