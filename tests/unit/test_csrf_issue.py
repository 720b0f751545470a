"""Issuing CSRF nonces and tokens (api/csrf.py) the cheap way: a pre-keyed HMAC and the
cookie header written directly. The tokens are the HMAC-SHA256 the module doc describes,
the cookie the header Starlette's ``set_cookie`` writes, a nonce fresh per browser, and a
token still refused when forged, foreign or missing (the checks are unchanged)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
from fastapi import Request
from fastapi.responses import Response
from hypothesis import given
from hypothesis import strategies as st

from api.csrf import COOKIE_AGE, CsrfError, CsrfGuard, derive_key
from tests.factories import GTIN, tampered

KEY = derive_key(b"test secret")
SERIAL = "SN-0001"


class _Settings:
    public_url = "http://testserver"
    trusted_proxies: tuple[Any, ...] = ()


class _Ctx:
    settings = _Settings()


class _State:
    ctx = _Ctx()


class _App:
    state = _State()


def _request(cookie: str | None = None, scheme: str = "http") -> Request:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": scheme,
        "path": "/",
        "headers": headers,
        "client": ("198.51.100.7", 4000),
        "server": ("127.0.0.1", 8000),
        "app": _App(),
    }
    return Request(scope)


def _reference(key: bytes, nonce: str, gtin: str, serial: str, issued: int) -> str:
    """The token the module doc specifies, computed the plain way."""
    message = (
        b"provenance-ledger csrf v1\n" + "\n".join((nonce, gtin, serial, str(issued))).encode()
    )
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return f"{issued}." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@given(
    nonce=st.text(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=43, max_size=43
    ),
    serial=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20),
    issued=st.integers(0, 10**11),
)
def test_a_token_is_the_hmac_of_the_module_doc(nonce: str, serial: str, issued: int) -> None:
    guard = CsrfGuard(KEY)
    assert guard.token(nonce, GTIN, serial, now=issued) == _reference(
        KEY, nonce, GTIN, serial, issued
    )


def test_tokens_of_two_guards_do_not_share_a_key() -> None:
    one, other = CsrfGuard(KEY), CsrfGuard(derive_key(b"another secret"))
    nonce = "A" * 43
    # interleaved: each guard's keyed MAC is copied, never updated in place
    first = one.token(nonce, GTIN, SERIAL, now=1000)
    assert other.token(nonce, GTIN, SERIAL, now=1000) != first
    assert one.token(nonce, GTIN, SERIAL, now=1000) == first


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_cookie_is_the_header_starlette_writes(scheme: str) -> None:
    request = _request(scheme=scheme)
    guard = CsrfGuard(KEY)
    nonce, fresh = guard.nonce(request)
    assert fresh
    ours, theirs = Response(b""), Response(b"")
    guard.set_cookie(ours, request, nonce)
    theirs.set_cookie(
        "__Host-pl_csrf" if scheme == "https" else "pl_csrf",
        nonce,
        max_age=COOKIE_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=scheme == "https",
    )
    assert ours.raw_headers == theirs.raw_headers
    cookie = dict(ours.raw_headers)[b"set-cookie"].decode()
    assert ("; Secure" in cookie) == (scheme == "https")


@pytest.mark.parametrize("bad", ["", "A" * 42, "A" * 43 + "; Domain=evil.example", "A" * 42 + "\n"])
def test_only_a_nonce_goes_into_the_cookie_header(bad: str) -> None:
    with pytest.raises(ValueError):
        CsrfGuard(KEY).set_cookie(Response(b""), _request(), bad)


def test_a_nonce_is_fresh_for_every_browser_without_one_and_kept_for_one_with_one() -> None:
    guard = CsrfGuard(KEY)
    nonces = [guard.nonce(_request()) for _ in range(2000)]
    assert all(fresh and len(n) == 43 for n, fresh in nonces)
    assert len({n for n, _ in nonces}) == 2000
    held = nonces[0][0]
    assert guard.nonce(_request(f"pl_csrf={held}")) == (held, False)


def test_tokens_are_still_refused_when_forged_foreign_or_missing() -> None:
    guard = CsrfGuard(KEY)
    nonce, _ = guard.nonce(_request())
    mine = _request(f"pl_csrf={nonce}")
    token = guard.token(nonce, GTIN, SERIAL)
    guard.check_token(mine, token, GTIN, SERIAL)  # the good case
    other_nonce, _ = guard.nonce(_request())
    refused = [
        (mine, tampered(token), SERIAL),  # forged MAC
        (mine, None, SERIAL),  # no token
        (mine, "", SERIAL),
        (mine, token, "SN-0002"),  # another unit's form
        (_request(f"pl_csrf={other_nonce}"), token, SERIAL),  # another browser's cookie
        (_request(), token, SERIAL),  # no cookie
        (mine, f"{int(time.time()) - 3 * 24 * 3600}.{token.split('.')[1]}", SERIAL),  # stale
    ]
    for request, forged, serial in refused:
        with pytest.raises(CsrfError):
            guard.check_token(request, forged, GTIN, serial)
    with pytest.raises(CsrfError):  # a token of another key
        guard.check_token(
            mine, CsrfGuard(derive_key(b"x")).token(nonce, GTIN, SERIAL), GTIN, SERIAL
        )
