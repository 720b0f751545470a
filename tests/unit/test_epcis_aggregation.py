"""Cartons and pallets in EPCIS 2.0: ``pack`` and ``unpack`` export as AggregationEvents
that validate against GS1's schema, and captured again (signed by each actor, converted,
through the rules) rebuild exactly the same unit chains; malformed aggregations are
refused by their codes."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import codec
from ledger.epcis import capture, errors
from ledger.epcis.export import export_document
from ledger.events import UnitEvent
from ledger.sscc import sscc_check_digit, sscc_urn
from tests.epcis_support import (
    CREATED,
    assert_valid,
    entries_of,
    envelopes,
    unit_events,
)
from tests.rules_factories import ACTORS, GTIN, NOW, ORIGIN, World, base


def _sscc(n: int) -> str:
    body = f"09506000{n:09d}"
    return body + str(sscc_check_digit(body))


CARTON, PALLET = _sscc(1), _sscc(2)
SERIALS = ("SN-0001", "SN-2", "SN-3")


def _start() -> World:
    world = base()
    for serial in SERIALS[1:]:
        world.commission(serial)
    return world


def _story(world: World) -> World:
    """Three units into a carton, the carton onto a pallet, to the courier, unpacked."""
    for serial in SERIALS:
        world.unit_do("pack", "acme", serial, container=CARTON, place="Dongguan")
    for serial in SERIALS:
        world.unit_do("pack", "acme", serial, container=PALLET, inner=CARTON)
    for serial in SERIALS:
        world.unit_do("handoff", "acme", serial, to="ship-co")
    for serial in SERIALS:
        world.unit_do("receive", "ship-co", serial)
    for serial in SERIALS:
        world.unit_do("unpack", "ship-co", serial, container=PALLET)
    return world


START = _start()


def _document(world: World, start: int) -> dict[str, Any]:
    return export_document(entries_of(world.log, NOW)[start:], CREATED)


def test_pack_and_unpack_export_as_aggregation_events_that_validate() -> None:
    world = _story(START.copy())
    document = _document(world, 0)
    assert_valid(document)
    packs = [e for e in unit_events(document) if e["pl:kind"] in ("pack", "unpack")]
    assert len(packs) == 9
    first, nested, opened = packs[0], packs[3], packs[-1]
    assert (first["type"], first["action"], first["bizStep"]) == (
        "AggregationEvent",
        "ADD",
        "packing",
    )
    assert first["parentID"] == f"https://id.gs1.org/00/{CARTON}"
    assert first["childEPCs"] == [f"https://id.gs1.org/01/{GTIN}/21/SN-0001"]
    assert "epcList" not in first and "pl:inner" not in first
    assert (nested["parentID"], nested["pl:inner"]) == (f"https://id.gs1.org/00/{PALLET}", CARTON)
    assert (opened["action"], opened["bizStep"]) == ("DELETE", "unpacking")


def test_captured_again_the_aggregations_rebuild_the_same_chains() -> None:
    original = _story(START.copy())
    start = len(START.log)
    document = _document(original, start)
    replay = START.copy()
    seeds = {actor: seed for actor, (_, seed) in ACTORS.items()}

    def head_of(unit: Any) -> str:
        return replay.state.units[(unit.gtin, unit.serial)].head

    for _, envelope in envelopes(document, seeds, head_of):
        converted, refusals = capture.convert_envelope(capture.parse_envelope(envelope))
        assert refusals == []
        for item in converted:
            replay.accept(item.signed.for_log(ORIGIN))  # the receiving log supplies it
    assert [codec.b64url_encode(s.hash) for s in replay.log] == [
        codec.b64url_encode(s.hash) for s in original.log
    ]
    for serial in SERIALS:
        assert replay.unit(serial) == original.unit(serial)


def test_a_parent_given_as_an_epc_urn_converts_to_the_same_pack() -> None:
    world = START.copy()
    world.unit_do("pack", "acme", "SN-0001", container=CARTON)
    [epcis] = [e for e in unit_events(_document(world, 0)) if e["pl:kind"] == "pack"]
    signed = world.log[-1]
    assert isinstance(signed.event, UnitEvent)
    by_urn = {**epcis, "parentID": sscc_urn(CARTON)}
    [event] = capture.convert_event(by_urn, "acme", [signed.event.prev or ""])
    assert event == signed.event


def _aggregation(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "AggregationEvent",
        "action": "ADD",
        "bizStep": "packing",
        "disposition": "in_progress",
        "parentID": f"https://id.gs1.org/00/{CARTON}",
        "childEPCs": [f"https://id.gs1.org/01/{GTIN}/21/SN-0001"],
        "eventTime": "2026-11-28T12:00:00Z",
        "eventTimeZoneOffset": "+00:00",
    }
    event.update(changes)
    return event


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"parentID": f"https://id.gs1.org/00/{CARTON[:-1]}0"}, errors.EpcError, "parentID"),
        ({"parentID": None}, errors.EpcError, "parentID"),
        ({"pl:inner": "123"}, errors.EpcError, "pl:inner"),
        ({"childEPCs": [f"https://id.gs1.org/00/{PALLET}"]}, errors.EpcError, "childEPCs[0]"),
        ({"childEPCs": []}, errors.EpcError, "childEPCs"),
        ({"type": "ObjectEvent"}, errors.NotObjectEventError, "type"),
        ({"action": "DELETE"}, errors.UnmappedError, "action"),
        ({"type": "TransformationEvent"}, errors.NotObjectEventError, "type"),
    ],
)
def test_malformed_aggregations_are_refused(
    changes: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as refused:
        capture.convert_event(_aggregation(**changes), "acme", ["A" * 43])
    assert refused.value.field == field  # type: ignore[attr-defined]


def test_a_well_formed_aggregation_converts() -> None:
    [event] = capture.convert_event(_aggregation(), "acme", ["A" * 43])
    assert (event.kind, event.container) == ("pack", CARTON)  # type: ignore[attr-defined]
