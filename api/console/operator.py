"""The operator's console pages (docs/CONSOLE.md, "The operator"), over
ledger.service.operator and ledger.service.loghealth:

- ``GET /console/operator/actors?q=``: the key recoveries still pending (actor, key,
  the ``key.recover``'s index, when it takes effect, and how the actor cancels it);
  every actor with its role, GS1 prefixes, registered index, keys, status (blacklisted:
  reason, ``since``) and licence document; the onboarding form, a blacklist form per
  actor;
- ``POST /console/operator/actors``: onboard (``multipart/form-data``: ``subject``,
  ``role``, ``name``, ``keys``, ``prefixes``, ``document``, ``checked``);
- ``GET|POST /console/operator/actors/{subject}/document``: the stored licence
  document, checked against the hash the log signed; attach one that matches it;
- ``POST /console/operator/blacklist``: ``subject``, ``reason``, ``since``;
- ``GET /console/operator/health``: each log's size, latest checkpoint and its age, the
  high-water mark, each witness's last cosigned size and time (lagging ones marked),
  the replicas and their lag.

Only the operator's staff see them (a brand's staff get 403 on every one); without a
session they redirect to the login page; every form carries its CSRF token, checked
(with the Origin) before anything in it is used.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.console import session
from api.console.routes import _page, _post, _refused, _to_login, render
from api.csrf import guard
from api.forms import read_form
from ledger.errors import LedgerError
from ledger.service.console_auth import Staff
from ledger.service.licences import MAX_DOCUMENT
from ledger.service.loghealth import deployment_health
from ledger.service.operator import ONBOARD_ROLES, OperatorService

router = APIRouter(prefix="/console/operator", include_in_schema=False)
#: a form field's most bytes (the keys field holds up to 8 keys of 43 characters)
_FIELD_BYTES = 4096
_DONE = ("onboard", "blacklist", "attach")


def operator(request: Request) -> OperatorService:
    """The app's `OperatorService`."""
    found: OperatorService = request.app.state.operator
    return found


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    """The operator's first page: the actors."""

    async def page(request: Request, staff: Staff) -> Response:
        operator(request).require(staff)
        return RedirectResponse("/console/operator/actors", status_code=303)

    return await _page(request, page)


@router.get("/actors")
async def actors(request: Request) -> Response:
    """The actor list, the onboarding form and the blacklist forms."""

    async def page(request: Request, staff: Staff) -> Response:
        query = (request.query_params.get("q") or "")[:64]
        found = operator(request).actors(staff, query)
        recoveries = operator(request).recoveries(staff)  # all of them, whatever ``q``
        done = _done(request)
        return render(
            request, "operator_actors.html", staff, actors=found, q=query, roles=ONBOARD_ROLES,
            done=done, max_mib=MAX_DOCUMENT // (1024 * 1024), recoveries=recoveries,
        )  # fmt: skip

    return await _page(request, page)


@router.post("/actors")
async def onboard(request: Request) -> Response:
    """Onboard an actor with its checked licence document."""
    staff = session.current_staff(request)
    if staff is None:
        return _to_login()
    try:
        fields, upload = await _multipart(request, staff)
        data, filename, declared = upload
        index = operator(request).onboard(
            staff,
            subject=fields.get("subject", ""),
            role=fields.get("role", ""),
            name=fields.get("name", ""),
            keys=fields.get("keys", ""),
            prefixes=fields.get("prefixes", ""),
            document=data,
            filename=filename,
            declared=declared,
            checked=fields.get("checked") == "yes",
        )
    except LedgerError as error:
        return _refused(request, staff, error)
    return _done_redirect("onboard", index)


@router.get("/actors/{subject}/document")
async def document(request: Request, subject: str) -> Response:
    """The actor's licence document as an attachment, only if its bytes still hash to
    the value its signed registration holds."""

    async def page(request: Request, staff: Staff) -> Response:
        data, media, name = operator(request).document(staff, subject)
        return Response(
            data,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    return await _page(request, page)


@router.post("/actors/{subject}/document")
async def attach(request: Request, subject: str) -> Response:
    """Store the licence document whose hash the actor's registration signed."""
    staff = session.current_staff(request)
    if staff is None:
        return _to_login()
    try:
        _fields, (data, filename, declared) = await _multipart(request, staff)
        operator(request).attach(staff, subject, data, filename, declared)
    except LedgerError as error:
        return _refused(request, staff, error)
    return _done_redirect("attach", 1)


@router.post("/blacklist")
async def blacklist(request: Request) -> Response:
    """Blacklist an actor (``actor.revoke`` with its reason and ``since``)."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        index = operator(request).blacklist(
            staff, form.get("subject", ""), form.get("reason", ""), form.get("since", "")
        )
        return _done_redirect("blacklist", index)

    return await _post(request, act)


@router.get("/health")
async def health(request: Request) -> Response:
    """Witnesses, checkpoints, the high-water mark and replicas of every log."""

    async def page(request: Request, staff: Staff) -> Response:
        service = operator(request)
        service.require(staff)
        ledgers = request.app.state.ctx.deployment.ledgers.values()
        logs = deployment_health(ledgers, service.now())
        return render(request, "operator_health.html", staff, logs=logs)

    return await _page(request, page)


async def _multipart(
    request: Request, staff: Staff
) -> tuple[dict[str, str], tuple[bytes, str, str]]:
    """The form's text fields and its ``document`` (bytes, file name, declared type),
    after its CSRF token and Origin are checked; nothing is used before that.

    Raises:
        MalformedFormError: not a well-formed form.
        CsrfError: a foreign origin, or a missing, forged or stale token.
        PayloadTooLargeError: the body is over api.bodylimit.DOCUMENT_BODY.
    """
    guard(request).check_origin(request)  # a foreign page's post: refused unread
    async with read_form(request, max_files=1, max_fields=12, max_part_size=_FIELD_BYTES) as form:
        session.check_form(request, form.get(session.FIELD), staff)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload: Any = form.get("document")
        if isinstance(upload, UploadFile):
            # one byte past the limit is enough to refuse it (licences.check)
            data = await upload.read(MAX_DOCUMENT + 1)
            return fields, (data, upload.filename or "", upload.content_type or "")
    return fields, (b"", "", "")


def _done_redirect(what: str, n: int) -> RedirectResponse:
    return RedirectResponse(f"/console/operator/actors?done={what}&n={n}", status_code=303)


def _done(request: Request) -> tuple[str, int] | None:
    what, n = request.query_params.get("done"), request.query_params.get("n", "")
    if what in _DONE and n.isdigit() and len(n) < 19:
        return f"operator.done.{what}", int(n)
    return None
