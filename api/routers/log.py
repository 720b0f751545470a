"""The log itself: checkpoints (with witness cosignatures) and the verifier key.

The log's RFC 9162 proofs are `api.routers.proofs`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import ctx, read_body
from api.readlimits import READ_LIMIT
from api.schemas import (
    MAX_INT64,
    NOT_MODIFIED,
    CheckpointSizes,
    CosignatureReceipt,
    problems,
)
from api.schemas_more import Incidents
from api.views import REVALIDATE
from ledger.codec import b64_encode
from ledger.events import format_time
from ledger.note.incident import verify_incident

router = APIRouter(tags=["log"])
_TEXT = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "C2SP text"}
}


@router.get(
    "/v1/checkpoint",
    summary="The latest (or a past) signed checkpoint, C2SP tlog-checkpoint text",
    dependencies=[READ_LIMIT],
    response_class=PlainTextResponse,
    responses={**_TEXT, **NOT_MODIFIED, **problems(404, 422, 429, 503)},
)
def get_checkpoint(
    request: Request, size: int | None = Query(None, ge=1, le=MAX_INT64)
) -> Response:
    """The signed checkpoint with the witness cosignatures the log holds for it.

    Cosignatures may arrive later, and the log re-dates its latest checkpoint while it is
    quiet (ledger.service.dating), so even a past size is revalidated (its ETag hashes
    the note).
    """
    ledger = ctx(request).ledger_for(request)
    text = ledger.cosigning.cosigned_checkpoint(size)
    # the note changes at its size as cosignatures arrive and the log re-dates it
    tree_size, digest = text.split("\n", 2)[1], hashlib.sha256(text.encode()).hexdigest()[:16]
    tag = f'"c{tree_size}-{digest}"'
    headers = {"ETag": tag, "Cache-Control": REVALIDATE}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return PlainTextResponse(text, headers=headers)


@router.get(
    "/v1/checkpoints",
    summary="The tree sizes at which the log signed a checkpoint",
    dependencies=[READ_LIMIT],
    response_model=CheckpointSizes,
    responses=problems(422, 429, 503),
)
def get_checkpoint_sizes(
    request: Request,
    start: int = Query(1, ge=1, le=MAX_INT64, description="the smallest size to list"),
    limit: int = Query(1000, ge=1, le=1000),
) -> JSONResponse:
    """Up to ``limit`` sizes with a signed checkpoint at ``start`` or above, increasing,
    and ``next``, the ``start`` of the next page (null: none). Each size is one that
    `GET /v1/checkpoint?size=N` and the ``size`` parameter of the entry reads accept."""
    ledger = ctx(request).ledger_for(request)
    sizes = ledger.checkpoint_sizes(start, limit + 1)
    more = len(sizes) > limit
    body = {"sizes": sizes[:limit], "next": sizes[limit] if more else None}
    return JSONResponse(body, headers={"Cache-Control": REVALIDATE})


@router.get(
    "/v1/log/incidents",
    summary="The log's signed incident notes: the times it served a shorter log",
    dependencies=[READ_LIMIT],
    response_model=Incidents,
    responses=problems(429, 503),
)
def get_incidents(request: Request) -> JSONResponse:
    """Each incident the operator declared (a published checkpoint given up after a lost
    tail, docs/OPERATIONS.md), oldest first: the note signed by the log key, which a
    reader verifies (docs/FORMAT.md, "Incident notes"), and its fields read from it."""
    ledger = ctx(request).ledger_for(request)
    out = []
    for text in ledger.incident_notes():
        incident = verify_incident(text, ledger.verifier_key)  # never serve one we cannot
        out.append(
            {
                "note": text,
                "at": incident.at,
                "given_up": {
                    "size": incident.given_up.size,
                    "root": b64_encode(incident.given_up.root),
                },
                "served": {"size": incident.served.size, "root": b64_encode(incident.served.root)},
                "reason": incident.note,
            }
        )
    body = {"origin": ledger.origin, "incidents": out}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/checkpoint/cosignatures",
    summary="Submit a witness cosignature (C2SP tlog-witness add-checkpoint shape)",
    response_model=CosignatureReceipt,
    responses=problems(400, 403, 404, 409, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def post_cosignature(request: Request) -> Response:
    """Store a configured witness's cosignature on one of this log's checkpoints.

    The body is ``old <size>``, optional proof lines, a blank line, then the checkpoint
    note carrying the witness's ``cosignature/v1`` line (docs/API.md). 409 with the
    recorded ``size`` when ``old`` is not the size this witness cosigned last.
    """
    context = ctx(request)
    body = await read_body(request, 64 * 1024)
    now = format_time(datetime.now(UTC))
    ledger = context.ledger_for(request)
    receipt = await run_in_threadpool(ledger.cosigning.add_cosignature, body, now)
    # the views serve the new cosignature now, not at the next housekeeping round
    await run_in_threadpool(ledger.dating.reload)
    return JSONResponse(receipt, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/log/key",
    summary="The log's C2SP verifier key (name+keyhash+base64)",
    dependencies=[READ_LIMIT],
    response_class=PlainTextResponse,
    responses={**_TEXT, **problems(429)},
)
def get_key(request: Request) -> Response:
    """The verifier key that signs this log's checkpoints."""
    return PlainTextResponse(
        ctx(request).ledger_for(request).verifier_key + "\n",
        headers={"Cache-Control": "public, max-age=3600"},
    )
