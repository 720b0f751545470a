"""The log itself: checkpoints, the verifier key, inclusion and consistency proofs."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from api.context import ctx
from api.schemas import MAX_INT64, NOT_MODIFIED, ConsistencyProof, InclusionProof, problems
from api.views import IMMUTABLE, REVALIDATE, cached_json
from ledger import codec

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
    """The signed checkpoint; one at a fixed past size never changes."""
    ledger = ctx(request).ledger_for(request)
    stored = ledger.store.checkpoint(ledger.log, size)
    policy = IMMUTABLE if size is not None else REVALIDATE
    tag = f'"c{stored.size}"'
    headers = {"ETag": tag, "Cache-Control": policy}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return PlainTextResponse(stored.note, headers=headers)


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
