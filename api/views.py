"""Shared response helpers: ETags and cache headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


def cached_json(request: Request, body: Any, etag: str, cache_control: str) -> Response:
    """JSON with an ETag; 304 when the client already holds this version."""
    tag = f'"{etag}"'
    headers = {"ETag": tag, "Cache-Control": cache_control}
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)
