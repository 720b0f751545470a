"""A raw Starlette route put first of all routes, in front of its typed FastAPI twin.

The resolver (``GET /01/...``) and the single-event append (``POST /v1/entries``) are
the app's most frequent requests; each has a raw route that skips FastAPI's request
handling, while its typed route stays for OpenAPI and the ``/logs/{log}/`` forms. The
raw route goes first, so the routes mounted before the typed one must not answer its
requests (any match, even of the path alone, would have served or refused them first):
`install_first` checks that before it installs the raw route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter
from starlette.routing import Match, Route


def install_first(
    routes: list[Any],
    fast: Route,
    router: APIRouter,
    endpoint: Callable[..., Any],
    asked: Iterable[tuple[str, str]],
    owner: str,
) -> None:
    """Put ``fast`` first in ``routes``, after checking that no route mounted before
    ``router`` (or its ``endpoint``'s route) answers any (method, path) in ``asked``.

    Raises:
        RuntimeError: such a route does (a programming error: ``fast`` would take its
            requests); the message names it and ends "before ``owner``".
    """
    at = next(
        i
        for i, r in enumerate(routes)
        # FastAPI keeps an included router whole (its original_router), or its routes
        if getattr(r, "original_router", None) is router or getattr(r, "endpoint", None) is endpoint
    )
    refuse_answered(routes[:at], asked, f"before {owner}")
    routes.insert(0, fast)


def refuse_answered(earlier: Iterable[Any], asked: Iterable[tuple[str, str]], where: str) -> None:
    """Raise RuntimeError ("... answers METHOD PATH: ``where``") if any of ``earlier``
    routes answers (matches at all) any (method, path) in ``asked``."""
    asked = list(asked)
    for route in earlier:
        for method, path in asked:
            scope = {"type": "http", "path": path, "root_path": "", "method": method}
            if route.matches(scope)[0] is not Match.NONE:
                raise RuntimeError(f"{route!r} answers {method} {path}: {where}")
