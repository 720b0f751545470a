"""The partner reads (ledger.service.partners) on SQLite and PostgreSQL: custody of many
units at once, the inbox, holdings and the actor list follow handoffs and receipts."""

from __future__ import annotations

import pytest

from ledger import shapes
from ledger.errors import ValidationError
from ledger.service.partners import MAX_UNITS
from ledger.vocab import Role
from tests.factories import GTIN
from tests.integration.test_shapes import conforms
from tests.integration.world import LedgerWorld
from tests.rules_factories import SERIAL


def test_custody_inbox_and_holdings_follow_a_handoff(world: LedgerWorld) -> None:
    partners = world.ledger.partners
    (before,) = partners.custody([(GTIN, SERIAL), (GTIN, "NEVER-MINTED")])
    assert (before["custodian"], before["pending"]) == ("acme", None)
    assert [u["serial"] for u in partners.holdings("acme")] == [SERIAL]
    assert partners.inbox("ship-co") == []

    receipt = world.append(world.world.on_unit("handoff", "acme", to="ship-co"))
    index = receipt.receipts[0].index
    (moving,) = partners.custody([(GTIN, SERIAL)])
    assert (moving["custodian"], moving["pending"], moving["head_index"]) == (
        "acme",
        "ship-co",
        index,
    )
    (coming,) = partners.inbox("ship-co")
    conforms({"actor": "ship-co", "units": [coming]}, shapes.HeldListShape)
    conforms({"units": [moving]}, shapes.CustodyListShape)
    assert (coming["serial"], coming["counterpart"], coming["index"]) == (SERIAL, "acme", index)
    (handed,) = partners.holdings("acme")
    assert handed["counterpart"] == "ship-co"

    world.append(world.world.on_unit("receive", "ship-co"))
    assert partners.inbox("ship-co") == [] and partners.holdings("acme") == []
    (held,) = partners.holdings("ship-co")
    assert (held["serial"], held["counterpart"]) == (SERIAL, None)


def test_actor_list_by_role(world: LedgerWorld) -> None:
    partners = world.ledger.partners
    conforms({"actors": partners.actors()}, shapes.ActorListShape)
    everyone = [a["id"] for a in partners.actors()]
    assert everyone == sorted(everyone) and {"acme", "ship-co", "shop"} <= set(everyone)
    couriers = partners.actors(Role.COURIER)
    assert [(a["id"], a["role"], a["revoked"]) for a in couriers] == [("ship-co", "courier", False)]


def test_custody_refuses_more_than_a_batch(world: LedgerWorld) -> None:
    with pytest.raises(ValidationError):
        world.ledger.partners.custody([(GTIN, f"S-{n}") for n in range(MAX_UNITS + 1)])
