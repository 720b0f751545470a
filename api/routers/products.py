"""A product's picture, ``/v1/products/{gtin}/image`` (docs/API.md).

Served only when the SHA-256 of the stored bytes is the ``image`` hash the brand signed
in its ``product.register`` (ledger.service.catalog): checked on every request, so a
picture replaced in the database is refused (404 ``not-found``), never served.

- ``GET /v1/products/{gtin}/image``: the current signed picture; revalidated after 5
  minutes (the brand may sign a new one), with its hash as ETag;
- ``GET /v1/products/{gtin}/image/{hash}``: the picture with exactly that hash, while
  it is the signed one: immutable, cached for a year (the shopper's page links this);
- ``POST /v1/products/{gtin}/image``: the brand uploads a picture (the raw file as the
  body, the request signed with its key, ledger.reqsig); the answer is the stored,
  re-encoded picture (base64url) and its hash, which the brand then signs as the
  product's ``image`` (``provenance product image``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.callers import request_signer
from api.context import ctx
from api.readbody import read_body
from api.schemas import problems
from api.schemas_more import IMAGE_BODY, StoredImage
from ledger import codec
from ledger.reqsig import ForbiddenError
from ledger.service.catalog import MAX_UPLOAD, images_of
from ledger.vocab import Role

router = APIRouter(tags=["products"])

#: the current picture: a brand's new signature shows within this many seconds
CURRENT_MAX_AGE = 300
#: a content-addressed picture never changes
IMMUTABLE_MAX_AGE = 31_536_000


def _answer(data: bytes, media: str, image_hash: str, cache: str) -> Response:
    return Response(
        data,
        media_type=media,
        # nosniff and a CSP of no content at all come from api.headers on every answer
        headers={"Cache-Control": cache, "ETag": f'"{image_hash}"'},
    )


@router.get(
    "/v1/products/{gtin}/image",
    summary="The product's picture, if it is the one its brand signed",
    response_class=Response,  # the picture's own media type, never JSON
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, **problems(404, 422, 429)},
)
async def image(request: Request, gtin: str) -> Response:
    """The stored picture whose SHA-256 is the ``image`` of the brand's latest
    ``product.register`` of ``gtin`` (JPEG or PNG)."""
    context = ctx(request)
    await context.limit(request)
    images = images_of(context.deployment.for_gtin(gtin))
    data, media, image_hash = await run_in_threadpool(images.verified, gtin)
    if request.headers.get("if-none-match") == f'"{image_hash}"':
        return Response(status_code=304, headers={"ETag": f'"{image_hash}"'})
    return _answer(data, media, image_hash, f"public, max-age={CURRENT_MAX_AGE}")


@router.get(
    "/v1/products/{gtin}/image/{image_hash}",
    summary="The product's picture with exactly this SHA-256, while its brand signs it",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, **problems(404, 422, 429)},
)
async def image_by_hash(request: Request, gtin: str, image_hash: str) -> Response:
    """The picture ``image_hash`` (base64url SHA-256 of the bytes served) of ``gtin``,
    only while it is the ``image`` its brand signed."""
    context = ctx(request)
    await context.limit(request)
    images = images_of(context.deployment.for_gtin(gtin))
    data, media, _ = await run_in_threadpool(images.verified, gtin, image_hash)
    cache = f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
    return _answer(data, media, image_hash, cache)


@router.post(
    "/v1/products/{gtin}/image",
    summary="Upload a product picture (signed by the brand): stored re-encoded, by hash",
    response_model=StoredImage,
    responses=problems(400, 401, 403, 404, 413, 422, 429),
    openapi_extra=IMAGE_BODY,
)
async def upload(request: Request, gtin: str) -> Response:
    """Re-encode and store the body (JPEG, PNG or WebP) as a picture of the signing
    brand's product ``gtin``; answer ``{hash, media, width, height, bytes, data}`` with
    the stored bytes in ``data`` (base64url), so the brand checks what it signs."""
    context = ctx(request)
    await context.limit(request)
    ledger = context.deployment.for_gtin(gtin)
    body = await read_body(request, MAX_UPLOAD)
    signer = await request_signer(request, ledger, body)
    if signer.role != Role.BRAND:
        raise ForbiddenError("only a brand uploads its products' pictures")
    images = images_of(ledger)
    stored = await run_in_threadpool(images.upload, signer.id, gtin, body, ledger.now())
    data, _ = await run_in_threadpool(images.stored, stored["hash"])
    return JSONResponse(
        {**stored, "data": codec.b64url_encode(data)}, headers={"Cache-Control": "no-store"}
    )
