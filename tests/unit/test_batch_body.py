"""``POST /v1/entries:batch``'s body read without the duplicate-key hook
(api.routers.entries._batch, ledger.codec.parse_counted): the same events as the parse
with the hook, shape check and `SignedEvent.from_json` (the route before) for every
body, and every body that was refused refused with the same error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.routers import entries
from ledger import codec, entry, events
from ledger.errors import EncodingError, LedgerError, ValidationError
from tests.factories import key, valid_events
from tests.profiles import examples

VALID = valid_events()
LOG = "example.com/log"
SIGNED = [
    entry.sign_event(events.event_from_dict(VALID[kind]), key(1), log=LOG if n % 2 else None)
    for n, kind in enumerate(sorted(VALID))
]


def _before(body: bytes, most: int) -> list[entry.SignedEvent]:
    """The route's reading of a batch body before `_batch`: `codec.parse`, the shape,
    each event's `SignedEvent.from_json`."""
    data = codec.parse(body)
    if (
        not isinstance(data, dict)
        or set(data) != {"events"}
        or not isinstance(data["events"], list)
    ):
        raise ValidationError('expected {"events": [...]}', field="body")
    items = data["events"]
    if not 1 <= len(items) <= most:
        raise ValidationError(f"a batch holds 1 to {most} events", field="events")
    return [entries._signed(item, f"events[{i}]") for i, item in enumerate(items)]


def _outcome(read: Any, body: bytes, most: int = 1000) -> Any:
    try:
        return read(body, most)
    except LedgerError as e:
        return (type(e).__name__, e.message, e.field)


@st.composite
def _written(draw: st.DrawFn, value: Any) -> str:
    """``value`` as JSON text a client might write: spaces or none, ASCII escapes or
    not, ``:`` in strings now and then escaped, and (a few times in a hundred per
    object) a member written twice, with the same or another value."""
    if isinstance(value, dict):
        members = list(value.items())
        if members and draw(st.integers(0, 40)) == 0:
            name, item = draw(st.sampled_from(members))
            again = draw(st.sampled_from([item, "x", 1, None, {"a": 1}]))
            members.insert(draw(st.integers(0, len(members))), (name, again))
        colon = draw(st.sampled_from([":", ": "]))
        return (
            "{" + ",".join(draw(_written(k)) + colon + draw(_written(v)) for k, v in members) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(draw(_written(v)) for v in value) + "]"
    if isinstance(value, str):
        literal = json.dumps(value, ensure_ascii=draw(st.booleans()))
        if ":" in value and draw(st.integers(0, 9)) == 0:
            literal = literal.replace(":", "\\u003a")
        return literal
    return json.dumps(value)


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    chosen = draw(st.lists(st.sampled_from(SIGNED), min_size=0, max_size=4))
    value: Any = {"events": [s.to_dict() for s in chosen]}
    spoil = draw(st.integers(0, 12))
    if spoil == 0 and chosen:  # an event malformed as well
        value["events"][0]["key"] = "not-a-key"
    elif spoil == 1:
        value["more"] = 1
    elif spoil == 2 and chosen:
        value["events"][-1]["event"]["kind"] = "nope"
    elif spoil == 3 and chosen:
        value["events"][0]["sig"] = 1.5
    return draw(_written(value)).encode()


@settings(max_examples=examples(600), deadline=None)
@given(_bodies(), st.sampled_from([1, 3, 1000]))
def test_a_batch_body_reads_as_it_did_with_the_hook(body: bytes, most: int) -> None:
    assert _outcome(entries._batch, body, most) == _outcome(_before, body, most)


def _body(*members: str) -> bytes:
    return ('{"events":[' + ",".join(members) + "]}").encode()


EVENT = json.dumps(SIGNED[0].to_dict())  # format 1, no unit
EVENT_2 = json.dumps(SIGNED[5].to_dict())  # a commission, format 2


@pytest.mark.parametrize(
    "body",
    [
        _body(EVENT, EVENT_2).replace(b'{"events"', b'{"events":[],"events"', 1),
        _body(EVENT.replace('"key":', '"key":"AAAAAAAAAAAAAAAAAAAAAA","key":', 1)),
        _body(EVENT.replace('"sig":', '"sig":"A","sig":', 1)),
        _body(EVENT_2.replace('"event":', '"event":{},"event":', 1)),
        _body(EVENT_2.replace('"v":', '"v":2,"v":', 1)),
        _body(EVENT, EVENT_2.replace('"actor":', '"actor":"x:y","actor":', 1)),
        _body(EVENT_2.replace('"gtin":', '"gtin":"1","gtin":', 1)),
        # with another error besides: the duplicate is named, as it always was
        _body(EVENT.replace('"key":', '"key":"a","key":', 1), '{"x":1}'),
        _body(EVENT.replace('"key":', '"key":"a","key":', 1)).replace(b"]}", b'],"y":1}'),
    ],
)
def test_a_duplicate_key_anywhere_is_refused_as_a_duplicate(body: bytes) -> None:
    with pytest.raises(EncodingError, match="duplicate key") as err:
        entries._batch(body, 1000)
    assert _outcome(entries._batch, body) == _outcome(_before, body)
    assert err.value.field is None


def test_an_escaped_colon_and_any_spacing_read_the_same_events() -> None:
    written = json.dumps({"events": [s.to_dict() for s in SIGNED]}, indent=2)
    escaped = written.replace(":00", "\\u003a00")
    assert escaped != written
    for text in (written, escaped):
        got = entries._batch(text.encode(), 1000)
        assert got == _before(text.encode(), 1000)
        assert [s.event_bytes for s in got] == [s.event_bytes for s in SIGNED]
