"""A product's Chinese name and the brand's support contact (issue 22), signed by the brand
with its ``product.register`` and shown on the shopper's page: the Chinese page names the
product in Chinese, a recall puts the brand's own support contact first. Only the
brand's signature carries them (another brand's, or the operator's, is refused)."""

from __future__ import annotations

import pytest

from tests.e2e.server import Served
from tests.e2e.test_signals_api import _append
from tests.rules_factories import event_hash

pytestmark = pytest.mark.e2e
HTML = {"Accept": "text/html"}
GTIN_B = "09506000123455"  # under acme's prefix 9506000
SUPPORT = "+86 400 800 1234"


def test_the_brands_signed_product_data_reaches_the_shoppers_page(asgi_server: Served) -> None:
    server = asgi_server
    world = server.world.world
    fields = {"gtin": GTIN_B, "name": "Trail Boot", "name_zh": "越野靴", "support": SUPPORT}
    forged = world.sign("product.register", "operator", **fields)
    refused = server.post("/v1/entries", json=forged.to_dict())
    assert refused.status_code == 422 and refused.json()["type"].endswith(":not-brand")
    _append(server, world.sign("product.register", "acme", **fields))
    unit = {"gtin": GTIN_B, "serial": "BOOT-1"}
    commission = world.sign("commission", "acme", unit=unit, prev=None)
    _append(server, commission)
    view = server.get(f"/v1/units/{GTIN_B}/BOOT-1").json()
    product = view["unit"]["product"]
    assert product["names"] == {"en": "Trail Boot", "zh-CN": "越野靴"}
    assert product["support"] == SUPPORT
    chinese = server.get(f"/01/{GTIN_B}/21/BOOT-1?lang=zh-CN", headers=HTML).text
    assert "越野靴" in chinese
    recall = world.sign(
        "recall", "acme", unit=unit, prev=event_hash(commission), reason="sole defect"
    )
    _append(server, recall)
    page = server.get(f"/01/{GTIN_B}/21/BOOT-1", headers=HTML).text
    assert "Recalled: do not use" in page and SUPPORT in page
