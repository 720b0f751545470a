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
import hashlib
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.context import Context, client_address
from api.forwarded import network_pseudonym
from ledger.service.ledger import Ledger

_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_form(request: Request) -> bool:
    """True when the body is an HTML form (urlencoded or multipart), whatever its charset."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in _FORM


def daily_client(context: Context, request: Request) -> str:
    """The requester's daily client hash (claims count wrong codes per client by it)."""
    return context.client_hash(client_address(request), datetime.now(UTC))


def report_network(context: Context, request: Request, gtin: str, serial: str) -> str | None:
    """The requester's network (/24 IPv4, /48 IPv6, `api.forwarded.network_of`) as a
    per-unit pseudonym (`api.forwarded.network_pseudonym`), stable across days so that
    one network reporting on several days counts once (ledger.signals.reports); None
    when the log has no operator key to derive its key from.

    The key is derived from the operator key (like the page's CSRF key): a daily salt
    would make a report of yesterday incomparable with one of today. So whoever holds
    the operator key and the database could learn a reporter's /24 (never its address)
    by trying every network: docs/SIGNALS.md says so."""
    operator = context.deployment.default.config.operator_key
    if operator is None:
        return None
    # a signature, not the key's bytes: Ed25519 signs deterministically, and a registry
    # key in a PKCS#11 token never shows its bytes
    key = _network_key(operator.sign(b"provenance-ledger/v1 report network key\n"))
    return network_pseudonym(key, gtin, serial, client_address(request))


@functools.cache
def _network_key(secret: bytes) -> bytes:
    return hashlib.sha256(b"provenance-ledger/v1 report network\n" + secret).digest()


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
