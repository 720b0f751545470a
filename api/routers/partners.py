"""What partners' own systems ask before and after a scan, ``/v1/partners/...``:

- ``GET /v1/partners/actors?role=R``: the registered actors (to find a recipient's id);
- ``POST /v1/partners/custody``: where up to 1,000 units stand (head, custodian,
  pending), for a scan list; public, as the unit views are;
- ``GET /v1/partners/containers/{sscc}``: where every unit in a container (its
  outermost: all of a pallet's units, whatever carton they are in) stands; public, as
  custody is;
- ``GET /v1/partners/{actor_id}/inbox``: what is on its way to ``actor``;
- ``GET /v1/partners/{actor_id}/holdings``: what ``actor`` holds.

The inbox and holdings are a partner's business: signed requests (ledger.reqsig) by that
actor or an operator only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.callers import request_signer
from api.context import ctx
from api.jsonbody import json_body
from api.schemas import ActorList, CustodyList, HeldList, problems
from api.schemas_more import CUSTODY_BODY
from ledger import codec, gs1
from ledger.errors import ValidationError
from ledger.reqsig import ForbiddenError
from ledger.rules.state import ActorRecord
from ledger.service.partners import MAX_UNITS
from ledger.sscc import parse_sscc
from ledger.vocab import Role

router = APIRouter(tags=["partners"])

_PRIVATE = {"Cache-Control": "no-store"}
_ROLE = Query(None, description="only actors of this role")


@router.get(
    "/v1/partners/actors",
    summary="The registered actors, by id (optionally of one role)",
    response_model=ActorList,
    responses=problems(422, 429),
)
async def actors(request: Request, role: Role | None = _ROLE) -> JSONResponse:
    """``{"actors": [{id, role, name, revoked}]}``, sorted by id."""
    context = ctx(request)
    await context.limit(request)
    ledger = context.ledger_for(request)
    found = await run_in_threadpool(ledger.partners.actors, role)
    return JSONResponse({"actors": found}, headers={"Cache-Control": "public, no-cache"})


@router.post(
    "/v1/partners/custody",
    summary="Where up to 1,000 units stand: head, latest index, custodian, pending",
    response_model=CustodyList,
    responses=problems(400, 413, 415, 422, 429),
    openapi_extra=CUSTODY_BODY,
)
async def custody(request: Request) -> JSONResponse:
    """Body ``{"units": [{"gtin", "serial"}]}``; answer ``{"units": [...]}`` for those in
    the log (units not in the log are left out)."""
    context = ctx(request)
    await context.limit(request)
    body = await json_body(request, context.settings.max_batch_bytes)
    units = _units(codec.parse(body))
    ledger = context.ledger_for(request)
    found = await run_in_threadpool(ledger.partners.custody, units)
    return JSONResponse({"units": found}, headers=_PRIVATE)


@router.get(
    "/v1/partners/containers/{sscc}",
    summary="Where every unit packed in a container (an SSCC) stands",
    response_model=CustodyList,
    responses=problems(422, 429),
)
async def contents(request: Request, sscc: str) -> JSONResponse:
    """``{"units": [...]}`` as custody answers them, for every unit whose outermost
    container is ``sscc`` (18 digits, or its URN); empty when nothing is in it."""
    context = ctx(request)
    await context.limit(request)
    container = parse_sscc(sscc, "sscc")
    ledger = context.ledger_for(request)
    found = await run_in_threadpool(ledger.partners.contents, container)
    return JSONResponse({"units": found}, headers=_PRIVATE)


@router.get(
    "/v1/partners/{actor_id}/inbox",
    summary="What is handed or returned to the actor and not yet received (signed)",
    response_model=HeldList,
    responses=problems(401, 403, 404, 422, 429),
)
async def inbox(request: Request, actor_id: str) -> JSONResponse:
    """``{"actor", "units": [{gtin, serial, lot, expiry, counterpart, index}]}``:
    ``counterpart`` is the sender."""
    ledger = await _own(request, actor_id)
    found = await run_in_threadpool(ledger.partners.inbox, actor_id)
    return JSONResponse({"actor": actor_id, "units": found}, headers=_PRIVATE)


@router.get(
    "/v1/partners/{actor_id}/holdings",
    summary="What the actor holds (signed)",
    response_model=HeldList,
    responses=problems(401, 403, 404, 422, 429),
)
async def holdings(request: Request, actor_id: str) -> JSONResponse:
    """``{"actor", "units": [...]}``: ``counterpart`` is the recipient of an open
    transfer, else null."""
    ledger = await _own(request, actor_id)
    found = await run_in_threadpool(ledger.partners.holdings, actor_id)
    return JSONResponse({"actor": actor_id, "units": found}, headers=_PRIVATE)


async def _own(request: Request, actor: str) -> Any:
    """The request's ledger, once its signer is ``actor`` itself or an operator.

    Raises:
        AuthenticationError: no or a bad request signature.
        ForbiddenError: any other signer, or a revoked one.
    """
    context = ctx(request)
    await context.limit(request)
    ledger = context.ledger_for(request)
    signer: ActorRecord = await request_signer(request, ledger)
    if signer.revoked_index is not None:
        raise ForbiddenError(f"{signer.id} is revoked")
    if signer.id != actor and signer.role != Role.OPERATOR:
        raise ForbiddenError(f"{signer.id} may not see what {actor} holds or receives")
    return ledger


def _units(data: Any) -> list[tuple[str, str]]:
    """The ``units`` of a custody request, each a GTIN (normalized) and a serial.

    Raises:
        ValidationError, GS1Error: not ``{"units": [{"gtin", "serial"}]}`` of at most
            `MAX_UNITS` well-formed units.
    """
    if not isinstance(data, dict) or set(data) != {"units"} or not isinstance(data["units"], list):
        raise ValidationError('expected {"units": [{"gtin": ..., "serial": ...}]}', field="body")
    if len(data["units"]) > MAX_UNITS:
        raise ValidationError(f"at most {MAX_UNITS} units per request", field="units")
    out = []
    for i, item in enumerate(data["units"]):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("gtin", "serial")
        ):
            raise ValidationError("expected {gtin, serial}", field=f"units[{i}]")
        unit = gs1.UnitId(gtin=gs1.normalize_gtin(item["gtin"]), serial=item["serial"])
        out.append((unit.gtin, unit.serial))
    return out
