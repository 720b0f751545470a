"""Issuing CSRF nonces and tokens (api/csrf.py) the cheap way: a pre-keyed BLAKE2b, nonces
cut from one random draw, and the cookie header written directly. The tokens are the
keyed BLAKE2b the module doc describes, the cookie the header Starlette's ``set_cookie``
writes, a nonce fresh per browser (never one handed out before, not across a fork
either), and a token still refused when forged, foreign or missing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from typing import Any

import pytest
from fastapi import Request
from fastapi.responses import Response
from hypothesis import given
from hypothesis import strategies as st

from api import csrf
from api.csrf import COOKIE_AGE, CsrfError, CsrfGuard, derive_key, fresh_nonce
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
        b"provenance-ledger csrf v2\n" + "\n".join((nonce, gtin, serial, str(issued))).encode()
    )
    digest = hashlib.blake2b(message, key=key, digest_size=32).digest()
    return f"{issued}." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@given(
    nonce=st.text(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=43, max_size=43
    ),
    serial=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20),
    issued=st.integers(0, 10**11),
)
def test_a_token_is_the_keyed_blake2b_of_the_module_doc(
    nonce: str, serial: str, issued: int
) -> None:
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
    nonces = [guard.nonce(_request()) for _ in range(2000)]  # about 21 random draws
    assert all(fresh and re.fullmatch(r"[A-Za-z0-9_-]{43}", n) for n, fresh in nonces)
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


def test_nonces_look_random() -> None:
    # 43 * 2,000 characters cut from draws: each of the 64 characters of the alphabet
    # about 1,344 times (a slicing error would repeat or skip text, or bias the tail)
    text = "".join(fresh_nonce() for _ in range(2000))
    counts = [text.count(c) for c in set(text)]
    assert len(counts) == 64
    assert 1100 < min(counts) and max(counts) < 1600


def test_a_token_of_the_old_hmac_format_is_refused() -> None:
    # v1 tokens were an HMAC-SHA256 over a v1 message: they fit no v2 MAC
    guard = CsrfGuard(KEY)
    nonce = fresh_nonce()
    issued = int(time.time())
    message = (
        b"provenance-ledger csrf v1\n" + "\n".join((nonce, GTIN, SERIAL, str(issued))).encode()
    )
    old = base64.urlsafe_b64encode(hmac.new(KEY, message, hashlib.sha256).digest())
    with pytest.raises(CsrfError):
        guard.check_token(
            _request(f"pl_csrf={nonce}"), f"{issued}.{old.rstrip(b'=').decode()}", GTIN, SERIAL
        )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_hands_out_its_parents_nonces() -> None:
    fresh_nonce()  # the pool holds nonces now
    if not csrf._pool:  # (that call took the last one an earlier test left: draw anew)
        fresh_nonce()
    assert csrf._pool
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: the nonces it hands out, to the parent
        try:
            os.write(write, "".join(fresh_nonce() for _ in range(200)).encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(child, 0)
    text = b"".join(chunks).decode()
    theirs = {text[i : i + 43] for i in range(0, len(text), 43)}
    mine = {fresh_nonce() for _ in range(200)}
    assert len(theirs) == 200
    assert not theirs & mine
