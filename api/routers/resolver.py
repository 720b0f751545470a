"""The GS1 Digital Link resolver, ``/01/...``: the consumer page, the unit view as JSON,
or an EPCIS document, by content negotiation. Every page or JSON answer records a scan.

The scanned URI is a label (docs/FORMAT.md section 8.2): its lot (``/10/``) and expiry
(``?17=``) must be the unit's commission (else ``invalid``, ``label-mismatch``), a URI
without ``s`` is an unsigned label (``caution``, ``label-unsigned``), and any parameter
the label did not sign is ignored. ``place=`` is a hint, never evidence
(`api.clients.geo_place`).

For browsers: ``?claim=CODE`` (what the code inside the package holds, docs/FORMAT.md
section 8) opens the claim page with the code filled in, and records no scan (it is the
buyer, not a check); a language switch (``?lang=``) and a search-engine bot record no
scan either, so the count is of shoppers' checks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route
from starlette.types import Scope

from api import gzipparts, viewjson
from api.consumer import pagecache
from api.consumer.claim_page import claim_form, render_claim_page
from api.consumer.i18n import EN, ZH, chinese
from api.consumer.page import choose_language, reason_words
from api.consumer.page_signals import localise
from api.context import Context, ctx, owner_cookie
from api.csrf import fresh_nonce, guard
from api.fastroute import install_first
from api.params import CSET82_PATTERN, Gtin, Serial, Signature
from api.pinning import MIN_SIZE_HEADER, asked_size
from api.routers import epcis
from api.schemas import UnitView, problems
from api.shortmemo import kept_when_short
from ledger import gs1
from ledger.errors import GS1Error
from ledger.label import ScannedLabel
from ledger.service.catalog import images_of

router = APIRouter(tags=["units"])

_Lot = Annotated[
    str,
    Path(
        description="the batch or lot (AI 10)",
        examples=["L1"],
        json_schema_extra={"pattern": CSET82_PATTERN},
    ),
]
_Expiry = Annotated[
    str | None, Query(alias="17", description="the expiry date YYMMDD (AI 17)", examples=["271231"])
]
_Lang = Annotated[str | None, Query(description="the page's language", examples=["en", "zh-CN"])]
_Format = Annotated[
    str | None, Query(alias="format", description="`json` for the unit view as JSON")
]
_Place = Annotated[
    str | None, Query(description="where the scan happened: ISO 3166 country or subdivision")
]
_RESOLVER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/ld+json": {"schema": {"$ref": "#/components/schemas/EpcisDocument"}},
        },
        "description": "the unit view (JSON), the consumer page (HTML), or EPCIS (JSON-LD)",
    },
    **problems(404, 422, 429, 503),
}
for _status in (404, 422, 429, 503):  # a browser gets the error as a page in words
    _RESOLVER_RESPONSES[_status]["content"]["text/html"] = {"schema": {"type": "string"}}


@router.get(
    "/01/{gtin}/21/{serial}",
    summary=(
        "GS1 Digital Link resolver: the consumer page, JSON for Accept: application/json, "
        "an EPCIS 2.0 document for Accept: application/ld+json"
    ),
    response_model=UnitView,
    responses=_RESOLVER_RESPONSES,
)
async def resolve(
    request: Request,
    gtin: Gtin,
    serial: Serial,
    expiry: _Expiry = None,
    s: Signature = None,
    lang: _Lang = None,
    output: _Format = None,
    place: _Place = None,
) -> Response:
    """Resolve ``/01/{gtin}/21/{serial}[?17=YYMMDD&s=...]``; record the scan."""
    return await _resolve(request)


@router.get(
    "/01/{gtin}/10/{lot}/21/{serial}",
    summary="GS1 Digital Link resolver with the batch/lot (AI 10)",
    response_model=UnitView,
    responses=_RESOLVER_RESPONSES,
)
async def resolve_with_lot(
    request: Request,
    gtin: Gtin,
    lot: _Lot,
    serial: Serial,
    expiry: _Expiry = None,
    s: Signature = None,
    lang: _Lang = None,
    output: _Format = None,
    place: _Place = None,
) -> Response:
    """Resolve ``/01/{gtin}/10/{lot}/21/{serial}[?17=YYMMDD&s=...]``; record the scan."""
    return await _resolve(request)


#: what a resolver answer varies by: a cache keeps one answer per value of each
VARY = "Accept, Accept-Encoding, Accept-Language, Cookie"
JSON = "application/json"
#: user agents that are crawlers or link previewers, not a shopper holding the item
_BOTS = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit|preview",
    re.I,
)


# a phone's user agent is ~150-300 characters, and a crowd of phones sends few of them
@kept_when_short(512, 1024)
def _is_crawler(agent: str) -> bool:
    """Whether ``agent`` is a crawler's or a link previewer's (`_BOTS`), kept per agent:
    the case-blind search of a phone's agent took ~20 us, a tenth of the page's work."""
    return _BOTS.search(agent) is not None


@router.get("/01/{rest:path}", include_in_schema=False)
async def resolve_other(request: Request, rest: str) -> Response:
    """Every other ``/01/...`` form (a CPV, a prefix, a serial holding ``%2F``; errors)."""
    return await _resolve(request)


def _typed_route(path: str) -> Any:
    return next(r for r in router.routes if getattr(r, "path", None) == path)


async def _served(request: Request) -> Response:
    """`FAST_ROUTE`'s endpoint: what the typed routes do, under their route's name."""
    raw = request.scope.get("raw_path", b"")
    if b"/21/" not in raw:
        template = "/01/{rest:path}"
    elif b"/10/" in raw:
        template = "/01/{gtin}/10/{lot}/21/{serial}"
    else:
        template = "/01/{gtin}/21/{serial}"
    request.scope["route"] = _typed_route(template)  # metrics count it by its template
    return await _resolve(request)


#: Every ``GET /01/...`` straight to `_resolve`, without FastAPI's parameter handling:
#: the typed routes above document the forms (OpenAPI) and take no other action, since
#: `_resolve` reads the raw path and query itself. Mounted first of all routes
#: (`install_fast_route`), where no other route may answer a scan, and answered before
#: the router (api.hotroutes): a scan is the request the server answers most.
FAST_ROUTE = Route("/01/{rest:path}", _served, methods=["GET"], include_in_schema=False)
FAST_ROUTE.methods = {"GET"}  # as the typed routes: no implicit HEAD

#: a path of each form the resolver serves, by any method (`install_fast_route` checks
#: that no route mounted before the resolver's answers one)
_SAMPLES = ("/01/09506000134352/21/X", "/01/09506000134352/10/L/21/X", "/01/x")
ASKED = [(method, path) for path in _SAMPLES for method in ("GET", "HEAD", "POST")]


def install_fast_route(routes: list[Any]) -> None:
    """Put `FAST_ROUTE` first in ``routes`` (`api.fastroute.install_first`): no route
    mounted before the resolver's may answer a resolver path (`_SAMPLES`, any method).

    Raises:
        RuntimeError: one does (a programming error).
    """
    install_first(routes, FAST_ROUTE, router, resolve, ASKED, "the resolver")


async def _resolve(request: Request) -> Response:
    """Parse the Digital Link from the raw path and query, record the scan, answer."""
    context = ctx(request)
    await context.limit(request)
    scope = request.scope
    raw = scope.get("raw_path", b"").decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    uri = f"http://resolver{raw}" + (f"?{query}" if query else "")
    link = _parsed(uri)
    if link.serial is None:
        raise GS1Error("the resolver needs a serialized unit: /01/{gtin}/21/{serial}", field="path")
    accept, agent, cookie, asked_header, accept_language, accept_encoding = _headers(scope)
    accept = accept or ""
    if epcis.LD_JSON in accept:
        return await epcis.unit_document(request, link)  # docs/EPCIS.md; not a scan
    params = dict(link.query)
    # what the label says: its one signature, its lot and expiry (bound to the unit's
    # commission); parameters it did not sign (WeChat's from=, utm_*) are not read
    scanned = _scanned(uri)
    as_json = params.get("format") == "json" or "application/json" in accept
    claiming = "claim" in params and not as_json
    # a check is a person's: not a claim, a language switch, a crawler, nor a machine
    # or verifier reading JSON (the page is what a phone opens), nor the owner's own
    # rescan (known only from the view: a cookie alone proves nothing)
    counted = not (as_json or claiming or "lang" in params or _is_crawler(agent or ""))
    # no cookie header, no owner cookie: its name (a hash) is not worked out then
    token = None if cookie is None else request.cookies.get(owner_cookie(link.gtin, link.serial))
    now = datetime.now(UTC)  # the time of the scan, and of the page's check
    place = params.get("place")
    if counted and token is None:
        context.scan(request, link.gtin, link.serial, place, now=now, agent=agent, owner_token=None)
    # the query as the link's parse read it: Starlette's QueryParams not built again
    asked = asked_size(params.get("min_size"), asked_header)
    view = await context.unit_view(
        link.gtin, link.serial, scanned.signature, token, request, scanned=scanned, asked=asked
    )
    if counted and token is not None and not view.get("owner"):
        now = datetime.now(UTC)  # the view's read may have waited: the scan is now
        context.scan(
            request, link.gtin, link.serial, place, now=now, agent=agent, owner_token=token
        )
        view = await context.unit_view(  # counting this check, as every view does
            link.gtin,
            link.serial,
            scanned.signature,
            token,
            request,
            scanned=scanned,
            asked=asked,
        )
    headers = {"Cache-Control": "no-store", "Vary": VARY}
    if as_json:
        worded = localise(view, reason_words)
        # a large unit's view deflated once, for every client that takes gzip (a phone,
        # a CDN, httpx): 1.3 MB -> 0.25 MB for a unit of 1,000 entries
        if gzipparts.accepts_gzip(accept_encoding):
            parts, packed = await viewjson.render_encoded(worded, True)
            if packed:
                headers["Content-Encoding"] = "gzip"
        else:
            parts = viewjson.render_parts(worded)
        return viewjson.PartsResponse(parts, media_type=JSON, headers=headers)

    lang = choose_language(accept_language, params.get("lang"))
    other = EN if chinese(lang) else ZH
    switch = _switch(raw, query, other)
    csrf = context.csrf or guard(request)
    # the forms' token is bound to this browser's nonce; with no Cookie header there is
    # none to read (the cookies are not parsed)
    nonce, fresh = (fresh_nonce(), True) if cookie is None else csrf.nonce(request)
    token = csrf.token(nonce, link.gtin, link.serial)  # the link's GTIN is normalized
    headers["Content-Language"] = lang
    response: Response
    if claiming:
        form = claim_form(view, raw, params.get("claim") or "", lang)
        policy = context.ledger_for_unit(link.gtin).claims.policy
        limit = (policy.max_failures, policy.lockout)
        html = render_claim_page(form, lang, csrf_token=token, switch_href=switch, limit=limit)
        response = HTMLResponse(html, headers=headers)
    else:
        image = await _picture(context, view)
        page = pagecache.render(  # bytes: rendered once per (view, language, log state)
            view,
            lang,
            path=raw,
            switch_href=switch,
            now=now,
            csrf_token=token,
            image=image,
        )
        # HTMLResponse's headers, their list worked out once (viewjson.PartsResponse)
        response = viewjson.PartsResponse((page,), media_type="text/html", headers=headers)
    if fresh:
        csrf.set_cookie(response, request, nonce)
    return response


#: the request headers `_resolve` reads, by their ASGI (lower-case) names: their index
#: in `_headers`'s answer
_READ = {
    b"accept": 0,
    b"user-agent": 1,
    b"cookie": 2,
    MIN_SIZE_HEADER.lower().encode("latin-1"): 3,
    b"accept-language": 4,
    b"accept-encoding": 5,
}


def _headers(scope: Scope) -> list[str | None]:
    """The value of each of `_READ`'s headers (the first of its name, as Starlette's
    ``Headers.get``), None for one not sent: the raw list read once, not once per
    header as ``request.headers.get`` reads it."""
    found: list[str | None] = [None] * len(_READ)
    for name, value in scope["headers"]:
        at = _READ.get(name)
        if at is not None and found[at] is None:
            found[at] = value.decode("latin-1")
    return found


#: a printed label's link is short; only links up to this many characters are kept, so
#: 2,048 kept parses hold at most a few MB however long a stranger makes his links
_KEPT_URI = 256


@kept_when_short(_KEPT_URI, 2048)
def _parsed(uri: str) -> gs1.DigitalLink:
    """`gs1.parse_digital_link` of ``uri``, kept for the next scans of the same label
    when the link is a label's length (a printed label is one URI; a parse is immutable;
    a refusal is not kept).

    Raises:
        GS1Error: ``uri`` is not a valid GS1 Digital Link.
    """
    return gs1.parse_digital_link(uri)


@kept_when_short(_KEPT_URI, 2048)
def _scanned(uri: str) -> ScannedLabel:
    """`ScannedLabel.from_link` of `_parsed` ``uri``, kept as the parse is.

    Raises:
        GS1Error: ``uri`` is not a valid GS1 Digital Link, or it has several ``s``.
    """
    return ScannedLabel.from_link(_parsed(uri))


@kept_when_short(_KEPT_URI, 2048)
def _switch(raw: str, query: str, other: str) -> str:
    """The language switch's link: the scanned path (``raw``) and query string with
    ``lang=other`` (any other ``lang`` dropped); kept, as the parse is, for a link of a
    label's length (keyed by the strings as sent: no tuple of pairs to size and hash).

    Raises:
        GS1Error: the link is not a valid GS1 Digital Link (the caller parsed it first).
    """
    pairs = _parsed(f"http://resolver{raw}" + (f"?{query}" if query else "")).query
    return raw + "?" + urlencode([(k, v) for k, v in pairs if k != "lang"] + [("lang", other)])


async def _picture(context: Context, view: dict[str, Any]) -> tuple[str, int, int] | None:
    """(URL, width, height) of the unit's product picture when its stored bytes are the
    ones the brand signed (ledger.service.catalog); the database is read at most once a
    minute per picture, off the event loop."""
    unit = view.get("unit") or {}
    product = unit.get("product") or {} if isinstance(unit, dict) else {}
    signed = product.get("image") if isinstance(product, dict) else None
    gtin = unit.get("gtin") if isinstance(unit, dict) else None
    if not isinstance(signed, str) or not isinstance(gtin, str):
        return None
    images = images_of(context.deployment.for_gtin(gtin))
    cached, size = images.known(gtin, signed)
    if not cached:
        size = await run_in_threadpool(images.shown, gtin, signed)
    if size is None:
        return None
    return f"/v1/products/{gtin}/image/{signed}", size[0], size[1]
