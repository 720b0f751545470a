"""One unit, ``/v1/units/{gtin}/{serial}...``: its view (JSON), its offline proof, and
its claim.

- ``GET /v1/units/{gtin}/{serial}``: the unit view (docs/API.md) with its ETag;
- ``GET /v1/units/{gtin}/{serial}/proof``: the unit's chain as a C2SP tlog-proof style
  text file (ledger.verify.unitproof);
- ``POST /v1/units/{gtin}/{serial}/claim``: JSON ``{"code": ...}`` answers JSON with the
  one-time transfer code and owner token; the page's form answers an HTML page showing
  the transfer code and sets the owner cookie.

The GS1 Digital Link resolver (``/01/...``) that shows the same view as the consumer page
is `api.routers.resolver`. The routes are declared proof and claim first: the unit view's
``{serial:path}`` would match their paths too.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.bodylimit import CLAIM_BODY
from api.callers import daily_client, is_form
from api.consumer.claim_page import render_claim_retry
from api.consumer.page import reason_words
from api.consumer.page_signals import localise, render_notice, words
from api.context import ctx, is_https, owner_cookie
from api.csrf import FIELD, guard
from api.forms import read_form
from api.jsonbody import json_body, require_json
from api.params import Gtin, Serial, Signature
from api.schemas import NOT_MODIFIED, ClaimReceipt, UnitView, problems
from api.schemas_forms import CLAIM_REQUEST, also_html
from api.schemas_more import CONSUME_BODY, ConsumeReceipt
from api.views import cached_view
from ledger import codec, gs1
from ledger.errors import LedgerError, ValidationError

# Tags per route, not per router: the claim is documented with the signals.
router = APIRouter()

_OWNER_COOKIE_AGE = 10 * 365 * 24 * 3600
_PROOF_MEDIA_TYPE = "text/plain; charset=utf-8"
_ProofGtin = Annotated[
    str, Path(description="GTIN (AI 01) with its check digit", examples=["09506000134352"])
]
_ProofSerial = Annotated[str, Path(description="the serial number (AI 21)", examples=["SN-0001"])]


@router.get(
    "/v1/units/{gtin}/{serial:path}/proof",
    tags=["units"],
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
async def get_unit_proof(request: Request, gtin: _ProofGtin, serial: _ProofSerial) -> Response:
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
    return PlainTextResponse(text, media_type=_PROOF_MEDIA_TYPE, headers=headers)


async def _form_or_json(
    request: Request, unit: gs1.UnitId, field: str | None
) -> tuple[str | None, str, dict[str, Any]]:
    """Read a unit action's input: the page's form (its Origin and CSRF token checked
    before anything is counted; ``field`` from it, if named, and its ``lang``), or a
    JSON body ``{field: "..."}`` (``application/json``, else 415); then the rate limit.
    Returns (the field's value, the page language, the JSON body: empty for a form).

    Raises:
        CsrfError: a forged form. ValidationError: a JSON body without ``field``.
    """
    context, csrf = ctx(request), guard(request)
    if is_form(request):
        csrf.check_origin(request)  # before the body is read
        names = ("lang", FIELD, *((field,) if field else ()))
        async with read_form(
            request, max_files=0, max_fields=len(names) + 1, max_part_size=1024
        ) as fields:
            values = {k: fields.get(k) for k in names}
        csrf.check_token(request, values[FIELD], unit.gtin, unit.serial)
        await context.limit(request)
        given = str(values[field] or "") if field else None
        return given, str(values["lang"] or "en"), {}
    require_json(request)
    await context.limit(request)
    body = codec.parse(await json_body(request, CLAIM_BODY))
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object", field=field)
    if field is None:
        return None, "en", body
    if not isinstance(body.get(field), str):
        raise ValidationError(f'expected {{"{field}": "..."}}', field=field)
    return body[field], "en", body


@router.post(
    "/v1/units/{gtin}/{serial}/claim",
    tags=["signals"],
    summary="Claim a unit with its claim code, or a resale with the owner's transfer code",
    status_code=201,
    response_model=ClaimReceipt,
    responses=also_html({201: {}, **problems(400, 403, 404, 409, 413, 415, 422, 423, 429)}),
    openapi_extra=CLAIM_REQUEST,
)
async def claim(request: Request, gtin: str, serial: str) -> Response:
    """Check the code against the unit's commitment and append the claim (docs/API.md).

    The page's form passes the CSRF checks (api/csrf.py) before the rate limit or the
    lockout counts it; a JSON claim must say ``application/json`` (else 415)."""
    context = ctx(request)
    form, csrf = is_form(request), guard(request)
    unit = gs1.UnitId(gtin=gs1.normalize_gtin(gtin), serial=serial)
    given, lang, body = await _form_or_json(request, unit, "code")
    code = given or ""
    owner = body.get("owner")  # the hash of a token the client made (docs/API.md)
    ledger = context.ledger_for_unit(unit.gtin)
    call = functools.partial(
        ledger.claims.claim,
        unit.gtin,
        unit.serial,
        code,
        client=daily_client(context, request),
        owner=owner,
    )
    back = unit.path()
    if not form:
        result = await run_in_threadpool(call)
        return JSONResponse(
            result.to_dict(), status_code=201, headers={"Cache-Control": "no-store"}
        )
    try:
        result = await run_in_threadpool(call)
    except LedgerError as e:  # the claim page again, in words, with the typed code kept
        policy = ledger.claims.policy
        html = render_claim_retry(
            e,
            lang,
            path=back,
            action=str(request.url.path),
            serial=unit.serial,
            typed=code,
            csrf_token=csrf.token(csrf.nonce(request)[0], unit.gtin, unit.serial),
            limit=(policy.max_failures, policy.lockout),
        )
        headers = {"Cache-Control": "no-store"}
        if getattr(e, "retry_after", None) is not None:
            headers["Retry-After"] = str(e.retry_after)  # type: ignore[attr-defined]
        return HTMLResponse(html, status_code=e.status, headers=headers)
    html = render_notice(
        lang,
        "claim.done.title",
        [words(lang, "claim.done.transfer"), words(lang, "cp.done.kept")],
        secret=result.transfer_code,
        back=back,
    )
    response = HTMLResponse(html, status_code=201, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        owner_cookie(unit.gtin, unit.serial),
        result.owner_token,
        max_age=_OWNER_COOKIE_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


@router.post(
    "/v1/units/{gtin}/{serial}/consume",
    tags=["signals"],
    summary="The owner marks its claimed unit used up",
    status_code=201,
    response_model=ConsumeReceipt,
    responses={
        201: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problems(400, 403, 404, 409, 413, 415, 422, 429),
    },
    openapi_extra=CONSUME_BODY,
)
async def consume(request: Request, gtin: str, serial: str) -> Response:
    """Append a ``consume`` entry revealing the owner's token (docs/API.md): the page's
    form sends it in the owner's cookie (with the CSRF checks), a JSON client as
    ``{"owner_token": "..."}``. The rules refuse any token but the current owner's."""
    context = ctx(request)
    form = is_form(request)
    unit = gs1.UnitId(gtin=gs1.normalize_gtin(gtin), serial=serial)
    # the page's form sends the owner's cookie; a JSON client the token itself
    given, lang, _ = await _form_or_json(request, unit, None if form else "owner_token")
    cookie = request.cookies.get(owner_cookie(unit.gtin, unit.serial))
    token = (cookie if form else given) or ""
    ledger = context.ledger_for_unit(unit.gtin)
    call = functools.partial(ledger.claims.consume, unit.gtin, unit.serial, token)
    back = unit.path()
    if form and not token:  # no owner cookie in this browser: not the owner here
        html = render_notice(
            lang, "consume.refused", [words(lang, "consume.not-owner")], tone="caution", back=back
        )
        return HTMLResponse(html, status_code=403, headers={"Cache-Control": "no-store"})
    if not form:
        index, checkpoint = await run_in_threadpool(call)
        body = {"index": index, "checkpoint": checkpoint}
        return JSONResponse(body, status_code=201, headers={"Cache-Control": "no-store"})
    try:
        await run_in_threadpool(call)
    except LedgerError as e:
        key = e.code if e.code in ("not-owner", "consumed") else "other"
        html = render_notice(
            lang, "consume.refused", [words(lang, f"consume.{key}")], tone="caution", back=back
        )
        return HTMLResponse(html, status_code=e.status, headers={"Cache-Control": "no-store"})
    html = render_notice(lang, "consume.done", [words(lang, "consume.done.why")], back=back)
    return HTMLResponse(html, status_code=201, headers={"Cache-Control": "no-store"})


def _etag(view: dict[str, Any]) -> str:
    """Changes when the unit's chain, the checkpoint, the scans or the label state do."""
    entries = view["entries"]
    parts = [
        view["verdict"],
        entries[-1]["leaf_hash"] if entries else "-",
        view["checkpoint"] or "-",
        str(view["scans"]["count"]),
        (view["unit"] or {}).get("label", "-"),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@router.get(
    "/v1/units/{gtin}/{serial:path}",
    tags=["units"],
    summary="The unit view: verdict, reasons, entries with proofs, checkpoint",
    response_model=UnitView,
    responses={**NOT_MODIFIED, **problems(404, 422, 429, 503)},
)
async def get_unit(
    request: Request,
    gtin: Gtin,
    serial: Serial,
    s: Signature = None,
) -> Response:
    """The unit view (docs/API.md); its ETag changes when the chain or checkpoint does."""
    context = ctx(request)
    await context.limit(request)
    unit = _unit_id(gtin, serial)
    ledger = context.ledger_for_unit(unit.gtin, request)
    view = await run_in_threadpool(ledger.unit_view, unit.gtin, unit.serial, s)
    view = localise(view, reason_words)
    return await cached_view(request, dict(view), _etag(view), "public, no-cache")


def _unit_id(gtin: str, serial: str) -> gs1.UnitId:
    return gs1.UnitId(gtin=gs1.normalize_gtin(gtin), serial=serial)
