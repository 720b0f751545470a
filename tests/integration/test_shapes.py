"""The service returns exactly the shapes `ledger.shapes` declares (and the API documents).

Each service answer of a small story (a unit minted, scanned, reported, answered,
claimed; an actor; entries; a receipt) is checked against its typed dict: every
required key present, no key the shape does not declare, every value of its declared
type, every vocabulary value a member of its `ledger.vocab` enum. The OpenAPI models are
built from the same typed dicts (api.schemas), so this is also the check that what the
API documents is what it answers.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import pytest

from ledger import entry, shapes
from ledger.events import event_from_dict, format_time
from tests.factories import GTIN, key
from tests.integration.signals_world import SignalWorld


def conforms(value: Any, hint: Any, where: str = "$") -> None:
    """Assert that ``value`` is of type ``hint`` (typed dicts checked key by key)."""
    if hint is Any:
        return
    if typing.is_typeddict(hint):
        assert isinstance(value, dict), where
        hints = typing.get_type_hints(hint)
        assert hint.__required_keys__ <= set(value), (where, hint.__required_keys__ - set(value))
        assert set(value) <= set(hints), (where, set(value) - set(hints))
        for name, item in value.items():
            conforms(item, hints[name], f"{where}.{name}")
        return
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        failures = []
        for option in args:
            try:
                conforms(value, option, where)
                return
            except AssertionError as e:
                failures.append(e)
        raise AssertionError(where, value, failures)
    if origin is list:
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            conforms(item, args[0], f"{where}[{i}]")
        return
    if origin is dict:
        assert isinstance(value, dict), where
        for name, item in value.items():
            assert isinstance(name, str), where
            conforms(item, args[1], f"{where}.{name}")
        return
    if hint is type(None):
        assert value is None, where
        return
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        assert value in [m.value for m in hint], (where, value, hint)
        return
    if hint is int:
        assert isinstance(value, int) and not isinstance(value, bool), (where, value)
        return
    assert isinstance(value, hint), (where, value, hint)


def service(ledger: Any, name: str) -> Any:
    """The ledger's ``name`` service once the Ledger is composed (issue 15), else itself."""
    return getattr(ledger, name, ledger)


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    yield world
    world.ledger.close()


def test_every_answer_of_a_story_has_its_declared_shape(sw: SignalWorld) -> None:
    ledger = sw.ledger
    conforms(ledger.unit_view(GTIN, "SN-0"), shapes.UnitViewShape)
    code = sw.mint("SN-1")
    sw.mint("SN-2")
    for client, place in (("a", "CN-SH"), ("b", "US"), ("c", None)):
        sw.scan("SN-1", place, client)
    reports = service(ledger, "reports")
    filed = reports.report(GTIN, "SN-2", "counterfeit", text="odd stitching", client="c")
    conforms(filed, shapes.ReportFiledShape)
    acme = ledger.state().actors["acme"]
    conforms(reports.resolve_report(filed["id"], by=acme, action="ack"), shapes.ReportShape)
    head = ledger.state().units[(GTIN, "SN-2")].head
    flag = event_from_dict(
        {
            "kind": "flag",
            "actor": "acme",
            "time": format_time(sw.clock.now),
            "unit": {"gtin": GTIN, "serial": "SN-2"},
            "prev": head,
            "code": "counterfeit-reported",
        }
    )
    flagged = reports.resolve_report(
        filed["id"], by=acme, action="flag", flag=entry.sign_event(flag, key(2), log=ledger.origin)
    )
    conforms(flagged, shapes.ReportShape)
    assert flagged["status"] == "flagged"
    conforms(reports.alerts("acme"), shapes.AlertsShape)
    claimed = service(ledger, "claims").claim(GTIN, "SN-1", code, client="owner")
    conforms(claimed.to_dict(), shapes.ClaimShape)
    for serial in ("SN-1", "SN-2", "SN-404"):
        view = ledger.unit_view(GTIN, serial, owner_token=claimed.owner_token)
        conforms(view, shapes.UnitViewShape)
        assert json.loads(json.dumps(view)) == view  # plain JSON, enums included
    owned = ledger.unit_view(GTIN, "SN-1", owner_token=claimed.owner_token)
    assert owned["unit"] is not None and owned["unit"]["state"] == "claimed"
    assert "owned" in [r["code"] for r in owned["reasons"]]  # the travel signal cautions
    conforms(ledger.actor_view("acme"), shapes.ActorShape)
    conforms(ledger.actor_view("operator"), shapes.ActorShape)
    size = ledger.head().size
    conforms(ledger.entry_views(ledger.entries(0, size), size), list[shapes.EntryShape])
    head = ledger.state().units[(GTIN, "SN-1")].head
    unit = {"gtin": GTIN, "serial": "SN-1"}
    receipt = sw.sign(2, "flag", "acme", unit=unit, prev=head, code="test")
    conforms(receipt.to_dict(), shapes.ReceiptShape)


def test_a_view_serialises_to_the_same_bytes_as_with_plain_strings(sw: SignalWorld) -> None:
    """StrEnum members are their strings: the JSON of a view does not change."""
    sw.mint("SN-1")
    view = sw.ledger.unit_view(GTIN, "SN-1")
    plain = json.loads(json.dumps(view))
    assert type(plain["verdict"]) is str
    assert json.dumps(view, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert (
        json.dumps(view, ensure_ascii=False).encode()
        == json.dumps(plain, ensure_ascii=False).encode()
    )
