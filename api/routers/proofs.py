"""The log's RFC 9162 proofs, ``/v1/proofs/...``: inclusion of an entry in a tree, and
consistency of an older tree with a newer one. Both are immutable once they exist.

A unit's offline proof file is with the unit (`api.routers.units`).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.context import ctx
from api.readlimits import READ_LIMIT
from api.schemas import MAX_INT64, NOT_MODIFIED, ConsistencyProof, InclusionProof, problems
from api.schemas_more import MapUpdateProof
from api.views import IMMUTABLE, cached_json
from ledger import codec

router = APIRouter(tags=["log"])
_PROOF_RESPONSES = {**NOT_MODIFIED, **problems(404, 422, 429, 503)}


@router.get(
    "/v1/proofs/inclusion",
    summary="RFC 9162 inclusion proof",
    dependencies=[READ_LIMIT],
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
    dependencies=[READ_LIMIT],
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


@router.get(
    "/v1/proofs/map-update",
    summary="Map update proof between two checkpoints",
    dependencies=[READ_LIMIT],
    response_model=MapUpdateProof,
    responses=_PROOF_RESPONSES,
)
def map_update(
    request: Request,
    old: int = Query(ge=1, le=MAX_INT64, examples=[1]),
    new: int = Query(ge=2, le=MAX_INT64, examples=[2]),
) -> Response:
    """What a witness needs to check that the map root signed at ``new`` follows from the
    one signed at ``old`` (docs/FORMAT.md section 14, "Map update proofs"; immutable)."""
    ledger = ctx(request).ledger_for(request)
    body = ledger.map_update_proof(old, new).to_dict()
    return cached_json(request, body, f"m{old}-{new}", IMMUTABLE)
