"""Security headers on every response: one ASGI middleware, `SecurityHeaders`.

- every response: ``X-Content-Type-Options: nosniff`` (a report's photo, a proof file or
  a JSON answer is never sniffed into HTML), and a CSP that allows nothing
  (``default-src 'none'; frame-ancestors 'none'``): a JSON answer opened as a page runs
  nothing and is never framed;
- every HTML page: the page's CSP (`page_policy`): no script at all, the one inline
  ``<style>`` of ``_style.html`` by its hash, forms posting only to this server, no
  ``<base>``, never framed (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY`` for
  old browsers); ``Referrer-Policy: same-origin``: a page's URL carries the unit's serial
  and its ``s=`` signature, so no other site is ever told it, while this server's own
  forms still carry their ``Origin`` (under ``no-referrer`` a browser sends
  ``Origin: null`` even to the same site, and the CSRF check, api/csrf.py, must refuse
  that); other responses: ``Referrer-Policy: no-referrer``;
- the API docs page (``/docs``, Swagger UI from this server) gets its own policy allowing
  exactly its files from this origin and its one inline script by hash
  (api.apidocs.docs_policy);
- ``Strict-Transport-Security`` only when the shopper's connection is https
  (`api.context.is_https`): over plain http the header means nothing and is not sent.

A header the route set itself is left alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.consumer.environment import environment
from api.context import is_https

#: the policy of every response that is not an HTML page
BASE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
HSTS = "max-age=31536000"
_INLINE = re.compile(r"<(style|script)>(.*?)</\1>", re.S)


def csp_hash(text: str) -> str:
    """The CSP source expression (``'sha256-...'``) that allows an inline element whose
    content is exactly ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def inline(html: str, tag: str) -> list[str]:
    """The contents of every inline ``<style>`` or ``<script>`` element (no attributes)
    of ``html``."""
    return [body for name, body in _INLINE.findall(html) if name == tag]


def page_policy() -> str:
    """The CSP of the consumer pages: their one stylesheet by hash, nothing else inline."""
    style = environment().get_template("_style.html").render()
    hashes = " ".join(csp_hash(s) for s in inline(style, "style"))
    return (
        f"default-src 'none'; style-src {hashes}; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def _pair(name: str, value: str) -> tuple[bytes, bytes]:
    return name.lower().encode("latin-1"), value.encode("latin-1")


_NOSNIFF = _pair("X-Content-Type-Options", "nosniff")
_DENY = _pair("X-Frame-Options", "DENY")
_HSTS = _pair("Strict-Transport-Security", HSTS)
_REFERRER_PAGE = _pair("Referrer-Policy", "same-origin")
_REFERRER_OTHER = _pair("Referrer-Policy", "no-referrer")
_CSP = "Content-Security-Policy"


class SecurityHeaders:
    """ASGI middleware adding the headers of the module doc to every HTTP response."""

    def __init__(self, app: ASGIApp, page: str, special: Iterable[tuple[str, str]] = ()) -> None:
        """``page``: the CSP of HTML pages; ``special``: (path, CSP) of pages with their
        own (the API docs)."""
        self.app = app
        self.page = page
        self.special = dict(special)
        # the header lines encoded once: every response gets four or five of them
        self._page = _pair(_CSP, page)
        self._base = _pair(_CSP, BASE_POLICY)
        self._special = {path: _pair(_CSP, policy) for path, policy in self.special.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope``; add the headers to its response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(scope, message)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, scope: Scope, message: Message) -> None:
        """Append to ``message``'s headers each of the module doc's that it lacks (by
        name, in any case), in the raw form: the header list read once, not once per
        header as a `MutableHeaders` would."""
        raw = list(message.get("headers") or ())
        present = set()
        html = False
        for name, value in raw:  # ASGI header names and values are bytes
            lowered = name.lower()
            if lowered == b"content-type" and lowered not in present:  # the first one
                html = value.lower().startswith(b"text/html")
            present.add(lowered)
        policy = self._special.get(scope.get("path", "")) or (self._page if html else self._base)
        wanted = [_NOSNIFF, policy, _REFERRER_PAGE if html else _REFERRER_OTHER]
        if html:
            wanted.append(_DENY)
        if "app" in scope and is_https(Request(scope)):
            wanted.append(_HSTS)
        raw.extend(pair for pair in wanted if pair[0] not in present)
        message["headers"] = raw
