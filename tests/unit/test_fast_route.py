"""api.routers.resolver.install_fast_route: the resolver's raw route goes first of all
routes (a scan is tried against no other route), and only while no route mounted before
the resolver's answers a resolver path."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from api.routers import resolver


def _app(*earlier: APIRouter) -> FastAPI:
    app = FastAPI()
    for router in earlier:
        app.include_router(router)
    app.include_router(resolver.router)
    return app


def test_the_fast_route_goes_first() -> None:
    units = APIRouter()

    @units.get("/v1/units/{gtin}/{serial}")
    def unit(gtin: str, serial: str) -> dict[str, str]:
        return {}

    app = _app(units)
    resolver.install_fast_route(app.router.routes)
    assert app.router.routes[0] is resolver.FAST_ROUTE


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/01/{gtin}/21/{serial}"), ("POST", "/01/{rest:path}"), ("GET", "/{anything:path}")],
)
def test_a_route_before_the_resolver_that_answers_its_paths_is_refused(
    method: str, path: str
) -> None:
    """Moving the fast route first would take that route's requests: the app does not
    start (a programming error), whatever the method."""
    earlier = APIRouter()
    earlier.add_api_route(path, lambda: {}, methods=[method])
    app = _app(earlier)
    with pytest.raises(RuntimeError, match="before the resolver"):
        resolver.install_fast_route(app.router.routes)
    assert resolver.FAST_ROUTE not in app.router.routes
