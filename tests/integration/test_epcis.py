"""EPCIS capture and export through a real ledger (SQLite and PostgreSQL).

Capture is atomic and every refusal leaves the ledger byte-for-byte unchanged; the
GS1 example is appended or refused with exact per-event reasons; exported chains
re-imported into a fresh ledger give the same custody chain, down to event hashes.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from ledger import codec, entry
from ledger.entry import Leaf
from ledger.epcis.errors import CaptureRefusedError
from ledger.epcis.sign import sign_document
from ledger.errors import ValidationError
from ledger.rules import UnknownKeyError
from ledger.service.ledger import Ledger
from tests.epcis_support import (
    assert_valid,
    custody_chain,
    envelopes,
    example,
    unit_events,
)
from tests.factories import GTIN, key
from tests.integration.world import LedgerWorld, clock, config, dump
from tests.rules_factories import SERIAL, TIME, WINDOW

EXAMPLE_GTIN = "70614141123451"


def head(ledger: Ledger, gtin: str, serial: str) -> str:
    """The unit's head as the service stores it."""
    last = ledger.unit_entries(gtin, serial)[-1]
    return codec.b64url_encode(Leaf.from_bytes(last.leaf, ledger.origin).signed.hash)


def head_in(ledger: Ledger) -> Any:
    return lambda unit: head(ledger, unit.gtin, unit.serial)


def refusals(error: CaptureRefusedError) -> list[tuple[Any, ...]]:
    return [
        (r["event"], r.get("epc"), r["code"], r.get("field"))
        for r in error.problem_fields["events"]
    ]


def shipping_document(to: str = "shop") -> dict[str, Any]:
    return {
        "type": "EPCISDocument",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{SERIAL}"],
                    "eventTime": TIME,
                    "eventTimeZoneOffset": "+00:00",
                    "destinationList": [
                        {
                            "type": "possessing_party",
                            "destination": f"urn:provenance-ledger:actor:{to}",
                        }
                    ],
                    "readPoint": {"id": "urn:epc:id:sgln:9506000.00001.0"},
                }
            ]
        },
    }


# --- appended ---------------------------------------------------------------------------


def test_capture_appends_ordinary_signed_entries(world: LedgerWorld) -> None:
    ledger = world.ledger
    envelope = sign_document(shipping_document(), "acme", key(2), head_in(ledger), ledger.origin)
    receipt = ledger.epcis.capture(envelope)
    [item] = receipt.receipts
    assert not item.duplicate and item.index == receipt.size - 1
    stored = Leaf.from_bytes(ledger.entry(item.index).leaf, ledger.origin)
    entry.verify_event(stored.signed, key(2).public_key())  # verifiable like every entry
    assert stored.signed.event.to_dict() | {"prev": None} == {
        "kind": "handoff",
        "actor": "acme",
        "time": TIME,
        "unit": {"gtin": GTIN, "serial": SERIAL},
        "prev": None,
        "to": "shop",
        "place": "urn:epc:id:sgln:9506000.00001.0",
    }
    view = ledger.unit_view(GTIN, SERIAL)
    assert view["entries"][-1]["index"] == item.index
    # idempotent: the same envelope again appends nothing
    before = dump(ledger)
    again = ledger.epcis.capture(envelope)
    assert again.receipts[0].duplicate and again.receipts[0].index == item.index
    assert dump(ledger) == before


def _example_world(world: LedgerWorld) -> None:
    """The GS1 example's GTIN under a brand of its own, its two units, two partners."""
    w, ledger = world.world, world.ledger
    w.register("gs1-brand", "brand", 9, prefixes=["0614141"])
    for signed in w.log[-1:]:
        ledger.append(signed, clock())
    steps = [
        w.sign("product.register", "gs1-brand", gtin=EXAMPLE_GTIN, name="Example product"),
        w.sign(
            "authorize",
            "gs1-brand",
            partner="shop",
            role="retailer",
            gtins=[EXAMPLE_GTIN],
            prefixes=[],
            **WINDOW,
        ),
    ]
    for signed in steps:
        world.append(signed)
    for serial in ("2017", "2018"):
        unit = {"gtin": EXAMPLE_GTIN, "serial": serial}
        world.append(w.sign("commission", "gs1-brand", unit=unit, prev=None))


def _example_now(**changes: Any) -> dict[str, Any]:
    """GS1 Example 9.6.1 with both events at the test clock (12:00Z) and ``changes``."""
    document = example()
    for event in unit_events(document):
        event["eventTime"] = "2026-11-28T06:00:00.116-06:00"
        event.update(changes)
    return document


