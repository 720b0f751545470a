"""Registered actors and their keys."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.context import ctx
from api.schemas import ActorView, problems
from ledger.errors import NotFoundError
from ledger.state import ActorRecord, KeyRecord

router = APIRouter(tags=["actors"])


@router.get(
    "/v1/actors/{actor_id}",
    summary="An actor and its keys",
    response_model=ActorView,
    responses=problems(404, 422, 503),
)
def get_actor(request: Request, actor_id: str = Path(examples=["acme"])) -> JSONResponse:
    """The actor's role, name, prefixes, registration and revocation, and its keys."""
    ledger = ctx(request).ledger
    found = ledger.store.records(ledger.log, {ActorRecord: [actor_id]})
    actor = next((a for a in found if isinstance(a, ActorRecord)), None)
    if actor is None:
        raise NotFoundError(f"no actor {actor_id!r}", field="actor_id")
    keys = [
        k
        for k in ledger.store.records_in(ledger.log, KeyRecord, "actor", [actor_id])
        if isinstance(k, KeyRecord)
    ]
    body = {
        "id": actor.id,
        "role": actor.role,
        "name": actor.name,
        "prefixes": list(actor.prefixes),
        "registered_index": actor.registered_index,
        "revoked_index": actor.revoked_index,
        "keys": [
            {
                "key_id": k.key_id,
                "public_key": k.public_key,
                "added_index": k.added_index,
                "removed_index": k.removed_index,
            }
            for k in sorted(keys, key=lambda k: k.added_index)
        ],
    }
    return JSONResponse(body, headers={"Cache-Control": "public, no-cache"})
