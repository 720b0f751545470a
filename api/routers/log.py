"""The log itself: checkpoints (with witness cosignatures), the verifier key, proofs."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import ctx, read_body
from api.schemas import (
    MAX_INT64,
    NOT_MODIFIED,
    ConsistencyProof,
    CosignatureReceipt,
    InclusionProof,
    problems,
)
from api.views import IMMUTABLE, REVALIDATE, cached_json
from ledger import codec
from ledger.events import format_time

router = APIRouter(tags=["log"])
_TEXT = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "C2SP text"}
}
_PROOF_RESPONSES = {**NOT_MODIFIED, **problems(404, 422, 503)}


@router.get(
    "/v1/checkpoint",
    summary="The latest (or a past) signed checkpoint, C2SP tlog-checkpoint text",
    response_class=PlainTextResponse,
    responses={**_TEXT, **NOT_MODIFIED, **problems(404, 422, 503)},
)
def get_checkpoint(
    request: Request, size: int | None = Query(None, ge=1, le=MAX_INT64)
) -> Response:
    """The signed checkpoint with the witness cosignatures the log holds for it.

    Cosignatures may arrive later, so even a past size is revalidated (its ETag counts
    the signature lines).
    """
    ledger = ctx(request).ledger_for(request)
    text = ledger.cosigning.cosigned_checkpoint(size)
    tree_size, signatures = text.split("\n", 2)[1], text.count("\n\u2014 ")
    tag = f'"c{tree_size}-{signatures}"'
    headers = {"ETag": tag, "Cache-Control": REVALIDATE}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return PlainTextResponse(text, headers=headers)


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
    return JSONResponse(receipt, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/log/key",
    summary="The log's C2SP verifier key (name+keyhash+base64)",
    response_class=PlainTextResponse,
    responses=_TEXT,
)
def get_key(request: Request) -> Response:
    """The verifier key that signs this log's checkpoints."""
    return PlainTextResponse(
        ctx(request).ledger_for(request).verifier_key + "\n",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get(
    "/v1/proofs/inclusion",
    summary="RFC 9162 inclusion proof",
    response_model=InclusionProof,
    responses=_PROOF_RESPONSES,
)
def inclusion(
    request: Request,
    index: int = Query(ge=0, le=MAX_INT64, examples=[0]),
    size: int = Query(ge=1, le=MAX_INT64, examples=[2]),
) -> Response:
    """The proof that entry ``index`` is in the tree of ``size`` (immutable)."""
    ledger = ctx(request).ledger_for(request)
    proof = ledger.inclusion_proof(index, size)
    body = {
        "index": index,
        "size": size,
        "leaf_hash": codec.b64url_encode(ledger.entry(index).leaf_hash),
        "proof": [codec.b64url_encode(h) for h in proof],
    }
    return cached_json(request, body, f"i{index}-{size}", IMMUTABLE)


@router.get(
    "/v1/proofs/consistency",
    summary="RFC 9162 consistency proof",
    response_model=ConsistencyProof,
    responses=_PROOF_RESPONSES,
)
def consistency(
    request: Request,
    old: int = Query(ge=0, le=MAX_INT64, examples=[1]),
    new: int = Query(ge=0, le=MAX_INT64, examples=[2]),
) -> Response:
    """The proof that the tree of ``old`` is a prefix of the tree of ``new`` (immutable)."""
    proof = ctx(request).ledger_for(request).consistency_proof(old, new)
    body = {"old": old, "new": new, "proof": [codec.b64url_encode(h) for h in proof]}
    return cached_json(request, body, f"k{old}-{new}", IMMUTABLE)
