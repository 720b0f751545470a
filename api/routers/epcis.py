"""EPCIS 2.0: capture of partners' signed documents, and units as EPCISDocuments.

`POST /v1/epcis/capture` takes a signed capture envelope (docs/EPCIS.md) and appends
its custody entries atomically, or answers one problem ``epcis-refused`` listing a
reason per EPCIS event. The resolver (api.routers.resolver) hands a request asking for
``application/ld+json`` to `unit_document`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import ctx
from api.jsonbody import json_body
from api.quota import write_quota
from api.routers.entries import _receipt
from api.schemas import Receipt, problems
from ledger import codec, gs1
from ledger.entry import SignedEvent
from ledger.epcis.capture import convert_envelope, parse_envelope
from ledger.errors import LedgerError
from ledger.service.epcis import capture

router = APIRouter(tags=["epcis"])

LD_JSON = "application/ld+json"

_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["format", "actor", "key", "document", "signatures"],
    "additionalProperties": False,
    "properties": {
        "format": {"type": "string", "enum": ["provenance-ledger/epcis-capture/v1"]},
        "actor": {"type": "string", "examples": ["ship-co"]},
        "key": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"},
        "document": {
            "type": "object",
            "description": "an EPCIS 2.0 EPCISDocument of ObjectEvents",
            "required": ["type", "epcisBody"],
        },
        "signatures": {
            "type": "array",
            "description": "per EPCIS event, one {prev, sig} per EPC in epcList order",
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["prev", "sig"],
                    "additionalProperties": False,
                    "properties": {
                        "prev": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
                        "sig": {"type": "string", "pattern": "^[A-Za-z0-9_-]{86}$"},
                    },
                },
            },
        },
    },
}


@router.post(
    "/v1/epcis/capture",
    summary="Append the custody events of a partner's signed EPCIS 2.0 document",
    response_model=Receipt,
    status_code=201,
    responses={
        200: {"model": Receipt, "description": "every event already in the log"},
        **problems(400, 403, 409, 413, 415, 422, 429, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ENVELOPE}},
        }
    },
)
async def capture_epcis(request: Request) -> Response:
    """Convert, verify and append atomically; a refusal lists a reason per EPCIS event.

    The partner pays each converted ledger event from its write quota (api.quota) before
    anything is appended: 429 ``write-quota`` when spent, nothing written.
    """
    context = ctx(request)
    body = await json_body(request, context.settings.max_batch_bytes)
    data = codec.parse(body)
    route = partial(context.ledger_for_events, request)  # the units' log
    admission = None
    signed = await run_in_threadpool(_converted, data)
    if signed:
        admission = await write_quota(request).admit(route(signed), signed)
    try:
        receipt = await run_in_threadpool(capture, lambda signed: route(signed).epcis, data)
    except Exception:
        if admission is not None:
            await admission.refund()  # refused: nothing written, nothing spent
        raise
    if admission is not None:
        await admission.settle()
    return _receipt(context, receipt)


def _converted(data: object) -> list[SignedEvent]:
    """The ledger events of a capture envelope that converts cleanly, else none: a
    malformed or partly unconvertible envelope is refused by `capture` itself, with
    every reason, and charges nobody."""
    try:
        converted, refusals = convert_envelope(parse_envelope(data))
    except LedgerError:
        return []
    return [] if refusals else [c.signed for c in converted]


async def unit_document(request: Request, link: gs1.DigitalLink) -> Response:
    """The unit's chain as an EPCISDocument (JSON-LD); not counted as a consumer scan."""
    unit = link.unit_id()
    ledger = ctx(request).ledger_for_unit(unit.gtin)
    document = await run_in_threadpool(ledger.epcis.export_unit, unit.gtin, unit.serial)
    headers = {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}
    return JSONResponse(document, media_type=LD_JSON, headers=headers)
