"""The console's settings page and the partner revoke (docs/CONSOLE.md):

- ``GET /console/settings``: the brand's webhooks, their delivery log, the console
  key's scope and the brand monitor's findings (brand admins);
- ``POST /console/settings/webhooks``: add a webhook (``kind``, ``url``, ``secret``);
  a generic webhook's secret is shown on the answer once, never again;
- ``POST /console/settings/webhooks/{id}/delete``;
- ``POST /console/partners/revoke``: end a partner's authorization (``authorization``,
  ``reason``), signed by the brand's console key, which the rules let revoke and never
  grant.

Every form carries the session's CSRF token (api.console.routes `_post`); a refusal is
a page with the error's status and nothing changed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console import session
from api.console.routes import _done, _done_redirect, _page, _post, render
from ledger.service.console_auth import Staff
from ledger.service.console_monitor import ConsoleMonitor
from ledger.service.webhooks import WebhookService

router = APIRouter(prefix="/console", include_in_schema=False)


def _hooks(request: Request) -> WebhookService:
    found: WebhookService = request.app.state.webhooks
    return found


def _monitor(request: Request) -> ConsoleMonitor:
    """The app's console monitor (it keeps each brand's watch)."""
    found: ConsoleMonitor = request.app.state.console_monitor
    return found


def _settings_values(request: Request, staff: Staff) -> dict[str, Any]:
    hooks = _hooks(request)
    console = session.service(request)
    return {
        "hooks": hooks.hooks(staff),
        "deliveries": hooks.deliveries(staff),
        "monitor": _monitor(request).findings(staff.org),
        "keys": console.keys.key_scopes(staff.org),
        "recoveries": console.keys.key_recoveries(staff.org),
        "allowed": [str(n) for n in hooks.policy.allowed],
        "kinds": ("generic", "wecom", "dingtalk", "feishu"),
    }


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    """Webhooks, their deliveries, the console key and the monitor's findings."""

    async def page(request: Request, staff: Staff) -> Response:
        values = _settings_values(request, staff)
        return render(
            request,
            "settings.html",
            staff,
            new_secret=None,
            new_id=None,
            done=_done(request),
            **values,
        )

    return await _page(request, page)


@router.post("/settings/webhooks")
async def add_webhook(request: Request) -> Response:
    """Add a webhook; the answer shows a generic webhook's new secret once."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        hook_id, secret = _hooks(request).add(
            staff, form.get("kind", ""), form.get("url", ""), form.get("secret") or None
        )
        values = _settings_values(request, staff)
        return render(
            request, "settings.html", staff, 201, new_secret=secret, new_id=hook_id, done=None,
            **values,
        )  # fmt: skip

    return await _post(request, act)


@router.post("/settings/webhooks/{hook_id}/delete")
async def delete_webhook(request: Request, hook_id: int) -> Response:
    """Delete a webhook (its pending deliveries are dropped)."""

    def act(staff: Staff, _form: dict[str, str]) -> Response:
        _hooks(request).delete(staff, hook_id)
        return _done_redirect("/console/settings", "webhook_deleted", hook_id)

    return await _post(request, act)


@router.post("/partners/revoke")
async def revoke_partner(request: Request) -> Response:
    """Revoke a partner's authorization, signed by the brand's console key."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        index = session.service(request).revoke_authorization(
            staff, form.get("authorization", "").strip(), form.get("reason") or None
        )
        return _done_redirect("/console/partners", "revoke", index)

    return await _post(request, act)
