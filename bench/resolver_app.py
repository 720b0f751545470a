"""The real app plus a bare endpoint, so both are measured on the same server settings."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.app import create_app


def app() -> FastAPI:
    """Uvicorn factory: the configured app with ``GET /bench/bare`` added."""
    served = create_app()

    @served.get("/bench/bare", include_in_schema=False)
    async def bare() -> JSONResponse:
        return JSONResponse({"ok": True})

    return served
