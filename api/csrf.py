"""Cross-site request forgery: the page's forms are answered only when they come from a
page this server rendered, in the browser that posts them.

Without this, a malicious page makes every visitor's browser post the claim form (ten
wrong codes lock a unit for the visitor's address) or the report form (a report filed
from the visitor's address). Two checks, both before anything is evaluated or counted
(the claim lockout counters, the report quota, the rate limit):

1. **Origin.** The ``Origin`` header, or without one the ``Referer``'s origin, must be one
   of the server's own origins: ``PROVENANCE_PUBLIC_ORIGINS`` when set, else the origin
   of ``PROVENANCE_PUBLIC_URL`` and the address the connection reached (the ASGI
   ``server``: the socket's own address and port, as an IP literal, and ``localhost``
   with that port when it is a loopback address: a server run for development or the
   demo). Never the ``Host`` header: with DNS rebinding, a page on ``evil.example``
   whose name resolves to this server posts with ``Host`` and ``Origin`` both
   ``evil.example``, and would be taken for the server's own. A form with neither
   header, with ``null`` (a sandboxed frame, a privacy-stripped request) or with a
   malformed one is refused.
2. **Token.** The form's ``csrf`` field must be a token this server issued to this
   browser for this unit: ``<issued>.<mac>``, the MAC a keyed BLAKE2b (32 bytes, the
   key as BLAKE2b's own key: a PRF without HMAC's nesting, in CPython's own code) over
   the nonce held in the browser's csrf cookie, the unit (GTIN, serial) and the time of
   issue, in URL-safe base64 without padding. It is
   stateless (any worker holding the key checks it) and a signed double-submit: a
   token read from another browser's page does not fit this browser's cookie, and a
   cookie planted by a sibling host does not help without a token minted for it (on
   https the cookie is ``__Host-`` prefixed, which no sibling host can set at all).

Refusals are 403 problem ``csrf`` (`CsrfError`).

A nonce is 43 characters of URL-safe base64 (258 random bits). New ones are cut from one
``os.urandom`` draw of `_NONCES` at a time (`fresh_nonce`): each is handed out once,
and the pool is emptied in a child after ``fork`` (``os.register_at_fork``), so two
worker processes forked from one parent never hand out the same nonces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response

from api.clients import is_https
from ledger.crypto import Signer, signer_secret
from ledger.errors import LedgerError, ValidationError

#: the form field that carries the token
FIELD = "csrf"
#: a token is accepted this long after it was issued (a page left open for a day or two)
TOKEN_TTL = 2 * 24 * 3600
#: the cookie's nonce lives this long; every page of those days shares it
COOKIE_AGE = 30 * 24 * 3600
_CLOCK_SKEW = 300  # workers' clocks may disagree this much
_COOKIE = "pl_csrf"
_SECURE_COOKIE = "__Host-pl_csrf"  # https only: Secure, Path=/, no Domain, set by this host
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
#: the nonce cookie's attributes after its value (`CsrfGuard.set_cookie`), in the order
#: and spelling of Starlette's ``Response.set_cookie``
_ATTRIBUTES = f"HttpOnly; Max-Age={COOKIE_AGE}; Path=/; SameSite=strict"
_SECURE_ATTRIBUTES = _ATTRIBUTES + "; Secure"
_TOKEN = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: the MAC's message starts with this (v1 was an HMAC-SHA256; its tokens fit no v2 MAC)
_DOMAIN = b"provenance-ledger csrf v2\n"
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
#: nonces cut from one random draw (`fresh_nonce`): 43 characters of base64 each, so a
#: draw of 43 * 96 characters is 3,096 bytes, a multiple of 3 (no padding in between)
_NONCES = 96
_pool: list[str] = []


def fresh_nonce() -> str:
    """A new browser nonce: 43 characters of the URL-safe base64 alphabet (258 bits from
    ``os.urandom``), never handed out before by this process or by the process it was
    forked from (the pool is emptied in a forked child)."""
    try:
        return _pool.pop()
    except IndexError:
        pass
    # one system call and one encoding for `_NONCES` nonces (each was a
    # ``secrets.token_urlsafe(32)``: a getrandom call and a base64 encoding a page)
    text = base64.urlsafe_b64encode(os.urandom(_NONCES * 43 * 6 // 8)).decode()
    fresh = [text[i : i + 43] for i in range(0, _NONCES * 43, 43)]
    nonce = fresh.pop()
    _pool.extend(fresh)  # after the draw: a thread that ran out meanwhile drew its own
    return nonce


def _forget_nonces() -> None:
    # a forked child must not hand out the nonces its parent (or a sibling) will
    _pool.clear()


os.register_at_fork(after_in_child=_forget_nonces)


class CsrfError(LedgerError):
    """A form did not come from this server's own page in this browser (foreign, missing
    or malformed Origin and Referer; a missing, forged, stale or foreign token)."""

    code = "csrf"
    status = 403


def origin_of(value: str) -> str | None:
    """The serialized origin (``scheme://host[:port]``, lower case, default port
    dropped) of an ``Origin`` value or an absolute http(s) URL; None if malformed.

    Never raises: whatever a client sends is either an origin or None.
    """
    if not value or len(value) > 2048 or not value.isascii() or value != value.strip():
        return None
    if any(c in value for c in "\\ \t\r\n") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if "@" in parts.netloc or not re.fullmatch(r"[a-z0-9.\-\[\]:]+", host):
        return None
    if ":" in host and not parts.netloc.startswith("["):
        return None  # an IPv6 host must be bracketed
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{shown}:{port}"
    return f"{scheme}://{shown}"


def parse_origins(values: Iterable[str]) -> frozenset[str]:
    """The configured ``PROVENANCE_PUBLIC_ORIGINS``, each an origin (no path, no query).

    Raises:
        ValidationError: an entry is not an http(s) origin (field
            ``PROVENANCE_PUBLIC_ORIGINS``).
    """
    found = set()
    for value in values:
        origin = origin_of(value.rstrip("/"))
        path = urlsplit(value).path if origin else ""
        if origin is None or path not in ("", "/") or "?" in value or "#" in value:
            raise ValidationError(
                f"PROVENANCE_PUBLIC_ORIGINS: {value[:80]!r} is not an origin "
                "(scheme://host[:port])",
                field="PROVENANCE_PUBLIC_ORIGINS",
            )
        found.add(origin)
    return frozenset(found)


@dataclass(frozen=True)
class CsrfGuard:
    """The app's CSRF checks: its key (shared by every worker) and its allowed origins.

    ``origins`` empty means: ``public_url``'s origin and the server's own address
    (`allowed`).
    """

    key: bytes
    origins: frozenset[str] = frozenset()
    public_url: str = ""
    #: a BLAKE2b already keyed with ``key`` and fed `_DOMAIN`: each MAC is a copy of it
    #: (the key's block and the domain are hashed once, not per token)
    _keyed: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keyed = hashlib.blake2b(_DOMAIN, key=self.key, digest_size=32)
        object.__setattr__(self, "_keyed", keyed)

    # --- issuing ---------------------------------------------------------------------

    def nonce(self, request: Request) -> tuple[str, bool]:
        """(the browser's csrf nonce, whether it is new and must be set as its cookie)."""
        held = request.cookies.get(cookie_name(request), "")
        if _NONCE.fullmatch(held):
            return held, False
        return fresh_nonce(), True

    def token(self, nonce: str, gtin: str, serial: str, now: float | None = None) -> str:
        """The token for the forms of unit (``gtin``, ``serial``) on a page shown to the
        browser holding ``nonce``, issued at ``now`` (default: the clock)."""
        issued = int(time.time() if now is None else now)
        return f"{issued}.{self._mac(nonce, gtin, serial, issued)}"

    def set_cookie(self, response: Response, request: Request, nonce: str) -> None:
        """Give the browser its nonce: HttpOnly, SameSite=Strict, and ``Secure`` with the
        ``__Host-`` prefix when the shopper's connection is https. The header is the one
        Starlette's ``Response.set_cookie`` writes with those settings, byte for byte
        (tests/unit/test_csrf_issue.py), written directly: a nonce (`nonce`) is 43
        characters of the URL-safe base64 alphabet, which a cookie value takes unquoted.

        Raises:
            ValueError: ``nonce`` is not a nonce (a programming error).
        """
        if not _NONCE.fullmatch(nonce):
            raise ValueError("not a csrf nonce")
        secure = is_https(request)
        name = _SECURE_COOKIE if secure else _COOKIE
        line = f"{name}={nonce}; {_SECURE_ATTRIBUTES if secure else _ATTRIBUTES}"
        response.raw_headers.append((b"set-cookie", line.encode("latin-1")))

    # --- checking ----------------------------------------------------------------------

    def check_origin(self, request: Request) -> None:
        """Refuse a form whose ``Origin`` (or, without one, ``Referer``) is not one of
        the server's own origins; reads no body.

        Raises:
            CsrfError: a foreign, ``null``, malformed, repeated or missing origin.
        """
        origins = request.headers.getlist("origin")
        if len(origins) > 1:
            raise CsrfError("more than one Origin header", field="Origin")
        if origins:
            claimed, header = origin_of(origins[0]), "Origin"
        else:
            referers = request.headers.getlist("referer")
            if len(referers) != 1:
                raise CsrfError(
                    "a form must come with its Origin or Referer (one of them)", field="Origin"
                )
            claimed, header = origin_of(referers[0]), "Referer"
        if claimed is None:
            raise CsrfError(f"the {header} is not an http(s) origin", field=header)
        if claimed not in self.allowed(request):
            raise CsrfError(f"the form was posted from another site ({header})", field=header)

    def check_token(self, request: Request, token: object, gtin: str, serial: str) -> None:
        """Refuse a form whose token was not issued for this unit to the browser holding
        this request's csrf cookie, or is older than `TOKEN_TTL`.

        Raises:
            CsrfError: no cookie, no token, a malformed, forged, foreign or stale token.
        """
        nonce = request.cookies.get(cookie_name(request), "")
        if not _NONCE.fullmatch(nonce):
            raise CsrfError("no csrf cookie: reload the page and send the form again")
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise CsrfError("the form carries no valid csrf token", field=FIELD)
        issued = int(match.group(1))
        age = time.time() - issued
        if not -_CLOCK_SKEW <= age <= TOKEN_TTL:
            raise CsrfError("the form's csrf token expired: reload the page", field=FIELD)
        expected = self._mac(nonce, gtin, serial, issued)
        if not hmac.compare_digest(expected, match.group(2)):
            raise CsrfError("the form's csrf token does not fit this browser", field=FIELD)

    def allowed(self, request: Request) -> frozenset[str]:
        """The origins a form may come from for this request (see the module doc)."""
        if self.origins:
            return self.origins
        own = {origin_of(self.public_url)}
        server = request.scope.get("server")
        if server and server[1] is not None:
            # the address the connection reached, never what the client names (Host)
            scheme = "https" if is_https(request) else "http"
            try:
                ip = ipaddress.ip_address(str(server[0]))
            except ValueError:
                ip = None
            if ip is not None:
                shown = f"[{ip}]" if ip.version == 6 else str(ip)
                own.add(origin_of(f"{scheme}://{shown}:{int(server[1])}"))
                if ip.is_loopback:
                    own.add(origin_of(f"{scheme}://localhost:{int(server[1])}"))
        return frozenset(o for o in own if o is not None)

    def _mac(self, nonce: str, gtin: str, serial: str, issued: int) -> str:
        mac = self._keyed.copy()  # BLAKE2b(_DOMAIN + message, key=key, digest_size=32)
        mac.update(f"{nonce}\n{gtin}\n{serial}\n{issued}".encode())
        # base64url without its padding: the module's wrappers' one C call, done here
        return binascii.b2a_base64(mac.digest(), newline=False).translate(_URL_SAFE)[:43].decode()


def csrf_secret(signer: Signer | None) -> bytes:
    """A long-lived server secret every worker shares (`ledger.crypto.signer_secret` of
    the registry key); a server without that key (a read replica) takes a random one, so
    its forms are only good on the worker that served them."""
    if signer is None:
        return os.urandom(32)
    return signer_secret(signer, "csrf")


def derive_key(secret: bytes) -> bytes:
    """The CSRF MAC key, derived from a long-lived server secret (`csrf_secret`),
    domain-separated so it is useful for nothing else; every worker derives the same
    one."""
    return hashlib.sha256(b"provenance-ledger csrf key\n" + secret).digest()


def cookie_name(request: Request) -> str:
    """``__Host-pl_csrf`` over https (a prefix browsers only accept from this host,
    Secure, for the whole site), else ``pl_csrf``."""
    return _SECURE_COOKIE if is_https(request) else _COOKIE


def guard(request: Request) -> CsrfGuard:
    """The app's `CsrfGuard`."""
    found: CsrfGuard = request.app.state.csrf
    return found
