"""Offline proofs: a unit's chain as a C2SP tlog-proof style text file (ledger.verify.unitproof)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import ctx
from api.schemas import NOT_MODIFIED, problems
from ledger import gs1

router = APIRouter(tags=["units"])
MEDIA_TYPE = "text/plain; charset=utf-8"
Gtin = Annotated[
    str, Path(description="GTIN (AI 01) with its check digit", examples=["09506000134352"])
]
Serial = Annotated[str, Path(description="the serial number (AI 21)", examples=["SN-0001"])]


@router.get(
    "/v1/units/{gtin}/{serial:path}/proof",
    summary="The unit's offline proof: its chain in a cosigned checkpoint (tlog-proof style)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "provenance-ledger/unit-proof@v1 text (docs/FORMAT.md)",
        },
        **NOT_MODIFIED,
        **problems(404, 422, 429, 503),
    },
)
async def get_unit_proof(request: Request, gtin: Gtin, serial: Serial) -> Response:
    """Everything needed to check the unit's chain with no network: `provenance verify
    --proof FILE`. A download (``Content-Disposition``); its ETag is its hash."""
    context = ctx(request)
    await context.limit(request)
    unit = gs1.UnitId(gtin=gs1.normalize_gtin(gtin), serial=serial)
    ledger = context.ledger_for_unit(unit.gtin)
    text = await run_in_threadpool(ledger.exports.unit_proof, unit.gtin, unit.serial)
    tag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in unit.serial)
    headers = {
        "ETag": tag,
        "Cache-Control": "public, no-cache",
        "Content-Disposition": f'attachment; filename="{unit.gtin}-{safe}.unit-proof"',
    }
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return PlainTextResponse(text, media_type=MEDIA_TYPE, headers=headers)
