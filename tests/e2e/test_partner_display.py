"""Partners named as the brand chooses (issue 22): a brand's ``authorize`` with
``display: role`` makes the shopper's page name that partner by its role alone
("Courier") on the brand's units; without it, by its registered name. The choice is
the brand's signed event, read from the log (its latest authorization of the partner)."""

from __future__ import annotations

import pytest

from ledger.errors import ValidationError
from tests.e2e.server import Served
from tests.e2e.test_signals_api import _append
from tests.factories import GTIN
from tests.rules_factories import WINDOW, event_hash

pytestmark = pytest.mark.e2e
HTML = {"Accept": "text/html"}


def test_the_brand_chooses_whether_a_partner_is_named_or_shown_by_its_role(
    asgi_server: Served,
) -> None:
    server = asgi_server
    world = server.world.world
    unit = {"gtin": GTIN, "serial": "DISP-1"}
    commission = world.sign("commission", "acme", unit=unit, prev=None)
    _append(server, commission)
    handoff = world.sign("handoff", "acme", unit=unit, prev=event_hash(commission), to="ship-co")
    _append(server, handoff)
    path = f"/01/{GTIN}/21/DISP-1"
    named = server.get(path, headers=HTML).text
    assert "Ship-Co" in named
    assert "display" not in server.get(f"/v1/units/{GTIN}/DISP-1").json()["unit"]["pending"]
    scope = {"gtins": [GTIN], "prefixes": [], **WINDOW}
    grant = world.sign(
        "authorize", "acme", partner="ship-co", role="courier", display="role", **scope
    )
    _append(server, grant)
    view = server.get(f"/v1/units/{GTIN}/DISP-1").json()
    assert view["unit"]["pending"]["display"] == "role"
    shown = server.get(path, headers=HTML).text
    assert "Ship-Co" not in shown and "Courier" in shown
    assert "Ship-Co" not in server.get(f"{path}?lang=zh-CN", headers=HTML).text
    with pytest.raises(ValidationError):  # name or role, nothing else
        world.sign("authorize", "acme", partner="ship-co", role="courier", display="x", **scope)
