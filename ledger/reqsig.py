"""Signed HTTP requests: how a brand or an operator proves who asks for its alerts.

A request is signed with one of the actor's registered Ed25519 keys over

    "provenance-ledger/v1 request\\n" || METHOD "\\n" || TARGET "\\n" || TIME "\\n" ||
    base64url(SHA-256(body)) "\\n"

where TARGET is the path with its query as sent (``/v1/brands/acme/alerts?x=1``) and TIME
an RFC 3339 UTC time. It travels in one header:

    Authorization: Provenance key=<key id>, time=<TIME>, sig=<base64url signature>

The domain prefix ends in a newline and differs from the event and label prefixes, so
a request signature can never be replayed as an event signature or the reverse. The
server accepts a time within `MAX_SKEW` of its clock; a captured request can be
replayed only within that window and only as the same method, target and body (the
write it allows, resolving a report, is refused the second time). Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger import codec, crypto
from ledger.errors import LedgerError
from ledger.events import format_time, parse_time

DOMAIN = crypto.DOMAIN_REQUEST
SCHEME = "Provenance"
MAX_SKEW = timedelta(minutes=5)
_HEADER = re.compile(
    r"Provenance key=(?P<key>[A-Za-z0-9_-]{1,64}), time=(?P<time>[0-9TZ:.-]{20,40}), "
    r"sig=(?P<sig>[A-Za-z0-9_-]{86})"
)


class AuthenticationError(LedgerError):
    """The request carries no valid signature of a registered, unrevoked key."""

    code = "unauthenticated"
    status = 401


class ForbiddenError(LedgerError):
    """The request is signed, but its signer may not see or do this."""

    code = "forbidden"
    status = 403


@dataclass(frozen=True)
class RequestSignature:
    """A parsed ``Authorization: Provenance ...`` header."""

    key: str
    time: str
    sig: str


def message(method: str, target: str, time: str, body: bytes) -> bytes:
    """The bytes a request signature covers after the domain prefix (module docstring)."""
    digest = codec.b64url_encode(hashlib.sha256(body).digest())
    return f"{method.upper()}\n{target}\n{time}\n{digest}\n".encode()


def sign_request(key: crypto.Signer, method: str, target: str, body: bytes, now: datetime) -> str:
    """The ``Authorization`` header value for a request signed by ``key`` at ``now``
    (any `crypto.Signer`: a console key may live in a token)."""
    time = format_time(now)
    sig = crypto.sign(key, DOMAIN, message(method, target, time, body))
    key_id = crypto.key_id(key.public_key())
    return f"{SCHEME} key={key_id}, time={time}, sig={codec.b64url_encode(sig)}"


def parse_header(header: str | None) -> RequestSignature:
    """Parse the ``Authorization`` header.

    Raises:
        AuthenticationError: absent or malformed.
    """
    if not header:
        raise AuthenticationError("this needs a signed request (Authorization: Provenance ...)")
    found = _HEADER.fullmatch(header.strip())
    if found is None:
        raise AuthenticationError("malformed Authorization header", field="authorization")
    return RequestSignature(found["key"], found["time"], found["sig"])


def verify_request(
    parsed: RequestSignature,
    public_b64: str,
    method: str,
    target: str,
    body: bytes,
    now: datetime,
) -> None:
    """Verify a request signature: (1) its time is within `MAX_SKEW` of ``now``; (2) the
    signature over `message` verifies under the key.

    Raises:
        AuthenticationError: a stale or future time, or a bad signature.
    """
    try:
        at = parse_time(parsed.time, "authorization.time")
    except LedgerError as e:
        raise AuthenticationError(f"bad request time: {e.message}") from None
    if abs(now - at) > MAX_SKEW:  # (1)
        raise AuthenticationError("the request's time is too far from the server's clock")
    try:  # (2)
        public = crypto.public_key_from_b64(public_b64)
        sig = codec.b64url_decode(parsed.sig, field="authorization.sig", size=64)
        crypto.verify(public, DOMAIN, message(method, target, parsed.time, body), sig)
    except LedgerError:
        raise AuthenticationError("the request signature does not verify") from None
