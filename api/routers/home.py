"""The shopper's home: ``/`` and ``/how-to-check``, the "How to check a product" page
(both languages, by ``Accept-Language`` or ``lang``). ``/`` is a page for a browser only;
an API client (no ``text/html`` in ``Accept``) gets 404 problem+json."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.consumer.error_page import render_help_page, wants_html
from api.consumer.i18n import choose_language
from api.schemas import problems
from ledger.errors import NotFoundError

router = APIRouter(tags=["units"])

_Lang = Annotated[str | None, Query(description="the page's language", examples=["en", "zh-CN"])]


_PAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/html": {"schema": {"type": "string"}}},
        "description": "the page, in English or Chinese",
    },
    **problems(404, 422),
}


@router.get(
    "/",
    summary="The shopper's home: How to check a product (HTML for a browser, else 404)",
    response_class=HTMLResponse,
    responses=_PAGE,
)
@router.get(
    "/how-to-check",
    summary="How to check a product (HTML, English or Chinese)",
    response_class=HTMLResponse,
    responses=_PAGE,
)
async def how_to_check(request: Request, lang: _Lang = None) -> Response:
    """The "How to check a product" page for a browser; ``/`` answers an API client 404."""
    if request.url.path == "/" and not wants_html(request.headers.get("accept")):
        raise NotFoundError("nothing here: the API is under /v1/, labels under /01/")
    chosen = choose_language(request.headers.get("accept-language"), lang)
    headers = {"Content-Language": chosen, "Vary": "Accept, Accept-Language"}
    return HTMLResponse(render_help_page(chosen), headers=headers)
