"""EPCIS 2.0 export and capture (pure): GS1 schema, mapping table, refusals, round trips."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, crypto, entry
from ledger.epcis import capture, errors, vocab
from ledger.epcis.export import event_id, export_document
from ledger.epcis.sign import sign_document
from ledger.errors import RuleError, ValidationError
from ledger.events import UnitEvent
from tests.epcis_support import (
    CREATED,
    assert_valid,
    entries_of,
    envelopes,
    example,
    head_b64,
    schema_errors,
    unit_events,
)
from tests.factories import GTIN, key
from tests.profiles import examples
from tests.rules_factories import NOW, ORIGIN, SERIAL, World, base

ROOT = Path(__file__).resolve().parents[2]
LINK = f"https://id.gs1.org/01/{GTIN}/21/{SERIAL}"


def story() -> World:
    """Every unit kind on three units, through the rules."""
    w = base()
    w.unit_do("handoff", "acme", to="ship-co", place="Shenzhen DC")
    w.unit_do("receive", "ship-co", place="Shenzhen DC")
    w.unit_do("inspect", "insp", result="pass", note="seal intact")
    w.unit_do("inspect", "insp", result="fail")
    w.unit_do("handoff", "ship-co", to="shop")
    w.unit_do("receive", "shop")
    w.unit_do("sell", "shop", place="Shanghai store 3")
    w.unit_do("deliver", "shop")
    w.commission("SN-2", lot="L7", expiry="281231")
    w.unit_do("flag", "acme", "SN-2", code="clone-suspected", note="two cities in one hour")
    w.unit_do("recall", "acme", "SN-2", reason="faulty adhesive")
    w.unit_do("decommission", "acme", "SN-2", reason="destroyed")
    w.commission("SN-3")
    w.unit_do("handoff", "acme", "SN-3", to="ship-co")
    w.unit_do("receive", "ship-co", "SN-3")
    w.unit_do("return", "ship-co", "SN-3", to="acme", reason="damaged box")
    w.unit_do("receive", "acme", "SN-3")
    return w


STORY = story()


def exported(world: World = STORY) -> dict[str, Any]:
    return export_document(entries_of(world.log, NOW), CREATED)


def by_kind(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in unit_events(document) if e["pl:kind"] == kind]


# --- export ---------------------------------------------------------------------------------


def test_the_gs1_example_validates_and_a_broken_copy_does_not() -> None:
    assert_valid(example())
    broken = example()
    broken["epcisBody"]["eventList"][0]["eventTime"] = "yesterday"
    broken["epcisBody"]["eventList"][1]["bizStep"] = "urn:epcglobal:cbv:bizstep:nonsense"
    assert len(schema_errors(broken)) >= 2


def test_export_validates_against_the_gs1_schema() -> None:
    document = exported()
    assert_valid(document)
    assert document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    unit_count = sum(isinstance(s.event, UnitEvent) for s in STORY.log)
    assert len(unit_events(document)) == unit_count == 18


@pytest.mark.parametrize(
    ("kind", "action", "step", "disposition"),
    [
        ("commission", "ADD", "commissioning", "active"),
        ("handoff", "OBSERVE", "shipping", "in_transit"),
        ("receive", "OBSERVE", "receiving", "in_progress"),
        ("sell", "OBSERVE", "retail_selling", "retail_sold"),
        ("deliver", "OBSERVE", "shipping", "retail_sold"),
        ("return", "OBSERVE", "shipping", "returned"),
        ("recall", "OBSERVE", "holding", "recalled"),
        ("decommission", "DELETE", "decommissioning", "inactive"),
        ("flag", "OBSERVE", "urn:provenance-ledger:bizstep:flagging", None),
    ],
)
def test_each_kind_exports_as_its_table_row(
    kind: str, action: str, step: str, disposition: str | None
) -> None:
    event = by_kind(exported(), kind)[0]
    assert (event["type"], event["action"], event["bizStep"]) == ("ObjectEvent", action, step)
    assert event.get("disposition") == disposition


def test_inspections_export_conformant_or_non_conformant() -> None:
    inspections = by_kind(exported(), "inspect")
    assert [(e["bizStep"], e["disposition"]) for e in inspections] == [
        ("inspecting", "conformant"),
        ("inspecting", "non_conformant"),
    ]
    assert inspections[0]["pl:note"] == "seal intact" and "pl:note" not in inspections[1]


def test_exported_events_lead_back_to_their_entries() -> None:
    entries = entries_of(STORY.log, NOW)
    for event in unit_events(exported()):
        _, leaf_hash, leaf = entries[event["pl:index"]]
        assert event["eventID"] == "ni:///sha-256;" + codec.b64url_encode(leaf.signed.hash)
        assert event["pl:leafHash"] == codec.b64url_encode(leaf_hash)
        assert event["eventTime"] == leaf.signed.event.time
        assert event["recordTime"] == leaf.received
        assert event["epcList"] == [
            f"https://id.gs1.org/01/{GTIN}/21/{leaf.signed.event.unit.serial}"  # type: ignore[attr-defined]
        ]
        assert event["pl:actor"] == "urn:provenance-ledger:actor:" + leaf.signed.event.actor


def test_custody_moves_name_source_and_destination_parties() -> None:
    document = exported()
    commission = by_kind(document, "commission")[0]
    assert commission["destinationList"] == [
        {"type": "owning_party", "destination": "urn:provenance-ledger:actor:acme"},
        {"type": "possessing_party", "destination": "urn:provenance-ledger:actor:acme"},
    ]
    handoff, receive = by_kind(document, "handoff")[0], by_kind(document, "receive")[0]
    assert handoff["sourceList"] == [
        {"type": "possessing_party", "source": "urn:provenance-ledger:actor:acme"}
    ]
    assert handoff["destinationList"] == [
        {"type": "possessing_party", "destination": "urn:provenance-ledger:actor:ship-co"}
    ]
    assert receive["sourceList"] == handoff["sourceList"]  # who sent it, from the chain
    assert receive["destinationList"] == handoff["destinationList"]
    assert "sourceList" not in by_kind(document, "recall")[0]


def test_event_id_is_the_rfc_6920_name_of_the_event_hash() -> None:
    assert event_id(bytes(32)) == "ni:///sha-256;" + "A" * 43


def test_docs_table_matches_the_vocabulary() -> None:
    text = (ROOT / "docs" / "EPCIS.md").read_text()
    rows = re.findall(
        r"^\| `([a-z]+)`(?: \(([a-z]+)\))? \| `([A-Z]+)` \| `([^`]+)` \| (?:`([a-z_]+)`|-) \| (yes|no) \|",
        text,
        re.M,
    )
    documented = {
        (kind, result or None, action, step, disposition or None, importable == "yes")
        for kind, result, action, step, disposition, importable in rows
    }
    table = {
        (s.kind, s.result, s.action, s.biz_step, s.disposition, s.importable) for s in vocab.TABLE
    }
    assert documented == table


# --- capture: conversion ----------------------------------------------------------------


def test_import_inverts_export_for_every_importable_kind() -> None:
    entries = entries_of(STORY.log, NOW)
    seen = set()
    for epcis in unit_events(exported()):
        original = entries[epcis["pl:index"]][2].signed.event
        assert isinstance(original, UnitEvent)
        if not vocab.shape_of(original.kind, getattr(original, "result", None)).importable:
            with pytest.raises(errors.NotImportableError):
                capture.convert_event(epcis, original.actor, [original.prev or ""])
            continue
        [converted] = capture.convert_event(epcis, original.actor, [original.prev or ""])
        assert converted == original
        seen.add(original.kind)
    assert seen == {
        "handoff",
        "receive",
        "inspect",
        "sell",
        "deliver",
        "return",
        "recall",
        "decommission",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2005-04-03T20:33:31.116000-06:00", "2005-04-04T02:33:31.116000Z"),
        ("2005-04-04T20:33:31.116-06:00", "2005-04-05T02:33:31.116Z"),
        ("2026-11-28T12:00:00Z", "2026-11-28T12:00:00Z"),
        ("2026-11-28T12:00:00.5+08:00", "2026-11-28T04:00:00.500Z"),
        ("2026-11-28T12:00:00.1234+00:00", "2026-11-28T12:00:00.123400Z"),
        ("2026-12-31T23:30:00-14:00", "2027-01-01T13:30:00Z"),
    ],
)
def test_event_time_becomes_utc_keeping_its_precision(text: str, expected: str) -> None:
    assert capture.ledger_time(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-11-28T12:00:00", "2026-11-28T12:00:00.1234567Z", "2026-02-30T12:00:00Z", 5]
)
def test_event_time_refusals(text: object) -> None:
    with pytest.raises(errors.EventTimeError) as refused:
        capture.ledger_time(text)
    assert refused.value.code == "epcis-time" and refused.value.field == "eventTime"


def shipping(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "epcList": [LINK],
        "eventTime": "2026-11-28T12:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "destinationList": [
            {"type": "possessing_party", "destination": "urn:provenance-ledger:actor:shop"}
        ],
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


PREV = codec.b64url_encode(bytes(32))


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"type": "AggregationEvent"}, errors.NotObjectEventError, "type"),
        ({"bizStep": "repairing"}, errors.UnmappedError, "bizStep"),
        ({"disposition": "damaged"}, errors.UnmappedError, "bizStep"),
        ({"bizStep": None}, errors.UnmappedError, "bizStep"),
        ({"action": "ADD"}, errors.UnmappedError, "action"),
        (
            {"bizStep": "commissioning", "disposition": "active", "action": "ADD"},
            errors.NotImportableError,
            "bizStep",
        ),
        ({"epcList": None}, errors.EpcError, "epcList"),
        ({"epcList": []}, errors.EpcError, "epcList"),
        ({"epcList": ["urn:epc:id:sgtin:0614141.112345.400"]}, errors.EpcError, "epcList[0]"),
        ({"epcList": [f"https://id.gs1.org/01/{GTIN}"]}, errors.EpcError, "epcList[0]"),
        ({"epcList": ["https://id.gs1.org/01/09506000134353/21/X"]}, errors.EpcError, "epcList[0]"),
        (
            {"epcList": [LINK, LINK.replace("id.gs1.org", "example.com")]},
            errors.EpcError,
            "epcList",
        ),
        ({"destinationList": None}, errors.PartyError, "destinationList"),
        (
            {
                "destinationList": [
                    {"type": "possessing_party", "destination": "urn:epc:id:pgln:0614141.00001"}
                ]
            },
            errors.PartyError,
            "destinationList",
        ),
        (
            {
                "sourceList": [
                    {"type": "possessing_party", "source": "urn:provenance-ledger:actor:acme"}
                ]
            },
            errors.PartyError,
            "sourceList",
        ),
        ({"pl:actor": "urn:provenance-ledger:actor:acme"}, errors.PartyError, "pl:actor"),
        ({"eventTime": "2026-11-28 12:00"}, errors.EventTimeError, "eventTime"),
        ({"pl:place": ""}, ValidationError, "place"),
    ],
)
def test_conversion_refusals_name_the_step_and_field(
    changes: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as refused:
        capture.convert_event(shipping(**changes), "ship-co", [PREV])
    assert refused.value.field == field  # type: ignore[attr-defined]


def test_recall_needs_a_reason_and_signatures_match_epcs() -> None:
    recall = shipping(bizStep="holding", disposition="recalled", destinationList=None)
    with pytest.raises(errors.MissingFieldError) as missing:
        capture.convert_event(recall, "acme", [PREV])
    assert (missing.value.code, missing.value.field) == ("epcis-missing-field", "pl:reason")
    with pytest.raises(errors.SignatureCountError):
        capture.convert_event(shipping(), "ship-co", [PREV, PREV])


def test_cbv_uri_forms_map_like_bare_words() -> None:
    uri_form = shipping(
        bizStep="https://ref.gs1.org/cbv/BizStep-shipping",
        disposition="urn:epcglobal:cbv:disp:in_transit",
        destinationList=[
            {
                "type": "https://ref.gs1.org/cbv/SDT-possessing_party",
                "destination": "urn:provenance-ledger:actor:shop",
            }
        ],
    )
    assert capture.convert_event(uri_form, "ship-co", [PREV]) == capture.convert_event(
        shipping(), "ship-co", [PREV]
    )


def test_gs1_example_9_6_1_converts_event_by_event() -> None:
    first, second = unit_events(example())
    # (1) shipping with no destinationList: a handoff must name its recipient
    with pytest.raises(errors.PartyError) as refused:
        capture.convert_event(first, "ship-co", [PREV, PREV])
    assert refused.value.field == "destinationList"
    # (2) receiving/in_progress: a receive at the read point, time in UTC
    [event] = capture.convert_event(second, "shop", [PREV])
    assert event.to_dict() == {
        "kind": "receive",
        "actor": "shop",
        "time": "2005-04-05T02:33:31.116Z",
        "unit": {"gtin": "70614141123451", "serial": "2018"},
        "prev": PREV,
        "place": "urn:epc:id:sgln:0012345.11111.400",
    }


# --- capture: envelopes -----------------------------------------------------------------


def test_signed_envelope_converts_to_the_events_the_partner_signed() -> None:
    w = base()
    head = w.unit().head
    document = {**exported(w), "epcisBody": {"eventList": [shipping()]}}
    envelope = sign_document(document, "acme", key(2), lambda unit: head, w.origin)
    assert envelope["key"] == crypto.key_id(key(2).public_key())
    converted, refusals = capture.convert_envelope(capture.parse_envelope(envelope))
    assert refusals == [] and len(converted) == 1
    signed = converted[0].signed.for_log(ORIGIN)  # the log that receives it supplies its origin
    entry.verify_event(signed, key(2).public_key())
    assert signed.event.to_dict()["prev"] == head
    assert w.check(signed)  # the rules see an ordinary signed handoff


def test_sign_document_chains_events_on_one_unit() -> None:
    ship, receive = (
        shipping(),
        shipping(bizStep="receiving", disposition="in_progress", destinationList=None),
    )
    document = {**exported(base()), "epcisBody": {"eventList": [ship, receive]}}
    envelope = sign_document(document, "ship-co", key(4), lambda unit: PREV)
    converted, _ = capture.convert_envelope(capture.parse_envelope(envelope))
    assert converted[1].signed.event.to_dict()["prev"] == head_b64(converted[0].signed)


def test_sign_document_refuses_every_bad_event_at_once() -> None:
    document = {
        "type": "EPCISDocument",
        "epcisBody": {"eventList": [shipping(action="ADD"), shipping(), shipping(epcList=[])]},
    }
    with pytest.raises(errors.CaptureRefusedError) as refused:
        sign_document(document, "ship-co", key(4), lambda unit: PREV)
    listed = refused.value.problem_fields["events"]
    assert [(r["event"], r["code"], r.get("field")) for r in listed] == [
        (0, "epcis-unmapped", "action"),
        (2, "epcis-epc", "epcList"),
    ]
    assert refused.value.message == "2 of 3 EPCIS events refused; nothing was appended"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("key"), "key"),
        (lambda e: e.update(extra=1), "extra"),
        (lambda e: e.update(format="v0"), "format"),
        (lambda e: e.update(actor="Not An Id"), "actor"),
        (lambda e: e.update(key="short"), "key"),
        (lambda e: e.update(document={"type": "EPCISQueryDocument"}), "document.type"),
        (
            lambda e: e["document"].update(epcisBody={"eventList": []}),
            "document.epcisBody.eventList",
        ),
        (lambda e: e.update(signatures=[]), "signatures"),
        (lambda e: e["signatures"][0][0].update(sig="AA"), "signatures[0][0].sig"),
        (lambda e: e["signatures"][0][0].pop("prev"), "signatures[0][0]"),
    ],
)
def test_malformed_envelopes_are_refused_with_the_field(mutate: Any, field: str) -> None:
    document = {"type": "EPCISDocument", "epcisBody": {"eventList": [shipping()]}}
    envelope = sign_document(document, "ship-co", key(4), lambda unit: PREV)
    mutate(envelope)
    with pytest.raises(ValidationError) as refused:
        capture.parse_envelope(envelope)
    assert refused.value.field == field


# --- property: export -> import -> export is stable -----------------------------------------

PARTNERS = ("ship-co", "shop", "insp", "customs", "acme")
STEPS = st.lists(
    st.tuples(
        st.sampled_from(("handoff", "receive", "inspect", "sell", "deliver", "return", "recall")),
        st.sampled_from(PARTNERS),
        st.sampled_from((None, "Shenzhen DC", "上海 3号仓")),
        st.sampled_from(("pass", "fail")),
    ),
    max_size=25,
)


def random_chain(steps: list[tuple[str, str, str | None, str]]) -> World:
    """Apply the steps the rules accept (others are skipped) to a fresh base world."""
    w = base()
    for kind, to, place, result in steps:
        unit = w.unit()
        signer = {"receive": unit.pending, "inspect": "insp", "recall": "acme"}.get(
            kind, unit.custodian
        )
        fields: dict[str, Any] = {"place": place} if place else {}
        if kind in ("handoff", "return"):
            fields["to"] = to
        if kind == "inspect":
            fields["result"] = result
        if kind == "recall":
            fields["reason"] = "faulty adhesive"
        try:
            w.accept(w.on_unit(kind, signer or "acme", **fields))
        except RuleError:
            continue
    return w


@settings(max_examples=examples(60), deadline=None)
@given(steps=STEPS)
def test_export_import_export_is_stable_for_random_custody_chains(steps: list[Any]) -> None:
    original = random_chain(steps)
    first = exported(original)
    assert_valid(first)
    fresh = base()  # same registry and commission, re-imported custody events only
    commissioned = len(fresh.log)
    custody = {
        **first,
        "epcisBody": {
            "eventList": [e for e in unit_events(first) if e["pl:index"] >= commissioned]
        },
    }
    if unit_events(custody):
        for actor, envelope in envelopes(custody, fresh.seeds, lambda unit: fresh.unit().head):
            converted, refusals = capture.convert_envelope(capture.parse_envelope(envelope))
            assert refusals == []
            for item in converted:
                signed = item.signed.for_log(ORIGIN)  # as the receiving log reads it
                entry.verify_event(signed, key(fresh.seeds[actor]).public_key())
                fresh.accept(signed)
    assert exported(fresh) == first
    assert [s.hash for s in fresh.log] == [s.hash for s in original.log]


# --- property: any input is mapped or refused with a LedgerError, never a crash ----------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_VALUES = {
    "type": st.sampled_from(["ObjectEvent", "AggregationEvent", 7]),
    "action": st.sampled_from(["ADD", "OBSERVE", "DELETE", "NOPE"]),
    "bizStep": st.sampled_from([s.biz_step for s in vocab.TABLE] + ["repairing", 3]),
    "disposition": st.sampled_from([s.disposition for s in vocab.TABLE] + ["damaged", 1]),
    "epcList": st.lists(
        st.sampled_from([LINK, "urn:x", f"https://h.example/01/{GTIN}/21/A%2FB", 5]), max_size=3
    ),
    "eventTime": st.sampled_from(
        ["2026-11-28T12:00:00Z", "2026-11-28T12:00:00.1234567Z", "x", None]
    ),
    "sourceList": JSON_VALUES,
    "destinationList": st.sampled_from([shipping()["destinationList"], [{"type": 1}], "x", None]),
    "readPoint": JSON_VALUES,
    "pl:place": JSON_VALUES,
    "pl:reason": JSON_VALUES,
    "pl:note": JSON_VALUES,
    "pl:actor": st.sampled_from(["urn:provenance-ledger:actor:ship-co", "urn:x", 1]),
}


@settings(max_examples=examples(150), deadline=None)
@given(st.fixed_dictionaries({}, optional=FIELD_VALUES), st.integers(0, 3))
def test_any_event_converts_or_is_refused_with_a_ledger_error(
    event: dict[str, Any], n: int
) -> None:
    try:
        converted = capture.convert_event(event, "ship-co", [PREV] * n)
    except (errors.EpcisError, ValidationError) as e:
        assert e.code and e.message
        return
    assert len(converted) == n and all(isinstance(c, UnitEvent) for c in converted)


@settings(max_examples=examples(100), deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["format", "actor", "key", "document", "signatures", "x"]), JSON_VALUES
    )
)
def test_any_envelope_parses_or_is_refused_with_a_validation_error(data: dict[str, Any]) -> None:
    try:
        capture.parse_envelope(data)
    except ValidationError as e:
        assert e.field
