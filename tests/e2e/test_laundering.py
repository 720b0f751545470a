"""Custody that cannot be laundered (issue 17), mounted against the real server (uvicorn
on loopback TCP, `live_server`; SQLite and PostgreSQL).

The attacks, each refused with its own problem type and nothing written (the log's size,
its checkpoint and the unit's view stay as they were):

- a retailer that never held a delivered unit signs ``return`` to itself, then
  ``receive`` and ``sell``: before, all three were accepted and the verdict went from
  ``caution (sold)`` to ``genuine``, ``in_stock``;
- a ``return`` over an open handoff, which silently replaced it;
- a ``return`` naming a party that never held the unit.

And the legitimate path: the retailer of record takes the unit back; the page then says
"returned after sale on DATE" (``caution``, ``returned-after-sale``), and after a new
sale "sold again after a return" (``caution``, ``sold`` and ``resold``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.consumer.i18n import EN, ZH, format_day, text
from ledger.entry import SignedEvent
from tests.e2e.server import LiveServer
from tests.factories import GTIN, public_b64
from tests.rules_factories import World

PROBLEM = "application/problem+json"


def _post(server: LiveServer, world: World, signed: SignedEvent) -> None:
    """Append ``signed`` (it must be accepted) and keep the test's world in step."""
    response = server.post("/v1/entries", json=signed.to_dict(), timeout=30)
    assert response.status_code == 201, response.text
    world.accept(signed)


def _view(server: LiveServer, serial: str) -> dict[str, Any]:
    view: dict[str, Any] = server.get(f"/v1/units/{GTIN}/{serial}").json()
    view.pop("scans", None)  # the one part of a view that is not the log's
    return view


def _refused(server: LiveServer, signed: SignedEvent, code: str, serial: str) -> None:
    """POSTing ``signed`` answers 422 problem ``code``; log and unit view are unchanged."""
    size = server.get("/healthz").json()["size"]
    checkpoint = server.get("/v1/checkpoint").text
    view = _view(server, serial)
    response = server.post("/v1/entries", json=signed.to_dict(), timeout=30)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == f"urn:provenance-ledger:problem:{code}"
    assert server.get("/healthz").json()["size"] == size
    assert server.get("/v1/checkpoint").text == checkpoint
    assert _view(server, serial) == view


def _verdict(server: LiveServer, serial: str) -> tuple[str, list[str], str]:
    view = _view(server, serial)
    return view["verdict"], [r["code"] for r in view["reasons"]], view["unit"]["state"]


def _commission(server: LiveServer, world: World, serial: str) -> None:
    unit = {"gtin": GTIN, "serial": serial}
    _post(server, world, world.sign("commission", "acme", unit=unit, prev=None))


def _second_retailer(server: LiveServer, world: World) -> None:
    """``shop-2``: a retailer of acme's products that never holds the laundered unit."""
    if "shop-2" in world.state.actors:
        return
    world.seeds["shop-2"] = 31
    register = world.sign(
        "actor.register",
        "operator",
        subject="shop-2",
        role="retailer",
        name="Shop Two",
        keys=[public_b64(31)],
    )
    _post(server, world, register)
    authorize = world.sign(
        "authorize",
        "acme",
        partner="shop-2",
        role="retailer",
        gtins=[GTIN],
        prefixes=[],
        not_before="2026-01-01T00:00:00Z",
        not_after="2036-01-01T00:00:00Z",
    )
    _post(server, world, authorize)


def _sold_and_delivered(server: LiveServer, world: World, serial: str) -> None:
    _commission(server, world, serial)
    for kind, actor, fields in (
        ("handoff", "acme", {"to": "shop"}),
        ("receive", "shop", {}),
        ("sell", "shop", {}),
        ("deliver", "shop", {}),
    ):
        _post(server, world, world.on_unit(kind, actor, serial=serial, **fields))


