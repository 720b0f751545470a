"""Who a request comes from: the client's address, its trusted place, TLS, agent class.

The one module that reads the socket peer and forwarded headers (with api.forwarded,
which walks the hops it is given): rate limits, claim lockouts, scan client ids and
signals all take the client from `client_address`.
"""

from __future__ import annotations

import re

from fastapi import Request

from api.forwarded import normal, resolve_client, trusted_address
from api.shortmemo import kept_when_short
from ledger.service.settings import Settings

PLACE = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_AGENTS = (
    ("wechat", re.compile(r"MicroMessenger", re.I)),
    ("alipay", re.compile(r"AlipayClient", re.I)),
    ("bot", re.compile(r"bot|crawl|spider|curl|wget|python", re.I)),
    ("mobile", re.compile(r"Mobile|Android|iPhone|iPad", re.I)),
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.ctx.settings
    return settings


def client_address(request: Request) -> str:
    """The client's address: the one identity that rate limits, claim lockouts, scan
    client ids and signals all use.

    It is the socket peer, unless the peer lies in ``PROVENANCE_TRUSTED_PROXIES``: then
    ``X-Forwarded-For`` is read from the right, skipping trusted hops, and the first
    untrusted hop is the client (`api.forwarded.resolve_client`). uvicorn runs without proxy headers
    (``proxy_headers=False``), so the peer is the socket's, never a header's.
    """
    known: str | None = request.scope.get("provenance.client")
    if known is None:  # asked more than once per request (the rate limit, the scan)
        peer = _peer(request)
        trusted = _settings(request).trusted_proxies
        if not trusted:
            known = normal(peer) or peer
        else:
            known = resolve_client(peer, request.headers.getlist("x-forwarded-for"), trusted)
        request.scope["provenance.client"] = known
    return known


def geo_place(request: Request, settings: Settings) -> str | None:
    """The scan's place from the geolocation header ``PROVENANCE_PLACE_HEADER`` (e.g.
    ``CF-IPCountry``), upper case, when the connection comes from a trusted proxy
    (``PROVENANCE_TRUSTED_PROXIES``) that sets it; None otherwise. From anyone else the
    header is the client's own word, so it is ignored (not even kept as a hint)."""
    if not settings.place_header:
        return None
    value = request.headers.get(settings.place_header)
    peer = normal(_peer(request))
    if not value or peer is None or not trusted_address(peer, settings.trusted_proxies):
        return None
    value = value.strip().upper()
    return value if PLACE.fullmatch(value) else None


def _peer(request: Request) -> str:
    """The socket peer's address (the one place that reads it)."""
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    """True when the shopper's connection is TLS: the socket's own scheme, or, from a
    peer in ``PROVENANCE_TRUSTED_PROXIES`` (a proxy that terminated TLS), an
    ``X-Forwarded-Proto`` naming ``https``; or the public URL is ``https://``. Decides the
    ``Secure`` flag of cookies. A stranger's ``X-Forwarded-Proto`` is ignored."""
    known = request.scope.get("provenance.https")
    if known is None:  # asked more than once per request (csrf cookie name, Secure flag)
        known = request.scope["provenance.https"] = _is_https(request)
    return bool(known)


def _is_https(request: Request) -> bool:
    """`is_https`, computed."""
    if request.scope.get("scheme") == "https":
        return True
    settings = _settings(request)
    if settings.public_url.lower().startswith("https://"):
        return True
    if not settings.trusted_proxies:  # no one's X-Forwarded-Proto is believed
        return False
    peer = normal(_peer(request))
    if peer is None or not trusted_address(peer, settings.trusted_proxies):
        return False
    hops = (
        hop.strip().lower()
        for v in request.headers.getlist("x-forwarded-proto")
        for hop in v.split(",")
    )
    return "https" in hops


# the longest agents phones send are ~300 characters; a crowd sends a few hundred
@kept_when_short(512, 1024)
def agent_class(user_agent: str) -> str:
    """A coarse class of user agent: wechat, alipay, bot, mobile or desktop."""
    for name, pattern in _AGENTS:
        if pattern.search(user_agent):
            return name
    return "desktop"
