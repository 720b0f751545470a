"""Posting the page's forms as a browser does: the page first (it sets the csrf cookie
and carries the token in each form), then the form with the token and the page's
``Origin`` (api/csrf.py). For tests that post the claim or report form over HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx

_TOKEN = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')


def origin(client: httpx.Client) -> str:
    """The origin of the server ``client`` talks to (its base URL without a path)."""
    url = client.base_url
    return f"{url.scheme}://{url.netloc.decode()}"


def page_token(client: httpx.Client, gtin: str, serial: str) -> str:
    """Open the unit's page with ``client`` (which keeps the csrf cookie it sets) and
    return the token its forms carry."""
    page = client.get(f"/01/{gtin}/21/{serial}", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    found = _TOKEN.search(page.text)
    assert found, "the page has no form with a csrf token"
    return found.group(1)


def post_form(
    client: httpx.Client,
    path: str,
    gtin: str,
    serial: str,
    data: dict[str, str],
    **kwargs: Any,
) -> httpx.Response:
    """Post ``data`` to ``path`` as the unit's page form does (``kwargs``: ``files``...)."""
    token = page_token(client, gtin, serial)
    headers = {"Origin": origin(client), **kwargs.pop("headers", {})}
    return client.post(path, data={**data, "csrf": token}, headers=headers, **kwargs)
