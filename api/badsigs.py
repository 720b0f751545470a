"""A per-client limit on bad signatures: a client that keeps sending events or requests
whose signatures do not verify is answered 429 before its next write is even parsed.

Verifying an Ed25519 signature costs the server far more than sending one costs a
client, and a stranger can make up signed events for any partner all day long (the
write quota, api.quota, charges an actor only for what verifies, so it never slows
the stranger). `BadSignatureGuard` keeps a token bucket per client (`api.context.
client_address`: the connection's address behind the trusted proxies only, never a
header the client chooses) in `api.ratelimit`'s limiters (this process, or Redis so
that every worker shares it): each write answered ``bad-signature`` (an event's
signature, 403) or ``unauthenticated`` (a signed request's, 401) takes one token; a
client whose bucket is empty gets 429 ``bad-signatures`` with ``Retry-After`` on
every write until it refills. ``PROVENANCE_BAD_SIGNATURES`` (default 10) failures at
once, refilling at that many per `WINDOW`. An honest client, whose signatures verify,
never spends a token: its writes are only looked at, not charged.

Reads (GET, HEAD, OPTIONS) pass untouched: they carry no signature to fail.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.context import client_address
from api.problems import problem
from api.ratelimit import Clock, Limiter, make_limiter
from ledger.errors import LedgerError, SignatureError, ValidationError
from ledger.reqsig import AuthenticationError

#: the time over which a client's allowance of bad signatures refills, in seconds
WINDOW = 600.0
PREFIX = "provenance:bs"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the request-state flag the problem handler sets when a signature failed
FLAG = "signature_failed"


class BadSignaturesError(LedgerError):
    """The client sent too many writes whose signatures did not verify."""

    code = "bad-signatures"
    status = 429


def failed_signature(error: LedgerError) -> bool:
    """True for the refusals a bad signature earns: an event's (``bad-signature``) or a
    signed request's (``unauthenticated``)."""
    return isinstance(error, SignatureError | AuthenticationError)


def make_guard_limiter(allowed: int, redis_url: str | None, clock: Clock | None = None) -> Limiter:
    """The bucket of ``allowed`` bad signatures per client, refilling over `WINDOW`.

    Raises:
        ValidationError: ``allowed`` is below 1.
    """
    if allowed < 1:
        raise ValidationError(
            "PROVENANCE_BAD_SIGNATURES must be at least 1", field="PROVENANCE_BAD_SIGNATURES"
        )
    return make_limiter(allowed / WINDOW, allowed, redis_url, PREFIX, clock)


class BadSignatureGuard:
    """ASGI middleware: refuse a client's writes while its bad-signature bucket is empty;
    charge it when a write fails on a signature (module docstring)."""

    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope``, answering 429 ``bad-signatures`` when the client's bucket
        is empty."""
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        client = client_address(Request(scope))
        wait = await self.limiter.look(client, 1)
        if wait is not None:
            refusal = problem(
                BadSignaturesError.status,
                BadSignaturesError.code,
                "too many writes from this client carried signatures that do not verify;"
                f" retry in {wait} s",
            )
            refusal.headers["Retry-After"] = str(wait)
            await refusal(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            if scope.get("state", {}).get(FLAG):
                await self.limiter.spend(client, 1)
