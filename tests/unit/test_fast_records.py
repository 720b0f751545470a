"""The per-entry objects made without their frozen dataclass's ``__init__`` (records,
the rules' context, signed events, leaves) are the objects ``__init__`` makes: equal,
the same fields in the same order, and refused for the same wrong names."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from ledger.entry import Leaf, SignedEvent, _new_signed, sign_event
from ledger.events import event_from_dict
from ledger.rules.context import Context, new_context
from ledger.rules.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    UnitRecord,
    new_record,
)
from tests.factories import key, valid_events


def _same(made: object, expected: object) -> None:
    assert made == expected
    assert type(made) is type(expected)
    assert list(vars(made).items()) == list(vars(expected).items())


def test_new_record_is_init() -> None:
    unit = {
        "gtin": "09506000134352",
        "serial": "S-1",
        "brand": "acme",
        "head": "h" * 43,
        "head_index": 7,
        "length": 1,
        "commissioned_index": 7,
        "custodian": "acme",
        "holders": ("acme",),
        "lot": "L1",
        "claim_hash": "c",
    }
    _same(new_record(UnitRecord, **unit), UnitRecord(**unit))
    actor = {"id": "a", "role": "brand", "name": "A", "prefixes": ("950",), "registered_index": 1}
    _same(new_record(ActorRecord, **actor), ActorRecord(**actor))
    key = {"key_id": "k", "actor": "a", "public_key": "p", "added_index": 2, "scope": ("mint",)}
    _same(new_record(KeyRecord, **key), KeyRecord(**key))
    product = {"gtin": "g", "brand": "a", "name": "n", "registered_index": 3}
    _same(new_record(ProductRecord, **product), ProductRecord(**product))
    auth = {
        "id": "i", "brand": "b", "partner": "p", "role": "retailer", "gtins": ("g",),
        "prefixes": (), "not_before": "t0", "not_after": "t1", "granted_index": 4,
    }  # fmt: skip
    _same(new_record(AuthorizationRecord, **auth), AuthorizationRecord(**auth))


def test_new_record_refuses_what_init_refuses() -> None:
    product = {"gtin": "g", "brand": "a", "name": "n", "registered_index": 3}
    with pytest.raises(TypeError, match="no field 'colour'"):
        new_record(ProductRecord, **product, colour="red")
    del product["name"]
    with pytest.raises(TypeError, match="'name'"):
        new_record(ProductRecord, **product)


def test_new_context_signed_and_leaf_are_init() -> None:
    signed = SignedEvent.from_dict(
        sign_event(
            event_from_dict(valid_events()["commission"]), key(3), log="log.example/ingest29"
        ).to_dict()
    )
    actor = ActorRecord("a", "brand", "A", (), 1)
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    _same(new_context(None, signed, 5, actor, now, 2), Context(None, signed, 5, actor, now, 2))  # type: ignore[arg-type]
    assert [f.name for f in fields(Context)] == list(
        vars(new_context(None, signed, 5, actor, now, 2))
    )  # type: ignore[arg-type]
    values = (signed.event, signed.event_bytes, signed.key, signed.sig, signed.v, "o.example/x")
    _same(_new_signed(*values), SignedEvent(*values))
    bound = signed.for_log("log.example/ingest29")
    expected = SignedEvent(*values[:5], "log.example/ingest29")
    assert bound == expected
    assert {k: v for k, v in vars(bound).items() if k != "hash"} == vars(expected)
    leaf = Leaf.build(bound, now)
    _same(leaf, Leaf(leaf.data, bound, leaf.received))


def test_a_parsed_event_is_init_s() -> None:
    """Every kind parsed (`Event.from_dict`, filled field by field) is the event its
    ``__init__`` makes from the same values, optional fields absent or given."""
    for data in valid_events().values():
        event = event_from_dict(data)
        again = type(event)(**{f.name: getattr(event, f.name) for f in fields(event)})
        _same(event, again)
        assert list(vars(event)) == [f.name for f in fields(event)]


def test_new_head_is_init_s() -> None:
    from ledger.errors import ValidationError
    from ledger.map.trie import Head, new_head

    _same(new_head(5, b"h" * 32), Head(5, b"h" * 32))
    _same(new_head(2**64 - 1, b"h" * 32), Head(2**64 - 1, b"h" * 32))
    for index, entry_hash in ((-1, b"h" * 32), (2**64, b"h" * 32), (True, b"h" * 32), (1, b"h")):
        with pytest.raises(ValidationError):
            new_head(index, entry_hash)


def test_a_loaded_record_is_init_s() -> None:
    """`records._from_values` fills a record's fields in order: the record ``__init__``
    makes from the same column values (tuples split, booleans made bool)."""
    from ledger.store.records import _FIELDS, _from_values

    unit = UnitRecord(
        "09506000134352", "S-9", "acme", "h" * 43, 7, 2, 3, "ship-co",
        sold=True, holders=("acme", "ship-co"), lot="L1", sales=1,
    )  # fmt: skip
    values = [
        ",".join(v) if isinstance(v, tuple) else int(v) if isinstance(v, bool) else v
        for v in (getattr(unit, name) for name, _ in _FIELDS[UnitRecord])
    ]
    _same(_from_values(UnitRecord, values), unit)
    key = KeyRecord("k", "a", "p", 2, scope=("mint",))
    values = [",".join(v) if isinstance(v, tuple) else v for v in vars(key).values()]
    _same(_from_values(KeyRecord, values), key)
