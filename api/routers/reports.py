"""Consumer reports, and the brand's answers to them.

- ``POST /v1/reports``: JSON (photo as base64url) or the page's multipart form.
- ``POST /v1/reports/{id}/resolve``, ``GET /v1/reports/{id}/photo``: signed requests
  (ledger.reqsig) by the brand or an operator only.

Claims live with their unit (`api.routers.units`), the brand's alerts with the brand
(`api.routers.brands`).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.bodylimit import REPORT_BODY
from api.callers import daily_client, is_form, report_network, request_signer
from api.consumer.page_signals import render_notice, words
from api.context import Context, ctx
from api.csrf import FIELD, guard
from api.forms import read_form
from api.jsonbody import json_body, require_json
from api.problems import PayloadTooLargeError
from api.quota import write_quota
from api.schemas import Report, ReportFiled, problems
from api.schemas_forms import REPORT_REQUEST, also_html
from api.schemas_more import RESOLVE_BODY
from ledger import codec, entry, gs1
from ledger.errors import LedgerError, ValidationError
from ledger.service.ledger import Ledger
from ledger.service.reports import MAX_PHOTO, MAX_TEXT

router = APIRouter(tags=["signals"])

_SUFFIX = {"image/jpeg": "jpg", "image/png": "png"}  # the only types a photo is served as
_Id = Annotated[int, Path(ge=1, le=2**63 - 1, description="the report's id")]


@router.post(
    "/v1/reports",
    summary="Report a problem with a unit (JSON, or the page's form with a photo)",
    status_code=201,
    response_model=ReportFiled,
    responses=also_html({201: {}, **problems(400, 403, 413, 415, 422, 429)}),
    openapi_extra=REPORT_REQUEST,
)
async def report(request: Request) -> Response:
    """File a consumer report, stored outside the log (docs/API.md).

    The body is bounded while it streams (api/bodylimit.py). The page's form passes the
    CSRF checks (api/csrf.py) before the rate limit, the quota or the report itself see
    it; JSON must say ``application/json`` (else 415)."""
    context = ctx(request)
    form = is_form(request)
    if form:
        csrf = guard(request)
        csrf.check_origin(request)  # before the body is read
        values = await _form_values(request)
        csrf.check_token(request, values[FIELD], str(values["gtin"]), str(values["serial"]))
        await context.limit(request)
        fields = _form_fields(values)
    else:
        require_json(request)
        await context.limit(request)
        fields = await _json_fields(request)
    unit = gs1.UnitId(gtin=gs1.normalize_gtin(fields["gtin"]), serial=fields["serial"])
    ledger = context.ledger_for_unit(unit.gtin)
    call = functools.partial(
        ledger.reports.report,
        unit.gtin,
        unit.serial,
        fields["reason"],
        text=fields["text"],
        photo=fields["photo"],
        where=fields["where"],
        client=daily_client(context, request),
        network=report_network(request, unit.gtin, unit.serial),
    )
    if not form:
        return JSONResponse(await run_in_threadpool(call), status_code=201)
    lang = fields["lang"]
    try:
        done = await run_in_threadpool(call)
    except LedgerError as e:
        html = render_notice(lang, "error.title", [e.message], tone="unknown", back=unit.path())
        answer = HTMLResponse(html, status_code=e.status)
        retry_after = getattr(e, "retry_after", None)  # a spent report quota says when
        if retry_after is not None:
            answer.headers["Retry-After"] = str(retry_after)
        return answer
    lines = [words(lang, "report.done.text", id=done["id"])]
    return HTMLResponse(
        render_notice(lang, "report.done.title", lines, back=unit.path()), status_code=201
    )


async def _json_fields(request: Request) -> dict[str, Any]:
    body = codec.parse(await json_body(request, REPORT_BODY))
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object", field="body")
    photo = body.get("photo")
    return {
        "gtin": _str(body, "gtin"),
        "serial": _str(body, "serial"),
        "reason": _str(body, "reason"),
        "text": _str(body, "text", optional=True),
        "where": _str(body, "where", optional=True),
        "photo": None if photo is None else codec.b64url_decode(_str(body, "photo"), field="photo"),
        "lang": "en",
    }


async def _form_values(request: Request) -> dict[str, Any]:
    """The page form's raw values (each a string, an upload's bytes, or None), checked
    for nothing yet: the CSRF token is checked before anything else is."""
    # Closed on the way out: an upload left open lingers as a spooled temporary file.
    async with read_form(request, max_files=1, max_fields=10, max_part_size=4 * MAX_TEXT) as fields:
        upload = fields.get("photo")
        photo = None
        if upload is not None and not isinstance(upload, str):
            photo = await upload.read(MAX_PHOTO + 1) or None
        names = ("gtin", "serial", "reason", "text", "where", "lang", FIELD)
        values: dict[str, Any] = {k: fields.get(k) for k in names}
    return {**values, "photo": photo}


def _form_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The report's fields from the page form's values.

    Raises:
        ValidationError: a field is missing or not text.
        PayloadTooLargeError: the photo is over `MAX_PHOTO`.
    """
    photo = values["photo"]
    if photo is not None and len(photo) > MAX_PHOTO:
        raise PayloadTooLargeError(f"the photo is over {MAX_PHOTO} bytes")
    return {
        "gtin": _str(values, "gtin"),
        "serial": _str(values, "serial"),
        "reason": _str(values, "reason"),
        "text": _str(values, "text", optional=True),
        "where": _str(values, "where", optional=True),
        "photo": photo,
        "lang": _str(values, "lang", optional=True) or "en",
    }


