"""The console's pages (docs/CONSOLE.md): sign-in, overview, alerts, a report, unit
search, one unit; the triage, flag and recall forms; the alerts CSV.

A page asked for without a session redirects to ``/console/login``; a refusal
(another brand's data, a role that may not, a form without its CSRF token, input the
service refuses) is a page in the staff's language with the error's HTTP status, and
nothing is changed. Every form posts back with a ``csrf_token`` (api.console.session).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console import session
from api.console.csvfile import csv_response
from api.console.environment import environment, policy
from api.console.i18n import ZH, choose_language, words
from api.consumer.i18n import text as verdict_text
from api.context import client_address
from api.problems import RateLimitedError
from api.ratelimit import Limiter
from ledger import gs1
from ledger.errors import LedgerError
from ledger.service.console_auth import AccountLockedError, LoginError, Staff

router = APIRouter(prefix="/console", include_in_schema=False)
_FIELD_LIMIT = 4000  # characters of one form field read; more is cut
#: sign-in attempts per client address: this many at once, then this many a second
LOGIN_BURST, LOGIN_RATE = 10, 1.0


def _lang(request: Request) -> str:
    return choose_language(request.headers.get("accept-language"), request.query_params.get("lang"))


def render(
    request: Request,
    template: str,
    staff: Staff | None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render a console page in the request's language with its CSRF token and CSP."""
    lang = _lang(request)
    token, nonce = session.csrf_token(request, staff)
    html = (
        environment()
        .get_template(template)
        .render(
            t=words(lang),
            lang=lang,
            other="en" if lang == ZH else "zh-CN",
            staff=staff,
            csrf=token,
            path=request.url.path,
            **values,
        )
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Security-Policy"] = policy()
    response.headers["Cache-Control"] = "no-store"
    session.give_nonce(request, response, nonce)
    return response


def _refused(request: Request, staff: Staff | None, error: LedgerError) -> HTMLResponse:
    page = render(request, "message.html", staff, error.status, message=str(error), error=error)
    retry = getattr(error, "retry_after", None)
    if isinstance(retry, int):
        page.headers["Retry-After"] = str(retry)
    return page


def _to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


Page = Callable[[Request, Staff], Awaitable[Response]]


async def _page(request: Request, page: Page) -> Response:
    """Serve ``page`` to a signed-in staff member; others go to the login page."""
    staff = session.current_staff(request)
    if staff is None:
        return _to_login()
    try:
        return await page(request, staff)
    except LedgerError as error:
        return _refused(request, staff, error)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    try:
        return {k: str(v)[:_FIELD_LIMIT] for k, v in form.items() if isinstance(v, str)}
    finally:  # a file posted to a text form is dropped, its spooled copy closed now
        await form.close()


async def _post(request: Request, act: Callable[[Staff, dict[str, str]], Response]) -> Response:
    """Check the session and the form's CSRF token, then ``act`` in the thread pool (it
    writes to the database, signs, or resolves a webhook's host: never on the event loop,
    which serves every scan); a refusal is a page."""
    staff = session.current_staff(request)
    if staff is None:
        return _to_login()
    try:
        form = await _form(request)
        session.check_form(request, form.get(session.FIELD), staff)
        return await run_in_threadpool(act, staff, form)
    except LedgerError as error:
        return _refused(request, staff, error)


def _back(form: dict[str, str], default: str) -> RedirectResponse:
    back = form.get("back", "")
    target = (
        back if back.startswith("/console/") and "//" not in back and "\\" not in back else default
    )
    return RedirectResponse(target, status_code=303)


# --- signing in -------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request) -> Response:
    """The sign-in form (``username``, ``password``, ``csrf_token``)."""
    return render(request, "login.html", None, message=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the form and the password; start a session and go to the overview."""
    try:
        await _login_budget(request)
        form = await _form(request)
        session.check_form(request, form.get(session.FIELD), None)
        console = session.service(request)
        staff, token = console.staff.login(form.get("username", ""), form.get("password", ""))
    except LoginError as error:
        return render(request, "login.html", None, error.status, message="login.failed")
    except AccountLockedError as error:
        page = render(request, "login.html", None, error.status, message="login.locked")
        page.headers["Retry-After"] = str(error.retry_after)
        return page
    except LedgerError as error:
        return _refused(request, None, error)
    response = RedirectResponse("/console/", status_code=303)
    session.start_session(request, response, token)
    del staff
    return response


async def _login_budget(request: Request) -> None:
    """Take one sign-in attempt from the client address's bucket (`LOGIN_BURST` at
    once, then `LOGIN_RATE` a second), before any password is hashed.

    Raises:
        RateLimitedError: the client is over it (429, Retry-After).
    """
    limiter: Limiter = request.app.state.console_logins
    wait = await limiter.acquire(f"console-login:{client_address(request)}")
    if wait is not None:
        raise RateLimitedError(f"too many sign-in attempts; retry in {wait} s", wait)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session."""

    def act(staff: Staff, _form: dict[str, str]) -> Response:
        session.service(request).staff.logout(staff)
        response = _to_login()
        session.end_session(request, response)
        return response

    return await _post(request, act)


# --- pages ------------------------------------------------------------------------------


@router.get("/")
async def overview(request: Request) -> Response:
    """Open alerts and reports, scans today, units minted, response time."""

    async def page(request: Request, staff: Staff) -> Response:
        console = session.service(request)
        return render(request, "overview.html", staff, figures=console.overview(staff))

    return await _page(request, page)


@router.get("/alerts")
async def alerts(request: Request) -> Response:
    """Every clone signal and report of the staff's brands, filtered by ``status``."""

    async def page(request: Request, staff: Staff) -> Response:
        wanted = request.query_params.get("status") or None
        found = session.service(request).alerts(staff, status=wanted)
        return render(request, "alerts.html", staff, alerts=found, wanted=wanted)

    return await _page(request, page)


@router.post("/alerts/action")
async def alert_action(request: Request) -> Response:
    """Acknowledge, assign, note, close or confirm one alert."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        session.service(request).triage(
            staff,
            form.get("alert", ""),
            form.get("action", ""),
            assignee=form.get("assignee") or None,
            note=form.get("note") or None,
        )
        return _back(form, "/console/alerts")

    return await _post(request, act)


@router.get("/reports/{report_id}")
async def report(request: Request, report_id: int) -> Response:
    """A report: the buyer's text, the photo, its triage and actions."""

    async def page(request: Request, staff: Staff) -> Response:
        found = session.service(request).report(staff, report_id)
        return render(request, "report.html", staff, alert=found, report=found["report"])

    return await _page(request, page)


@router.get("/reports/{report_id}/photo")
async def report_photo(request: Request, report_id: int) -> Response:
    """A report's photo (re-encoded on intake, never sniffed)."""

    async def page(request: Request, staff: Staff) -> Response:
        data, media = session.service(request).report_photo(staff, report_id)
        return Response(data, media_type=media, headers={"Cache-Control": "private, no-store"})

    return await _page(request, page)


@router.get("/units")
async def units(request: Request) -> Response:
    """Search the staff's units by serial, GTIN, lot or label URL (``q``)."""

    async def page(request: Request, staff: Staff) -> Response:
        query = (request.query_params.get("q") or "")[:300]
        found = session.service(request).search_units(staff, query) if query else []
        return render(request, "units.html", staff, q=query, units=found, done=_done(request))

    return await _page(request, page)


@router.get("/units/{gtin}/{serial}")
async def unit(request: Request, gtin: str, serial: str) -> Response:
    """One unit: its verdict, chain, scans and alerts; flag and recall."""

    async def page(request: Request, staff: Staff) -> Response:
        console = session.service(request)
        view = console.unit(staff, gtin, serial)
        console_key = console.keys.key_id(view["record"].brand)
        verdict = verdict_text(_lang(request), f"{view['verdict']}.title")  # the shopper's words
        return render(
            request,
            "unit.html",
            staff,
            view=view,
            verdict=verdict,
            console_key=console_key,
            done=_done(request),
        )

    return await _page(request, page)


@router.post("/units/{gtin}/{serial}/flag")
async def flag(request: Request, gtin: str, serial: str) -> Response:
    """Flag the unit, signed by the brand's console key."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        index = session.service(request).flag_unit(staff, gtin, serial, form.get("note") or None)
        return _done_redirect(_unit_path(gtin, serial), "flag", index)

    return await _post(request, act)


@router.post("/units/{gtin}/{serial}/recall")
async def recall(request: Request, gtin: str, serial: str) -> Response:
    """Recall the unit, signed by the brand's console key."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        index = session.service(request).recall_unit(staff, gtin, serial, form.get("reason", ""))
        return _done_redirect(_unit_path(gtin, serial), "recall", index)

    return await _post(request, act)


@router.post("/recall-lot")
async def recall_lot(request: Request) -> Response:
    """Recall every unit of a lot, signed by the brand's console key, in one batch."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        gtin, lot = form.get("gtin", "").strip(), form.get("lot", "").strip()
        done = session.service(request).recall_lot(staff, gtin, lot, form.get("reason", ""))
        return _done_redirect(f"/console/units?q={quote(lot)}", "recall_lot", len(done))

    return await _post(request, act)


@router.get("/partners")
async def partners(request: Request) -> Response:
    """The brand's partner authorizations with their windows and state."""

    async def page(request: Request, staff: Staff) -> Response:
        found = session.service(request).partners(staff)
        return render(request, "partners.html", staff, partners=found, done=_done(request))

    return await _page(request, page)


@router.get("/audit")
async def audit(request: Request) -> Response:
    """The organisation's audit trail of staff actions (admins)."""

    async def page(request: Request, staff: Staff) -> Response:
        found = session.service(request).audit_trail(staff)
        return render(request, "audit.html", staff, rows=found)

    return await _page(request, page)


@router.get("/export/alerts.csv")
async def export_alerts(request: Request) -> Response:
    """The alerts as CSV, UTF-8 with a byte-order mark (Excel then reads Chinese)."""

    async def page(request: Request, staff: Staff) -> Response:
        header = ["id", "kind", "code", "brand", "gtin", "serial", "status", "assignee",
                  "raised", "first_response", "note"]  # fmt: skip
        rows = [
            (a["id"], a["source"], a["code"], a["brand"], (a["unit"] or {}).get("gtin", ""),
             (a["unit"] or {}).get("serial", ""), a["status"], a["assignee"] or "",
             a["created_at"], a["first_action_at"] or "", a["note"] or "")
            for a in session.service(request).alerts(staff)
        ]  # fmt: skip
        return csv_response("alerts.csv", header, rows)

    return await _page(request, page)


def _unit_path(gtin: str, serial: str) -> str:
    unit = gs1.UnitId(gtin=gtin, serial=serial)
    return f"/console/units/{unit.gtin}/{quote(unit.serial, safe='')}"


def _done_redirect(path: str, what: str, n: int) -> RedirectResponse:
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}done={what}&n={n}", status_code=303)


def _done(request: Request) -> tuple[str, int] | None:
    what, n = request.query_params.get("done"), request.query_params.get("n", "")
    if (
        what in ("flag", "recall", "recall_lot", "revoke", "webhook_deleted")
        and n.isdigit()
        and len(n) < 19
    ):
        return f"done.{what}", int(n)
    return None
