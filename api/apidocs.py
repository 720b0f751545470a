"""The API docs page (``/docs``): Swagger UI served from this server, never a CDN.

Consoles and servers run inside company networks and in China, where public CDNs are
slow or blocked, so the page's script, stylesheet and icon come from the copy of Swagger
UI (Apache 2.0) that the ``fastapi-offline`` package ships (MIT), mounted at
``/docs/static/``. `docs_policy` is the page's CSP: those files from this origin and the
one inline script by its hash; nothing else.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.headers import csp_hash, inline

DOCS = "/docs"
STATIC = f"{DOCS}/static"
#: Swagger UI's files, as the ``fastapi-offline`` wheel installs them
ASSETS = Path(fastapi_offline.__file__).parent / "static"


def docs_page(app: FastAPI) -> HTMLResponse:
    """The Swagger UI page of ``app``'s OpenAPI document, its assets from `STATIC`."""
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC}/favicon.png",
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


def docs_policy(app: FastAPI) -> str:
    """The CSP of the docs page: script and style from this origin, its one inline script
    by hash, images from this origin (and Swagger UI's data: icons), the OpenAPI
    document fetched from this origin. Built from the very page `docs_page` renders."""
    html = bytes(docs_page(app).body).decode()
    scripts = " ".join(csp_hash(s) for s in inline(html, "script"))
    return (
        f"default-src 'none'; script-src 'self' {scripts}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def install_docs(app: FastAPI) -> None:
    """Serve the docs page at `DOCS` and its assets at `STATIC` (neither in the schema).

    Raises:
        RuntimeError: the ``fastapi-offline`` package is installed without its assets.
    """
    if not (ASSETS / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"Swagger UI's files are missing from {ASSETS}")
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="docs-static")

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return docs_page(app)
