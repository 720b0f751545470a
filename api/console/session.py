"""The console's session cookie and the CSRF tokens of its forms.

The session cookie (``pl_console``; ``__Host-pl_console`` over https) is HttpOnly,
SameSite=Strict and, over https, Secure; the server keeps only its SHA-256
(ledger.service.console_auth). Every form carries a ``csrf_token`` issued by the app's
`api.csrf.CsrfGuard` (the signed double-submit token of the consumer forms), bound to
the session (or, on the login form, to the login) instead of a unit, and every post is
checked for its Origin first.
"""

from __future__ import annotations

from fastapi import Request, Response

from api.context import is_https
from api.csrf import guard
from ledger.service.console import ConsoleService
from ledger.service.console_auth import SESSION_TTL, Staff

FIELD = "csrf_token"
_COOKIE = "pl_console"
_SECURE_COOKIE = "__Host-pl_console"
_SCOPE = "console"  # in place of a unit's GTIN in the token's MAC
_LOGIN = "login"


def service(request: Request) -> ConsoleService:
    """The app's `ConsoleService`."""
    found: ConsoleService = request.app.state.console
    return found


def cookie_name(request: Request) -> str:
    """The session cookie's name for this connection."""
    return _SECURE_COOKIE if is_https(request) else _COOKIE


def current_staff(request: Request) -> Staff | None:
    """The staff member this request's session cookie signs in, or None."""
    token = request.cookies.get(cookie_name(request), "")
    return service(request).staff.staff(token) if token else None


def start_session(request: Request, response: Response, token: str) -> None:
    """Give the browser its session cookie."""
    response.set_cookie(
        cookie_name(request),
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def end_session(request: Request, response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(cookie_name(request), path="/")


def csrf_token(request: Request, staff: Staff | None) -> tuple[str, str | None]:
    """A token for this page's forms, and the browser's new csrf nonce to give it with
    `give_nonce` (None: it has one)."""
    nonce, new = guard(request).nonce(request)
    return guard(request).token(nonce, _SCOPE, _bind(staff)), nonce if new else None


def give_nonce(request: Request, response: Response, nonce: str | None) -> None:
    """Set the browser's csrf cookie when `csrf_token` made a new nonce."""
    if nonce is not None:
        guard(request).set_cookie(response, request, nonce)


def check_form(request: Request, token: object, staff: Staff | None) -> None:
    """Refuse a form not posted from this server's page in this browser and session.

    Raises:
        CsrfError: a foreign origin, a missing, forged or stale token.
    """
    csrf = guard(request)
    csrf.check_origin(request)
    csrf.check_token(request, token, _SCOPE, _bind(staff))


def _bind(staff: Staff | None) -> str:
    return staff.session[:32] if staff is not None else _LOGIN
