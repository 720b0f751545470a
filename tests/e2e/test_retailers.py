"""A brand's public list of the shops it authorizes (issue 23), from its signed
authorizations: only retailers in force today are listed (never its couriers or
inspectors, never a revoked grant); JSON for platforms, a page for a shopper (linked
from every unit page), in English and Chinese."""

from __future__ import annotations

import pytest

from tests.e2e.server import Served
from tests.e2e.test_signals_api import _append
from tests.factories import GTIN

pytestmark = pytest.mark.e2e
HTML = {"Accept": "text/html"}


def test_the_brand_lists_its_authorized_shops_and_nothing_else(asgi_server: Served) -> None:
    server = asgi_server
    listed = server.get("/v1/brands/acme/retailers").json()
    assert [(r["id"], r["name"]) for r in listed["retailers"]] == [("shop", "Shop")]
    assert listed["retailers"][0]["prefixes"] == ["9506000"]
    page = server.get("/v1/brands/acme/retailers", headers=HTML)
    assert (
        page.status_code == 200
        and "Shops Acme authorizes" in page.text
        and "Shop, authorized until" in page.text
    )
    assert "Ship-Co" not in page.text and "Insp" not in page.text
    chinese = server.get("/v1/brands/acme/retailers?lang=zh-CN", headers=HTML).text
    assert "Acme 授权的销售商" in chinese and "Shop，授权至" in chinese  # noqa: RUF001
    unit = server.get(f"/01/{GTIN}/21/SN-0001", headers=HTML).text
    assert 'href="/v1/brands/acme/retailers?lang=en"' in unit
    assert server.get("/v1/brands/nobody/retailers").status_code == 404

    world = server.world.world
    grant = world.auths["shop"]
    _append(server, world.sign("authorization.revoke", "acme", authorization=grant))
    assert server.get("/v1/brands/acme/retailers").json()["retailers"] == []
    after = server.get("/v1/brands/acme/retailers", headers=HTML).text
    assert "Acme authorizes no shop here today." in after