def test_gs1_example_is_appended_when_its_units_and_parties_exist(world: LedgerWorld) -> None:
    _example_world(world)
    ledger = world.ledger
    document = _example_now()
    first, second = unit_events(document)
    first["destinationList"] = [
        {"type": "possessing_party", "destination": "urn:provenance-ledger:actor:shop"}
    ]
    shipper = {**document, "epcisBody": {"eventList": [first]}}
    receiver = {**document, "epcisBody": {"eventList": [second]}}
    shipped = ledger.epcis.capture(
        sign_document(shipper, "gs1-brand", key(9), head_in(ledger), ledger.origin)
    )
    received = ledger.epcis.capture(
        sign_document(receiver, "shop", key(5), head_in(ledger), ledger.origin)
    )
    assert len(shipped.receipts) == 2 and len(received.receipts) == 1  # one entry per EPC
    for serial, chain in (
        ("2017", [("commission", "gs1-brand"), ("handoff", "gs1-brand")]),
        ("2018", [("commission", "gs1-brand"), ("handoff", "gs1-brand"), ("receive", "shop")]),
    ):
        stored = [Leaf.from_bytes(e.leaf).signed for e in ledger.unit_entries(EXAMPLE_GTIN, serial)]
        assert custody_chain(stored, EXAMPLE_GTIN, serial) == chain
    receive = Leaf.from_bytes(ledger.entry(received.receipts[0].index).leaf).signed.event
    assert receive.time == "2026-11-28T12:00:00.116Z"
    assert receive.place == "urn:epc:id:sgln:0012345.11111.400"  # type: ignore[attr-defined]


def test_gs1_example_as_published_is_refused_per_event(world: LedgerWorld) -> None:
    _example_world(world)
    ledger = world.ledger
    before = dump(ledger)
    envelope = sign_document_lenient(example(), "gs1-brand", ledger)
    with pytest.raises(CaptureRefusedError) as refused:
        ledger.epcis.capture(envelope)
    assert refusals(refused.value) == [
        (0, None, "epcis-party", "destinationList"),  # a shipment names no recipient actor
        (1, None, "epcis-not-checked", None),
    ]
    events = refused.value.problem_fields["events"]
    assert events[0]["eventID"].startswith("ni:///sha-256;9fa42e8b")
    assert dump(ledger) == before


def sign_document_lenient(document: dict[str, Any], actor: str, ledger: Ledger) -> dict[str, Any]:
    """An envelope even for events that do not convert (empty signature lists for them)."""
    keys = {"gs1-brand": 9, "shop": 5, "ship-co": 4, "acme": 2}
    signed: list[list[dict[str, str]]] = []
    for event in unit_events(document):
        one = {**document, "epcisBody": {"eventList": [event]}}
        try:
            signed.append(
                sign_document(one, actor, key(keys[actor]), head_in(ledger), ledger.origin)[
                    "signatures"
                ][0]
            )
        except CaptureRefusedError:
            signed.append([])
    return {
        "format": "provenance-ledger/epcis-capture/v1",
        "actor": actor,
        "key": sign_document(shipping_document(), actor, key(keys[actor]), lambda u: "A" * 43)[
            "key"
        ],
        "document": document,
        "signatures": signed,
    }


def test_gs1_example_on_units_never_commissioned_names_the_rule(world: LedgerWorld) -> None:
    ledger = world.ledger
    before = dump(ledger)
    document = _example_now()
    unit_events(document)[0]["destinationList"] = [
        {"type": "possessing_party", "destination": "urn:provenance-ledger:actor:shop"}
    ]
    unknown = sign_document(
        document, "ship-co", key(4), lambda unit: codec.b64url_encode(bytes(32)), ledger.origin
    )
    with pytest.raises(CaptureRefusedError) as refused:
        ledger.epcis.capture(unknown)
    assert refusals(refused.value) == [
        (0, 0, "unknown-unit", "unit"),
        (1, None, "epcis-not-checked", None),
    ]
    assert refused.value.status == 422
    assert dump(ledger) == before


def test_gs1_example_with_its_2005_times_is_stale(world: LedgerWorld) -> None:
    _example_world(world)
    ledger = world.ledger
    before = dump(ledger)
    document = example()
    first = unit_events(document)[0]
    first["destinationList"] = [
        {"type": "possessing_party", "destination": "urn:provenance-ledger:actor:shop"}
    ]
    only = {**document, "epcisBody": {"eventList": [first]}}
    with pytest.raises(CaptureRefusedError) as refused:
        ledger.epcis.capture(
            sign_document(only, "gs1-brand", key(9), head_in(ledger), ledger.origin)
        )
    assert refusals(refused.value) == [(0, 0, "stale-time", "time")]
    assert dump(ledger) == before


# --- forged, tampered, replayed ---------------------------------------------------------


