"""Who sent a request and in what shape, for the routers that take the page's forms and
signed requests (units' claim, reports, brands).

- `is_form`: the body is one of the page's HTML forms, not JSON;
- `daily_client`: the requester's client hash of the day (claims count wrong codes per
  client by it, reports attribute themselves by it);
- `report_network`: the requester's network as a per-unit pseudonym (independent
  reporters are counted by it);
- `request_signer`: the actor whose key signed the request (``ledger.reqsig``).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.context import Context, client_address
from api.forwarded import network_pseudonym
from ledger.crypto import Signer, signer_secret
from ledger.service.ledger import Ledger

_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_form(request: Request) -> bool:
    """True when the body is an HTML form (urlencoded or multipart), whatever its charset."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in _FORM


def daily_client(context: Context, request: Request) -> str:
    """The requester's daily client hash (claims count wrong codes per client by it)."""
    return context.client_hash(client_address(request), datetime.now(UTC))


def report_network(request: Request, gtin: str, serial: str) -> str | None:
    """The requester's network (/24 IPv4, /48 IPv6, `api.forwarded.network_of`) as a
    per-unit pseudonym (`api.forwarded.network_pseudonym`), stable across days so that
    one network reporting on several days counts once (ledger.signals.reports); None
    when the log has no operator key to derive its key from.

    The key (`network_key`, derived once when the app is built, like the page's CSRF
    key) comes from the registry key: a daily salt would make a report of yesterday
    incomparable with one of today. So whoever holds the registry key and the database
    could learn a reporter's /24 (never its address) by trying every network:
    docs/SIGNALS.md says so."""
    key: bytes | None = request.app.state.network_key
    if key is None:
        return None
    return network_pseudonym(key, gtin, serial, client_address(request))


def network_key(signer: Signer | None) -> bytes | None:
    """The key of the report-network pseudonyms (None: no registry key, no pseudonyms)."""
    return None if signer is None else signer_secret(signer, "report network")


async def request_signer(request: Request, ledger: Ledger, body: bytes = b"") -> Any:
    """The actor whose current key signed this request (method, raw target with its
    query, and ``body``) in ``ledger``.

    Raises:
        AuthenticationError: no, a malformed, a stale or a bad signature; an unknown or
            retired key (401).
    """
    target = request.scope.get("raw_path", b"").decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    call = functools.partial(
        ledger.reports.authenticate,
        request.headers.get("authorization"),
        request.method,
        target + (f"?{query}" if query else ""),
        body,
    )
    return await run_in_threadpool(call)
