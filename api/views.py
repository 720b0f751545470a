"""Shared response helpers: ETags and cache headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from api import gzipparts, viewjson

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


def cached_json(request: Request, body: Any, etag: str, cache_control: str) -> Response:
    """JSON with an ETag; 304 when the client already holds this version."""
    tag = f'"{etag}"'
    headers = {"ETag": tag, "Cache-Control": cache_control}
    if _holds(request, tag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)


async def cached_view(
    request: Request, view: dict[str, Any], etag: str, cache_control: str
) -> Response:
    """A unit view as `cached_json` answers it (an ETag, 304 when the client holds this
    version), gzip-compressed for a client that takes it when the view is large
    (api.viewjson.render_gzip), under an ETag of its own (``-gz`` added): a 304 only for
    the tag of the answer this request would get, and with that tag (a cache holding
    both must not serve the gzip one to a client that refused gzip)."""
    packing = gzipparts.accepts_gzip(
        request.headers.get("accept-encoding")
    ) and viewjson.gzip_eligible(view)
    tag = f'"{etag}-gz"' if packing else f'"{etag}"'
    headers = {"ETag": tag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if _holds(request, tag):
        return Response(status_code=304, headers=headers)
    parts, packed = await viewjson.render_encoded(view, packing)
    if packed:
        headers["Content-Encoding"] = "gzip"
    elif packing:
        headers["ETag"] = f'"{etag}"'  # not deflated now: the plain answer, its own tag
    return viewjson.PartsResponse(parts, media_type="application/json", headers=headers)


def _holds(request: Request, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (or is ``*``), by its weak comparison: a
    tag marked weak (``W/``, as a CDN marks one when it re-encodes) matches its strong
    twin."""
    for held in request.headers.get("if-none-match", "").split(","):
        held = held.strip()
        if held == tag or held == "*" or (held.startswith("W/") and held[2:] == tag):
            return True
    return False