def _tampered(envelope: dict[str, Any], how: str, origin: str) -> dict[str, Any]:
    forged = copy.deepcopy(envelope)
    event = forged["document"]["epcisBody"]["eventList"][0]
    if how == "document":
        event["destinationList"][0]["destination"] = "urn:provenance-ledger:actor:ship-co"
    elif how == "place":
        event["readPoint"]["id"] = "urn:epc:id:sgln:9506000.00002.0"
    elif how == "signature":
        sig = bytearray(codec.b64url_decode(forged["signatures"][0][0]["sig"]))
        sig[10] ^= 1
        forged["signatures"][0][0]["sig"] = codec.b64url_encode(bytes(sig))
    elif how == "prev":
        forged["signatures"][0][0]["prev"] = codec.b64url_encode(bytes(32))
    elif how == "actor":
        forged["actor"] = "ship-co"
    elif how == "other-key":
        # signed by a key that is not acme's, under acme's key id
        other = sign_document(
            shipping_document(),
            "acme",
            key(99),
            lambda u: envelope["signatures"][0][0]["prev"],
            origin,
        )
        forged["signatures"] = other["signatures"]
    return forged


@pytest.mark.parametrize("how", ["document", "place", "signature", "actor", "other-key"])
def test_forged_or_tampered_envelopes_are_refused_and_nothing_changes(
    world: LedgerWorld, how: str
) -> None:
    ledger = world.ledger
    envelope = sign_document(shipping_document(), "acme", key(2), head_in(ledger), ledger.origin)
    before = dump(ledger)
    with pytest.raises(CaptureRefusedError) as refused:
        ledger.epcis.capture(_tampered(envelope, how, ledger.origin))
    assert refusals(refused.value) == [(0, 0, "bad-signature", None)]
    assert refused.value.status == 403
    assert dump(ledger) == before
    ledger.epcis.capture(envelope)  # the genuine envelope still goes through


def test_a_changed_prev_is_a_bad_signature_and_a_moved_head_a_conflict(world: LedgerWorld) -> None:
    ledger = world.ledger
    envelope = sign_document(shipping_document(), "acme", key(2), head_in(ledger), ledger.origin)
    with pytest.raises(CaptureRefusedError) as refused:
        ledger.epcis.capture(_tampered(envelope, "prev", ledger.origin))
    assert refusals(refused.value) == [(0, 0, "bad-signature", None)]
    world.append(world.world.on_unit("inspect", "insp", result="pass"))
    before = dump(ledger)
    with pytest.raises(CaptureRefusedError) as stale:
        ledger.epcis.capture(envelope)
    assert refusals(stale.value) == [(0, 0, "head-conflict", "prev")]
    assert stale.value.status == 409
    assert dump(ledger) == before


def test_unknown_key_and_malformed_envelopes_are_refused_whole(world: LedgerWorld) -> None:
    ledger = world.ledger
    before = dump(ledger)
    stranger = sign_document(shipping_document(), "acme", key(98), head_in(ledger), ledger.origin)
    with pytest.raises(UnknownKeyError) as unknown:
        ledger.epcis.capture(stranger)
    assert unknown.value.field == "key"
    with pytest.raises(ValidationError) as malformed:
        ledger.epcis.capture({"format": "provenance-ledger/epcis-capture/v1"})
    assert malformed.value.field == "actor"
    assert dump(ledger) == before


