"""Registered actors and their keys."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.context import ctx
from api.readlimits import READ_LIMIT
from api.schemas import ActorView, problems

router = APIRouter(tags=["actors"])


@router.get(
    "/v1/actors/{actor_id}",
    summary="An actor and its keys",
    dependencies=[READ_LIMIT],
    response_model=ActorView,
    responses=problems(404, 422, 429, 503),
)
def get_actor(request: Request, actor_id: str = Path(examples=["acme"])) -> JSONResponse:
    """The actor's role, name, prefixes, registration and revocation, and its keys."""
    body = ctx(request).ledger_for(request).actor_view(actor_id)
    return JSONResponse(body, headers={"Cache-Control": "public, no-cache"})
