"""The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles), under the prefix ``/v1/``:
``/v1/checkpoint`` (`api.routers.log`), ``/v1/tile/<L>/<N>[.p/<W>]`` and
``/v1/tile/entries/<N>[.p/<W>]``. Static and immutable: a CDN or object store can serve
them (docs/SCALING.md), and a tlog-tiles client (a witness, a monitor, Tessera's or
Go's sumdb tooling) reads this log without our API. Formats: ledger.tiles.
"""

from __future__ import annotations

import gzip
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.context import ctx
from api.readlimits import READ_LIMIT
from api.schemas import problems
from api.views import IMMUTABLE
from ledger import tiles
from ledger.service import tiles as serving

router = APIRouter(tags=["log"])

_BINARY = {
    200: {
        "description": 'the resource\'s bytes (ledger.tiles; docs/API.md, "Tiles")',
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_RESPONSES = {**_BINARY, **problems(404, 429, 503)}


def _path_parameters(*names: str) -> dict[str, Any]:
    """The path parameters, declared here: the handlers read them from the path
    themselves (any text; ledger.tiles parses it), so no 422 is ever answered."""
    return {
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names
        ]
    }


_OCTETS = "application/octet-stream"


@router.get(
    "/v1/tile/entries/{index:path}",
    summary="An entry bundle (C2SP tlog-tiles): 256 leaves, or a partial bundle",
    dependencies=[READ_LIMIT],
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_path_parameters("index"),
)
async def entry_bundle(request: Request) -> Response:
    """The leaves ``256 N`` to ``256 N + W - 1`` (``index`` is ``<N>[.p/<W>]``), each a
    big-endian uint16 length and the leaf's bytes; gzip-compressed when the client
    accepts it. 404 ``not-found`` until the latest checkpoint covers them (immutable)."""
    number, width = tiles.parse_index_path(request.path_params["index"])
    ledger = ctx(request).ledger_for(request)
    body = await run_in_threadpool(serving.entry_bundle, ledger, number, width)
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = await run_in_threadpool(gzip.compress, body, 6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=_OCTETS, headers=headers)


@router.get(
    "/v1/tile/{level}/{index:path}",
    summary="A tile of Merkle tree hashes (C2SP tlog-tiles): 256 hashes, or a partial tile",
    dependencies=[READ_LIMIT],
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_path_parameters("level", "index"),
)
async def tile(request: Request) -> Response:
    """The hashes of the perfect subtrees of height ``8 level`` numbered ``256 N`` to
    ``256 N + W - 1`` (``index`` is ``<N>[.p/<W>]``): 32 bytes each, concatenated. 404
    ``not-found`` until the latest checkpoint covers the tile (immutable)."""
    number, width = tiles.parse_index_path(request.path_params["index"])
    height = tiles.parse_level(request.path_params["level"])
    ledger = ctx(request).ledger_for(request)
    body = await run_in_threadpool(serving.tile, ledger, height, number, width)
    return Response(body, media_type=_OCTETS, headers={"Cache-Control": IMMUTABLE})
