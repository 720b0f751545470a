"""Shared response helpers: entry views with proofs, ETags and cache headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ledger import codec
from ledger.entry import Leaf
from ledger.service import Ledger
from ledger.store import StoredEntry

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


def entry_views(ledger: Ledger, stored: list[StoredEntry], size: int) -> list[dict[str, Any]]:
    """Each entry with its leaf, leaf hash, parsed event and inclusion proof at ``size``."""
    proofs = ledger.store.inclusion_proofs(ledger.log, [e.index for e in stored], size)
    out = []
    for row, proof in zip(stored, proofs, strict=True):
        leaf = Leaf.from_bytes(row.leaf)
        out.append(
            {
                "index": row.index,
                "leaf": codec.b64url_encode(row.leaf),
                "leaf_hash": codec.b64url_encode(row.leaf_hash),
                "proof": [codec.b64url_encode(h) for h in proof],
                "event": leaf.signed.event.to_dict(),
                "received": leaf.received,
            }
        )
    return out


def cached_json(request: Request, body: Any, etag: str, cache_control: str) -> Response:
    """JSON with an ETag; 304 when the client already holds this version."""
    tag = f'"{etag}"'
    headers = {"ETag": tag, "Cache-Control": cache_control}
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)
