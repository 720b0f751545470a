"""ledger.events: one dataclass per kind, strict from_dict/to_dict."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import events, gs1
from ledger.errors import GS1Error, ValidationError
from tests.factories import GTIN, HASH, valid_events

VALID = valid_events()


def test_every_design_kind_has_a_class() -> None:
    design = (
        "actor.register log.upgrade actor.revoke key.rotate key.recover key.recover.cancel "
        "authorize authorization.revoke "
        "product.register commission handoff receive inspect sell deliver claim return "
        "recall decommission flag consume pack unpack"
    ).split()
    assert sorted(events.KINDS) == sorted(design)
    assert sorted(VALID) == sorted(design)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_round_trip_is_exact(kind: str) -> None:
    data = VALID[kind]
    event = events.event_from_dict(data)
    assert type(event).kind == kind
    assert event.to_dict() == data
    with pytest.raises(AttributeError):
        event.actor = "mallory"  # type: ignore[misc]


@pytest.mark.parametrize("kind", sorted(VALID))
def test_unknown_field_is_refused(kind: str) -> None:
    with pytest.raises(ValidationError, match="unknown field") as err:
        events.event_from_dict({**VALID[kind], "zzz": 1})
    assert err.value.field == "zzz"


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_required_field_is_required(kind: str) -> None:
    cls = events.KINDS[kind]
    event = cls.from_dict(VALID[kind])
    optional = {name for name in VALID[kind] if name not in ("kind",) and _is_optional(cls, name)}
    for name in VALID[kind]:
        if name == "kind":
            continue
        data = {k: v for k, v in VALID[kind].items() if k != name}
        if name in optional:
            assert cls.from_dict(data).to_dict() == data
        else:
            with pytest.raises(ValidationError, match="missing") as err:
                cls.from_dict(data)
            assert err.value.field == name
    assert event.at == datetime(2026, 11, 28, 12, tzinfo=UTC)


def _is_optional(cls: type[events.Event], name: str) -> bool:
    import dataclasses

    return any(f.name == name and f.default is None for f in dataclasses.fields(cls))


@pytest.mark.parametrize("kind", sorted(k for k in VALID if k in events.UNIT_KINDS))
def test_explicit_null_for_optional_field_is_refused(kind: str) -> None:
    data = {**VALID[kind], "time": None}
    with pytest.raises(ValidationError) as err:
        events.event_from_dict(data)
    assert err.value.field == "time"


BAD_FIELDS: list[tuple[str, str, Any, type[ValidationError]]] = [
    ("handoff", "actor", "Acme", ValidationError),
    ("handoff", "actor", "-acme", ValidationError),
    ("handoff", "actor", "a" * 65, ValidationError),
    ("handoff", "time", "2026-11-28 12:00:00Z", ValidationError),
    ("handoff", "time", "2026-11-28T12:00:00+00:00", ValidationError),
    ("handoff", "time", "2026-02-30T12:00:00Z", ValidationError),
    ("handoff", "time", "2026-11-28T12:00:00.1Z", ValidationError),
    ("handoff", "prev", HASH[:-1], ValidationError),
    ("handoff", "prev", None, ValidationError),
    ("handoff", "to", 7, ValidationError),
    ("handoff", "unit", {"gtin": GTIN}, ValidationError),
    ("handoff", "unit", {"gtin": "09506000134353", "serial": "x"}, GS1Error),
    ("handoff", "unit", {"gtin": "4006381333931", "serial": "x"}, ValidationError),
    ("handoff", "unit", {"gtin": GTIN, "serial": "has space"}, GS1Error),
    ("handoff", "unit", {"gtin": GTIN, "serial": "x" * 21}, GS1Error),
    ("commission", "prev", HASH, ValidationError),
    ("commission", "expiry", "271301", GS1Error),
    ("commission", "lot", "", GS1Error),
    ("commission", "claim", {"salt": "AA", "hash": HASH}, ValidationError),
    ("inspect", "result", "ok", ValidationError),
    ("inspect", "note", "line\nbreak", ValidationError),
    ("inspect", "note", "x" * 201, ValidationError),
    ("actor.register", "role", "pirate", ValidationError),
    ("actor.register", "keys", [], ValidationError),
    ("actor.register", "keys", ["not-a-key"], ValidationError),
    ("actor.register", "prefixes", ["123"], ValidationError),
    ("authorize", "role", "brand", ValidationError),
    ("authorize", "gtins", [GTIN, GTIN], ValidationError),
    ("authorize", "gtins", "09506000134352", ValidationError),
    ("key.rotate", "remove", ["short"], ValidationError),
    ("key.rotate", "scope", ["everything"], ValidationError),
    ("key.rotate", "scope", [], ValidationError),
    ("key.rotate", "compromised_since", "yesterday", ValidationError),
    ("key.recover", "key", "not-a-key", ValidationError),
    ("key.recover", "effective", "soon", ValidationError),
    ("key.recover.cancel", "key", "short", ValidationError),
    ("actor.register", "recovery_wait", 60, ValidationError),
    ("actor.register", "recovery_wait", True, ValidationError),
    ("actor.register", "recovery_wait", "604800", ValidationError),
    ("flag", "code", "Not Kebab", ValidationError),
    ("claim", "code", "abc", ValidationError),
]


@pytest.mark.parametrize(("kind", "field", "value", "error"), BAD_FIELDS)
def test_malformed_field_is_named(
    kind: str, field: str, value: Any, error: type[ValidationError]
) -> None:
    data = copy.deepcopy(VALID[kind])
    data[field] = value
    with pytest.raises(error) as err:
        events.event_from_dict(data)
    assert err.value.field is not None and err.value.field.startswith(field)


@pytest.mark.parametrize("data", [None, [], "x", {"kind": "teleport"}, {"actor": "a"}])
def test_not_an_event(data: Any) -> None:
    with pytest.raises(ValidationError):
        events.event_from_dict(data)


def test_wrong_class_for_kind() -> None:
    with pytest.raises(ValidationError, match="expected kind 'sell'"):
        events.Sell.from_dict(VALID["deliver"])


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)))
def test_time_format_round_trips(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    text = events.format_time(aware)
    assert text.endswith("Z") and len(text) == 24
    assert events.parse_time(text) == aware.replace(microsecond=aware.microsecond // 1000 * 1000)


def test_format_time_converts_zones_and_refuses_naive() -> None:
    moment = datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    assert events.format_time(moment) == "2026-01-01T00:00:00.000Z"
    with pytest.raises(ValidationError, match="timezone"):
        events.format_time(datetime(2026, 1, 1))


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_time_format_is_the_strftime_one_in_any_zone(moment: datetime, minutes: int) -> None:
    # the formatter took isoformat's shape for speed: the same text as strftime's
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    utc = aware.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert events.format_time(aware) == expected


def test_a_unit_seen_before_is_shared_and_a_malformed_one_still_refused() -> None:
    handoff = VALID["handoff"]
    first = events.event_from_dict(copy.deepcopy(handoff))
    again = events.event_from_dict(copy.deepcopy(handoff))
    assert again == first and again.unit is first.unit  # type: ignore[attr-defined]
    unit = handoff["unit"]
    for bad in (
        {**unit, "extra": 1},
        {"gtin": unit["gtin"]},
        {"gtin": unit["gtin"], "serial": 5},
        {"gtin": unit["gtin"][:-1] + "0", "serial": unit["serial"]},
        {"gtin": unit["gtin"], "serial": unit["serial"] + " "},
        {"gtin": [unit["gtin"]], "serial": unit["serial"]},  # unhashable: refused, no crash
        {"gtin": unit["gtin"], "serial": {"s": unit["serial"]}},
    ):
        with pytest.raises((ValidationError, GS1Error)):
            events.event_from_dict({**handoff, "unit": bad})


_GTINS = st.builds(
    lambda body: body + str(gs1.gtin_check_digit(body)),
    st.text(alphabet="0123456789", min_size=13, max_size=13),
)
_SERIALS = st.text(alphabet="".join(sorted(gs1.CSET82)), min_size=1, max_size=20)


class _Text(str):
    """A str subclass, as no JSON parser makes but a caller might."""


@given(_GTINS, _SERIALS, st.booleans())
def test_a_new_unit_is_the_unit_its_own_class_makes(gtin: str, serial: str, sub: bool) -> None:
    """`eventfields._unit` builds a unit not met before without `UnitId.__init__`'s own
    checks: the unit is equal to, hashes as, and holds the same plain values as the one
    `UnitId` makes, a str subclass included."""
    given_serial = _Text(serial) if sub else serial
    made = events.event_from_dict(
        {**VALID["handoff"], "unit": {"gtin": gtin, "serial": given_serial}}
    ).unit  # type: ignore[attr-defined]
    expected = gs1.UnitId(gtin=gtin, serial=serial)
    assert made == expected and hash(made) == hash(expected)
    assert type(made.gtin) is str and type(made.serial) is str
    assert made.path() == expected.path()


def test_parse_time_answers_a_text_seen_before_as_the_first_time() -> None:
    text = "2026-03-04T05:06:07.123Z"
    first = events.parse_time(text)
    assert events.parse_time(text) is first
    assert first == datetime(2026, 3, 4, 5, 6, 7, 123_000, tzinfo=UTC)
    for bad in (text + " ", text[:-1], 5, None, "2026-02-30T00:00:00Z"):
        with pytest.raises(ValidationError):
            events.parse_time(bad)
