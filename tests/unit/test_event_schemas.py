"""The per-kind event schemas of the OpenAPI document (api.schemas_events) against the
parser that decides (ledger.events): the same fields, the same requirements, and the
same verdict on well-formed and on broken events, both ways."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import schemas_events
from ledger.errors import LedgerError
from ledger.events import KINDS, event_from_dict

HASH = "IgMLT2OCZhogLC4p8prf-K2NH-FRZNWQ3VeJjIcOurs"
KEY = "ajgD1fBZkCocba-8m6Rykg"
UNIT = {"gtin": "09506000134352", "serial": "SN-1"}
ON_UNIT = {"unit": UNIT, "prev": HASH}
COMMITMENT = {"salt": KEY, "hash": HASH}
SSCC = "095060000000000015"
T = "2026-11-28T12:00:00.000Z"

#: one well-formed event of every kind, with every optional field it may carry
SAMPLES: dict[str, dict[str, Any]] = {
    "actor.register": {"subject": "acme", "role": "brand", "name": "Acme", "keys": [HASH],
                       "prefixes": ["950600"], "documents": HASH, "log_key": HASH,
                       "recovery_wait": 86_400, "format": 2, "rules": 2},
    "log.upgrade": {"format": 2, "rules": 2},
    "actor.revoke": {"subject": "acme", "reason": "gone", "since": T},
    "key.rotate": {"subject": "acme", "add": [HASH], "remove": [KEY], "scope": ["mint"],
                   "compromised_since": T},
    "key.recover": {"subject": "acme", "key": HASH, "effective": T, "reason": "lost"},
    "key.recover.cancel": {"subject": "acme", "key": KEY, "reason": "found"},
    "authorize": {"partner": "shop", "role": "retailer", "gtins": ["09506000134352"],
                  "prefixes": [], "not_before": T, "not_after": T, "display": "role"},
    "authorization.revoke": {"authorization": HASH, "reason": "ended"},
    "product.register": {"gtin": "09506000134352", "name": "Tea", "name_zh": "茶",
                         "support": "+1 555", "image": HASH},
    "commission": {"unit": UNIT, "prev": None, "place": "Shanghai", "lot": "L1",
                   "expiry": "271231", "claim": COMMITMENT},
    "handoff": {**ON_UNIT, "to": "ship-co", "place": "DC 3"},
    "receive": ON_UNIT,
    "inspect": {**ON_UNIT, "result": "fail", "note": "torn seal"},
    "sell": ON_UNIT,
    "deliver": ON_UNIT,
    "claim": {**ON_UNIT, "code": "ABCD-EFGH-JKMN-PQRS", "owner": HASH, "transfer": COMMITMENT},
    "return": {**ON_UNIT, "to": "acme", "reason": "faulty"},
    "recall": {**ON_UNIT, "reason": "batch"},
    "decommission": {**ON_UNIT, "reason": "destroyed"},
    "flag": {**ON_UNIT, "code": "water-damage", "note": "wet"},
    "consume": {**ON_UNIT, "owner_token": KEY},
    "pack": {**ON_UNIT, "container": SSCC, "inner": SSCC},
    "unpack": {**ON_UNIT, "container": SSCC},
}  # fmt: skip


def event(kind: str) -> dict[str, Any]:
    """The sample event of ``kind``, as signed (``kind``, ``actor``, ``time`` first)."""
    return {"kind": kind, "actor": "acme", "time": T, **copy.deepcopy(SAMPLES[kind])}


_DOCUMENT = {"components": {"schemas": schemas_events.components()}}
EVENT = jsonschema_rs.validator_for({**_DOCUMENT, "$ref": "#/components/schemas/Event"})
SIGNED = jsonschema_rs.validator_for({**_DOCUMENT, "$ref": "#/components/schemas/SignedEvent"})


def parses(data: object) -> bool:
    """Whether the ledger's parser accepts ``data`` as an event."""
    try:
        event_from_dict(data)
    except LedgerError:
        return False
    return True


