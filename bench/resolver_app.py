"""The real app plus bare endpoints, so both are measured on the same server settings."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.app import create_app
from ledger import codec

#: what ``POST /bench/bare`` answers: a receipt's shape (one new entry in a checkpoint of
#: size 1), so the bench's clients check it as they check a real receipt
BARE_RECEIPT = {
    "receipts": [{"index": 0, "leaf_hash": "", "event_hash": "", "duplicate": False}],
    "size": 1,
    "checkpoint": "bench/bare\n1\n\n",
}


def app() -> FastAPI:
    """Uvicorn factory: the configured app with ``GET /bench/bare`` and ``POST
    /bench/bare`` added: the second reads and parses a JSON body and answers 201 with a
    constant receipt, the HTTP stack's own cost of a single-event write (no quota, no
    signature, no database)."""
    served = create_app()

    @served.get("/bench/bare", include_in_schema=False)
    async def bare() -> JSONResponse:
        return JSONResponse({"ok": True})

    @served.post("/bench/bare", include_in_schema=False)
    async def bare_post(request: Request) -> JSONResponse:
        codec.parse(await request.body())
        return JSONResponse(BARE_RECEIPT, status_code=201, headers={"Cache-Control": "no-store"})

    # first of all routes, as the resolver's fast route is (api.routers.resolver): added
    # last, every bare request was matched against each of the app's ~130 routes first,
    # which cost it more than half its throughput (docs/PERFORMANCE.md, session 27)
    routes = served.router.routes
    baseline = [r for r in routes if getattr(r, "path", None) == "/bench/bare"]
    routes[:] = baseline + [r for r in routes if r not in baseline]
    return served
