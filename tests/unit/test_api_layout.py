"""The API's layout: one router module per URL prefix, every one of them mounted.

A new route goes in the module of its prefix (or a new module, added to
`api.app.ROUTERS`); this keeps `api/routers/` a map of the URL space.
"""

from __future__ import annotations

import importlib
import pkgutil

import api.routers
from api import app
from api.routers import units

PREFIXES = {
    "actors": ("/v1/actors/",),
    "brands": ("/v1/brands/",),
    "entries": ("/v1/entries",),
    "epcis": ("/v1/epcis/",),
    "home": ("/how-to-check", "/"),  # "/" itself, the home page, and nothing under it
    "log": ("/v1/checkpoint", "/v1/log/"),
    "ops": ("/healthz", "/metrics"),
    "partners": ("/v1/partners/",),
    "products": ("/v1/products/",),
    "proofs": ("/v1/proofs/",),
    "reports": ("/v1/reports",),
    "resolver": ("/01/",),
    "tiles": ("/v1/tile/",),
    "units": ("/v1/units/",),
}


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(api.routers.__path__))


def test_every_router_module_serves_only_its_prefix() -> None:
    assert _modules() == sorted(PREFIXES)
    for name in _modules():
        router = importlib.import_module(f"api.routers.{name}").router
        paths = [route.path for route in router.routes]
        assert paths, name
        for path in paths:
            assert path.startswith(PREFIXES[name]), (name, path)
            assert name != "home" or path in ("/", "/how-to-check"), path


def test_every_router_is_mounted_once_and_log_scoped_ones_are_log_routers() -> None:
    mounted = [module.__name__.rsplit(".", 1)[1] for module in app.ROUTERS]
    assert sorted(mounted) == _modules()
    scoped = {module.__name__.rsplit(".", 1)[1] for module in app.LOG_SCOPED}
    assert scoped == {"entries", "log", "proofs", "actors", "partners", "tiles"}


def test_units_declares_the_proof_and_claim_before_the_catch_all_view() -> None:
    paths = [route.path for route in units.router.routes]
    view = paths.index("/v1/units/{gtin}/{serial:path}")
    assert paths.index("/v1/units/{gtin}/{serial:path}/proof") < view
    assert paths.index("/v1/units/{gtin}/{serial}/claim") < view