def test_the_samples_cover_every_kind() -> None:
    assert set(SAMPLES) == set(KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_names_exactly_the_parsers_fields(kind: str) -> None:
    """Properties: ``kind``, ``actor``, ``time`` and the kind's own; required: exactly the
    fields the parser requires; nothing else allowed."""
    schema = schemas_events.EVENT_SCHEMAS[kind]
    cls = KINDS[kind]
    assert set(schema["properties"]) == {"kind", "actor", "time", *cls.checks}
    missing_each = {
        name for name in schema["properties"] if name != "kind" and not parses(_without(kind, name))
    }
    assert set(schema["required"]) == {"kind", *missing_each}
    assert schema["additionalProperties"] is False


def _without(kind: str, name: str) -> dict[str, Any]:
    data = event(kind)
    data.pop(name, None)
    return data


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_well_formed_event_is_valid_and_parses(kind: str) -> None:
    data = event(kind)
    assert parses(data)
    assert EVENT.is_valid(data)
    # the discriminated union picks exactly this kind's branch
    matches = [k for k, s in schemas_events.EVENT_SCHEMAS.items() if _valid(s, data)]
    assert matches == [kind]
    signed = {"event": data, "key": KEY, "sig": "A" * 86, "v": 2}
    assert SIGNED.is_valid(signed)
    assert SIGNED.is_valid({k: v for k, v in signed.items() if k != "v"})  # format 1


def _valid(schema: dict[str, Any], data: object) -> bool:
    return bool(jsonschema_rs.validator_for({**_DOCUMENT, **schema}).is_valid(data))


def _misfits(kind: str) -> list[str]:
    """The kinds that ``kind``'s sample cannot be, by its field names alone."""
    names = set(SAMPLES[kind])
    out = []
    for other, cls in sorted(KINDS.items()):
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        if not names <= set(cls.checks) or not required - {"actor", "time"} <= names:
            out.append(other)
    return out


def test_every_kind_has_misfits_and_they_are_refused() -> None:
    for kind in KINDS:
        misfits = _misfits(kind)
        assert misfits and kind not in misfits
        for other in misfits:
            relabelled = {**event(kind), "kind": other}
            assert not parses(relabelled) and not EVENT.is_valid(relabelled), (kind, other)


#: values of the wrong JSON type for any field (each field takes exactly one type)
WRONG = (None, True, 7, "x", [], {}, ["x"], {"a": 1})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.data())
def test_a_broken_event_is_refused_by_both(kind: str, data: st.DataObject) -> None:
    """Drop a required field, add an unknown one, swap the kind, or give a field a value
    of another type or form: the schema refuses it, and so does the parser."""
    broken = event(kind)
    how = data.draw(st.sampled_from(["drop", "add", "kind", "value"]))
    if how == "drop":
        required = [n for n in schemas_events.EVENT_SCHEMAS[kind]["required"] if n != "kind"]
        broken.pop(data.draw(st.sampled_from(required)))
    elif how == "add":
        broken[data.draw(st.sampled_from(["extra", "unit", "to", "v", "sig"]))] = "x"
        if all(n in KINDS[kind].checks for n in broken if n not in ("kind", "actor", "time")):
            return  # the added name is one of the kind's own after all
    elif how == "kind":
        # only a kind this event's fields cannot make (one it does not know, or one it
        # requires missing): a handoff relabelled a return is a well-formed return
        broken["kind"] = data.draw(st.sampled_from(_misfits(kind)))
    else:
        name = data.draw(st.sampled_from(sorted(broken)))
        value = data.draw(st.sampled_from(WRONG))
        if value == broken[name] or (name == "prev" and kind == "commission" and value is None):
            return
        broken[name] = value
        if parses(broken):  # a value of the right type after all ("x" as a place)
            assert EVENT.is_valid(broken), broken
            return
    assert not parses(broken), broken
    assert not EVENT.is_valid(broken), broken


@pytest.mark.parametrize(
    ("what", "signed"),
    [
        ("no signature", {"event": "E", "key": KEY}),
        ("a short key id", {"event": "E", "key": KEY[:-1], "sig": "A" * 86}),
        ("a non-canonical key id", {"event": "E", "key": KEY[:-1] + "B", "sig": "A" * 86}),
        ("format 3", {"event": "E", "key": KEY, "sig": "A" * 86, "v": 3}),
        ("an unknown member", {"event": "E", "key": KEY, "sig": "A" * 86, "x": 1}),
    ],
)
def test_a_broken_envelope_is_invalid(what: str, signed: dict[str, Any]) -> None:
    signed = {**signed, "event": event("handoff")}
    assert not SIGNED.is_valid(signed), what


@given(st.binary(min_size=0, max_size=70))
def test_b64_patterns_accept_exactly_canonical_encodings(raw: bytes) -> None:
    """The base64url pattern of n bytes matches the encoding of any n bytes and nothing
    of another length."""
    from ledger.codec import b64url_encode

    text = b64url_encode(raw)
    for size in (16, 32, 64):
        schema = schemas_events.b64(size)
        assert jsonschema_rs.is_valid(schema, text) == (len(raw) == size)