def _str(body: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValidationError("expected a string", field=name)
    return value


# --- the brand's side: signed requests ------------------------------------------------


async def _ledger_of_report(context: Context, report_id: int) -> Ledger:
    """The log holding the report (reports live in their unit's log); the default log
    when none does (its answer is then 404)."""
    for ledger in context.deployment.ledgers.values():
        if await run_in_threadpool(ledger.reports.has_report, report_id):
            return ledger
    return context.deployment.default


@router.post(
    "/v1/reports/{report_id}/resolve",
    summary="Answer a report: ack, close, or flag the unit with a signed flag (signed)",
    response_model=Report,
    responses=problems(400, 401, 403, 404, 409, 413, 415, 422, 429),
    openapi_extra=RESOLVE_BODY,
)
async def resolve(request: Request, report_id: _Id) -> Response:
    """``{"action": "ack"|"close"|"flag", "note"?: text, "flag"?: signed flag event}``."""
    context = ctx(request)
    await context.limit(request)
    raw = await json_body(request, context.settings.max_event_bytes)
    body = codec.parse(raw)
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        raise ValidationError('expected {"action": ...}', field="action")
    flag = entry.SignedEvent.from_dict(body["flag"]) if body.get("flag") is not None else None
    ledger = (
        context.deployment.default if flag is None else context.ledger_for_events(request, [flag])
    )
    signer = await request_signer(request, ledger, raw)
    # a flag is a signed event appended to the log: it spends its signer's write quota
    admission = await write_quota(request).admit(ledger, [flag] if flag is not None else [])
    note = body.get("note") if isinstance(body.get("note"), str) else None
    call = functools.partial(
        ledger.reports.resolve_report,
        report_id,
        by=signer,
        action=body["action"],
        note=note,
        flag=flag,
    )
    try:
        answer = await run_in_threadpool(call)
    except Exception:
        await admission.refund()  # refused: nothing written, nothing spent
        raise
    await admission.settle()
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/reports/{report_id}/photo",
    summary="A report's photo (signed)",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}},
            "description": "the photo, re-encoded without metadata when it was filed",
        },
        **problems(401, 403, 404, 422, 429),
    },
)
async def photo(request: Request, report_id: _Id) -> Response:
    """The photo attached to a report, for its brand or an operator."""
    context = ctx(request)
    await context.limit(request)
    ledger = await _ledger_of_report(context, report_id)
    signer = await request_signer(request, ledger)
    data, media = await run_in_threadpool(ledger.reports.report_photo, report_id, signer)
    # re-encoded on intake (image/jpeg or image/png only); never sniffed as anything else
    headers = {
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="report-{report_id}.{_SUFFIX[media]}"',
    }
    return Response(data, media_type=media, headers=headers)
