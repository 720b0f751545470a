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
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)


async def cached_view(
    request: Request, view: dict[str, Any], etag: str, cache_control: str
) -> Response:
    """A unit view as `cached_json` answers it (an ETag, 304 when the client holds this
    version), gzip-compressed for a client that takes it when the view is large
    (api.viewjson.render_gzip: its own ETag, ``-gz`` added; either tag is this version)."""
    tag, packed_tag = f'"{etag}"', f'"{etag}-gz"'
    headers = {"ETag": tag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    held = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
    if tag in held or packed_tag in held:
        headers["ETag"] = packed_tag if packed_tag in held else tag
        return Response(status_code=304, headers=headers)
    if gzipparts.accepts_gzip(request.headers.get("accept-encoding")):
        packed = await viewjson.render_gzip(view)
        if packed is not None:
            headers["ETag"] = packed_tag
            headers["Content-Encoding"] = "gzip"
            return viewjson.PartsResponse(packed, media_type="application/json", headers=headers)
    return viewjson.PartsResponse(
        viewjson.render_parts(view), media_type="application/json", headers=headers
    )