def test_every_bad_event_is_listed_and_good_ones_are_not_appended(world: LedgerWorld) -> None:
    ledger = world.ledger
    good = shipping_document()["epcisBody"]["eventList"][0]
    unmapped = {**good, "bizStep": "repairing"}
    document = {"type": "EPCISDocument", "epcisBody": {"eventList": [good, unmapped, good]}}
    envelope = sign_document_lenient(document, "acme", ledger)
    envelope["signatures"][2] = envelope["signatures"][0]
    sig = bytearray(codec.b64url_decode(envelope["signatures"][0][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0] = [
        {**envelope["signatures"][0][0], "sig": codec.b64url_encode(bytes(sig))}
    ]
    before = dump(ledger)
    with pytest.raises(CaptureRefusedError) as refused:
        ledger.epcis.capture(envelope)
    assert refusals(refused.value) == [
        (0, 0, "bad-signature", None),
        (1, None, "epcis-unmapped", "bizStep"),
        (2, None, "epcis-not-checked", None),
    ]
    assert dump(ledger) == before


# --- export, and re-import into a fresh ledger -------------------------------------------


def _story(world: LedgerWorld) -> None:
    w = world.world
    for kind, actor, fields in [
        ("handoff", "acme", {"to": "ship-co", "place": "Shenzhen DC"}),
        ("receive", "ship-co", {}),
        ("inspect", "insp", {"result": "pass", "note": "seal intact"}),
        ("handoff", "ship-co", {"to": "shop"}),
        ("receive", "shop", {"place": "Shanghai store 3"}),
        ("sell", "shop", {}),
        ("return", "shop", {"to": "acme", "reason": "wrong size"}),
        ("receive", "acme", {}),
        ("recall", "acme", {"reason": "faulty adhesive"}),
    ]:
        world.append(w.on_unit(kind, actor, **fields))


@pytest.fixture
def fresh(db_url: str, world: LedgerWorld) -> Iterator[LedgerWorld]:
    """A second log with the same registry and commission as `world`, under the same
    origin (the log rebuilt elsewhere): its events are signed for that origin, so only a
    log of that origin takes them again, as the very same events."""
    name = f"f-{uuid.uuid4().hex[:10]}"
    same = replace(config(name), origin=world.ledger.origin)
    opened = Ledger.open(db_url, same, clock=clock)
    opened.init(name="Registry")
    yield LedgerWorld.base(opened)
    opened.close()


def test_exported_chain_reimported_into_a_fresh_ledger_is_the_same_chain(
    world: LedgerWorld, fresh: LedgerWorld
) -> None:
    _story(world)
    document = world.ledger.epcis.export_unit(GTIN, SERIAL)
    assert_valid(document)
    assert document["pl:checkpoint"] == world.ledger.checkpoint()
    commissioned = world.ledger.unit_entries(GTIN, SERIAL)[0].index
    custody = {
        **document,
        "epcisBody": {
            "eventList": [e for e in unit_events(document) if e["pl:index"] > commissioned]
        },
    }
    heads = head_in(fresh.ledger)
    for _, envelope in envelopes(custody, world.world.seeds, heads, fresh.ledger.origin):
        fresh.ledger.epcis.capture(envelope)
    origin = world.ledger.origin
    original = [
        Leaf.from_bytes(e.leaf, origin).signed for e in world.ledger.unit_entries(GTIN, SERIAL)
    ]
    again = [
        Leaf.from_bytes(e.leaf, origin).signed for e in fresh.ledger.unit_entries(GTIN, SERIAL)
    ]
    assert custody_chain(again, GTIN, SERIAL) == custody_chain(original, GTIN, SERIAL)
    assert len(again) == 10
    assert [s.hash for s in again] == [s.hash for s in original]  # the very same events
    reexported = fresh.ledger.epcis.export_unit(GTIN, SERIAL)
    assert_valid(reexported)
    strip = ("recordTime", "pl:index", "pl:leafHash")
    assert [{k: v for k, v in e.items() if k not in strip} for e in unit_events(reexported)] == [
        {k: v for k, v in e.items() if k not in strip} for e in unit_events(document)
    ]


def test_export_range_covers_every_unit_entry_and_validates(world: LedgerWorld) -> None:
    _story(world)
    document = world.ledger.epcis.export_range()
    assert_valid(document)
    indices = [e["pl:index"] for e in unit_events(document)]
    unit_indices = [
        i
        for i in range(world.ledger.head().size)
        if Leaf.from_bytes(world.ledger.entry(i).leaf).signed.event.kind
        in {"commission", "handoff", "receive", "inspect", "sell", "return", "recall"}
    ]
    assert indices == unit_indices
    part = world.ledger.epcis.export_range(indices[2], indices[4])
    assert [e["pl:index"] for e in unit_events(part)] == indices[2:4]
    assert "sourceList" not in unit_events(part)[0] or unit_events(part)[0]["pl:kind"] != "receive"
    assert unit_events(world.ledger.epcis.export_unit(GTIN, "NOPE")) == []


def test_a_partner_cannot_capture_as_another_actor(world: LedgerWorld) -> None:
    """acme's key signing events that claim ship-co as their actor: the rules refuse."""
    ledger = world.ledger
    world.append(world.world.on_unit("handoff", "acme", to="ship-co"))
    before = dump(ledger)
    document = shipping_document()
    document["epcisBody"]["eventList"][0].update(bizStep="receiving", disposition="in_progress")
    del document["epcisBody"]["eventList"][0]["destinationList"]
    posing = sign_document(document, "ship-co", key(2), head_in(ledger), ledger.origin)
    with pytest.raises(CaptureRefusedError) as refused:
        ledger.epcis.capture(posing)
    assert refusals(refused.value) == [(0, 0, "foreign-key", "key")]
    assert dump(ledger) == before
    genuine = sign_document(document, "ship-co", key(4), head_in(ledger), ledger.origin)
    assert not ledger.epcis.capture(genuine).receipts[0].duplicate
