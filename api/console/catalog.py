"""The console's catalogue pages (docs/CONSOLE.md): ``/console/products`` (the brand's
products, their pictures, the command that signs product data) and
``/console/batches`` (print batches: the unit list to reprint outer labels, void).

Product data is signed by the brand's own key only (a console key's scope is ``flag``
and ``recall``, so the server can never change a name, a support number or a picture):
the page uploads a picture, shows the stored (re-encoded) bytes and their SHA-256, and
gives the ``provenance product register`` command that signs them. Pages follow the
console's rules (api.console.routes): sign-in, CSRF on every post, a refusal is a page.
"""

from __future__ import annotations

import weakref

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.console import session
from api.console.routes import _done_redirect, _page, _post, _refused, _to_login, render
from api.csrf import guard
from ledger.errors import LedgerError, NotFoundError, ValidationError
from ledger.service.batches import PrintBatches
from ledger.service.catalog import MAX_UPLOAD, images_of
from ledger.service.console import ConsoleService
from ledger.service.console_auth import Staff

router = APIRouter(prefix="/console", include_in_schema=False)

_BATCHES: weakref.WeakKeyDictionary[ConsoleService, PrintBatches] = weakref.WeakKeyDictionary()


def batches_of(console: ConsoleService) -> PrintBatches:
    """The console's `PrintBatches` (one per console service)."""
    found = _BATCHES.get(console)
    if found is None:
        found = _BATCHES[console] = PrintBatches(console.ledger, console)
    return found


# --- products -------------------------------------------------------------------------


@router.get("/products")
async def products(request: Request) -> Response:
    """The catalogue: GTIN, names, picture, support contact, units minted."""

    async def page(request: Request, staff: Staff) -> Response:
        console = session.service(request)
        images = images_of(console.ledger)
        found = await run_in_threadpool(images.catalogue, console.brands_of(staff))
        return render(request, "products.html", staff, products=found, uploaded=None)

    return await _page(request, page)


@router.post("/products/image")
async def upload_image(request: Request) -> Response:
    """Upload a picture for a product (brand admins; fields ``gtin``, ``image``,
    ``csrf_token``): re-encoded, stored by its hash; the answer shows it and the
    command that signs it. Nothing is stored when anything is refused."""
    staff = session.current_staff(request)
    if staff is None:
        return _to_login()
    try:
        guard(request).check_origin(request)  # before the body is parsed
        async with request.form(max_files=1, max_fields=4) as form:  # closes the file
            session.check_form(request, form.get(session.FIELD), staff)
            console = session.service(request)
            console.require(staff, "catalog")
            gtin, upload = str(form.get("gtin") or "").strip()[:14], form.get("image")
            if not isinstance(upload, UploadFile):
                raise ValidationError("choose a picture to upload", field="image")
            data = await upload.read(MAX_UPLOAD + 1)
        images = images_of(console.ledger)
        now = console.ledger.now()
        stored = await run_in_threadpool(images.upload, staff.org, gtin, data, now)
        product = await run_in_threadpool(images.product, gtin)
        console.staff.audit(staff.org, staff.username, "upload-image", gtin, stored["hash"])
    except LedgerError as error:
        return _refused(request, staff, error)
    command = _register_command(staff.org, gtin, product, stored["hash"])
    found = await run_in_threadpool(images.catalogue, console.brands_of(staff))
    uploaded = {**stored, "gtin": gtin, "command": command}
    return render(request, "products.html", staff, products=found, uploaded=uploaded)


def _register_command(brand: str, gtin: str, product: object, image_hash: str) -> str:
    """The ``provenance product register`` line that signs ``image_hash`` as the
    picture of ``gtin`` with the brand's key, keeping its other signed data."""
    name = getattr(product, "name", None) or "NAME"
    parts = ["provenance", "product", "register", gtin, "--name", _quote(name)]
    for option, value in (
        ("--name-zh", getattr(product, "name_zh", None)),
        ("--support", getattr(product, "support", None)),
    ):
        if value:
            parts += [option, _quote(value)]
    parts += ["--image", image_hash, "--as", brand]
    return " ".join(parts)


def _quote(text: str) -> str:
    """A POSIX shell word for ``text`` (single quotes; a quote inside closed and
    escaped)."""
    return "'" + text.replace("'", "'\\''") + "'"


@router.get("/images/{image_hash}")
async def stored_image(request: Request, image_hash: str) -> Response:
    """A stored picture by its hash (signed or not yet), for the brand's staff to see
    what they are about to sign."""

    async def page(request: Request, staff: Staff) -> Response:
        images = images_of(session.service(request).ledger)
        data, media = await run_in_threadpool(images.stored, image_hash)
        return Response(data, media_type=media, headers={"Cache-Control": "private, no-store"})

    return await _page(request, page)


@router.get("/products/{gtin}/image")
async def product_image(request: Request, gtin: str) -> Response:
    """The product's signed picture, as the shopper's page shows it (a thumbnail here)."""

    async def page(request: Request, staff: Staff) -> Response:
        console = session.service(request)
        images = images_of(console.ledger)
        product = await run_in_threadpool(images.product, gtin)
        if product is None:
            raise NotFoundError(f"no product {gtin}", field="gtin")
        console.check_brand(staff, product.brand)
        data, media, _ = await run_in_threadpool(images.verified, gtin)
        return Response(data, media_type=media, headers={"Cache-Control": "private, no-store"})

    return await _page(request, page)


# --- print batches --------------------------------------------------------------------


@router.get("/batches")
async def batches(request: Request) -> Response:
    """The print batches with their state, the reprint list and the void form."""

    async def page(request: Request, staff: Staff) -> Response:
        found = await run_in_threadpool(batches_of(session.service(request)).batches, staff)
        return render(request, "batches.html", staff, batches=found, done=_voided(request))

    return await _page(request, page)


@router.get("/batches/{batch_id}/units.txt")
async def batch_units(request: Request, batch_id: int) -> Response:
    """The batch's units as ``GTIN/SERIAL`` lines (``provenance label --units-file``)."""

    async def page(request: Request, staff: Staff) -> Response:
        lines = await run_in_threadpool(
            batches_of(session.service(request)).unit_lines, staff, batch_id
        )
        return Response(
            lines,
            media_type="text/plain; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="batch-{batch_id}-units.txt"',
                "Cache-Control": "private, no-store",
            },
        )

    return await _page(request, page)


def _voided(request: Request) -> int | None:
    """How many recalls the void just appended (``?done=void&n=``), or None."""
    n = request.query_params.get("n", "")
    if request.query_params.get("done") == "void" and n.isdigit() and len(n) < 10:
        return int(n)
    return None


@router.post("/batches/{batch_id}/void")
async def void_batch(request: Request, batch_id: int) -> Response:
    """Void a print batch: a recall of each of its units, signed by the console key."""

    def act(staff: Staff, form: dict[str, str]) -> Response:
        done = batches_of(session.service(request)).void(staff, batch_id, form.get("note", ""))
        return _done_redirect("/console/batches", "void", done)

    return await _post(request, act)