def test_a_retailer_that_never_held_a_sold_unit_cannot_launder_it(live_server: LiveServer) -> None:
    server, w = live_server, live_server.world.world
    serial = "LAUNDER-1"
    _second_retailer(server, w)
    _sold_and_delivered(server, w, serial)
    assert _verdict(server, serial) == ("caution", ["sold"], "delivered")
    # the attack of issue 17: return to itself, then receive and sell
    attack = w.on_unit("return", "shop-2", serial=serial, to="shop-2", reason="wrong size")
    _refused(server, attack, "not-retailer-of-record", serial)
    # nor to a party that did hold it: only the retailer of record (or the brand) returns
    _refused(
        server,
        w.on_unit("return", "shop-2", serial=serial, to="shop"),
        "not-retailer-of-record",
        serial,
    )
    _refused(server, w.on_unit("receive", "shop-2", serial=serial), "not-recipient", serial)
    _refused(server, w.on_unit("sell", "shop-2", serial=serial), "not-custodian", serial)
    assert _verdict(server, serial) == ("caution", ["sold"], "delivered")


def test_the_retailer_of_record_takes_it_back_and_the_sale_stays_visible(
    live_server: LiveServer,
) -> None:
    server, w = live_server, live_server.world.world
    serial = "RETURN-1"
    _sold_and_delivered(server, w, serial)
    sold_on = w.unit(serial).last_sold
    assert sold_on is not None
    _post(server, w, w.on_unit("return", "shop", serial=serial, to="shop", reason="wrong size"))
    _post(server, w, w.on_unit("receive", "shop", serial=serial))
    # back in stock, but never a plain "genuine" that hides the sale
    verdict, reasons, state = _verdict(server, serial)
    assert (verdict, reasons, state) == ("caution", ["returned-after-sale"], "in_stock")
    view = _view(server, serial)
    assert view["reasons"][0]["evidence"] == {"sales": 1, "last_sold": sold_on}
    assert (view["unit"]["sales"], view["unit"]["last_sold"]) == (1, sold_on)
    day = datetime.fromisoformat(sold_on.replace("Z", "+00:00")).astimezone(UTC).date()
    en = server.get(f"/01/{GTIN}/21/{serial}", params={"lang": "en"}).text
    zh = server.get(f"/01/{GTIN}/21/{serial}", params={"lang": "zh-CN"}).text
    assert text(EN, "r.returned-after-sale", date=format_day(day, EN)) in en
    assert text(ZH, "r.returned-after-sale", date=format_day(day, ZH)) in zh
    assert f"{day.year}年{day.month}月{day.day}日" in zh
    # sold again: the sale is said, and that it is a second one
    _post(server, w, w.on_unit("sell", "shop", serial=serial))
    assert _verdict(server, serial) == ("caution", ["sold", "resold"], "sold")
    assert "Sold again after a return" in server.get(f"/01/{GTIN}/21/{serial}").text
    assert "退回后再次售出" in server.get(f"/01/{GTIN}/21/{serial}", params={"lang": "zh-CN"}).text


def test_a_return_over_an_open_handoff_is_refused(live_server: LiveServer) -> None:
    server, w = live_server, live_server.world.world
    serial = "OPEN-1"
    _commission(server, w, serial)
    _post(server, w, w.on_unit("handoff", "acme", serial=serial, to="ship-co"))
    over = w.on_unit("return", "acme", serial=serial, to="acme", reason="changed my mind")
    _refused(server, over, "return-over-transfer", serial)
    view = _view(server, serial)
    assert view["unit"]["state"] == "in_transit" and view["unit"]["pending"]["id"] == "ship-co"
    # the open transfer completes as it was sent; then the recipient may return it
    _post(server, w, w.on_unit("receive", "ship-co", serial=serial))
    _post(server, w, w.on_unit("return", "ship-co", serial=serial, to="acme"))
    assert _view(server, serial)["unit"]["pending"]["id"] == "acme"


@pytest.mark.parametrize("to", ["shop", "nobody-at-all"])
def test_a_return_to_a_party_that_never_held_the_unit_is_refused(
    live_server: LiveServer, to: str
) -> None:
    server, w = live_server, live_server.world.world
    serial = f"NEVER-{to}"
    _commission(server, w, serial)
    _post(server, w, w.on_unit("handoff", "acme", serial=serial, to="ship-co"))
    _post(server, w, w.on_unit("receive", "ship-co", serial=serial))
    # shop is a registered retailer that never had this unit; the other is no actor at all
    _refused(server, w.on_unit("return", "ship-co", serial=serial, to=to), "never-held", serial)
    assert _verdict(server, serial) == ("genuine", ["verified"], "in_stock")
