"""ledger.entry: the fast leaf parse accepts exactly what the general parser accepts.

`Leaf.from_bytes` first tries `_parse_leaf_fast` (canonical form checked on the bytes,
no re-encoding) and falls back to `_parse_leaf` (parse, re-encode, compare). These tests
hold the fast path to the general one: on every valid leaf both give the same result,
and on every non-canonical or malformed variant the fast path declines (None or an
error) and `from_bytes` raises what the general parser raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, entry, events, leafparse
from ledger.errors import EncodingError, LedgerError, ValidationError
from tests.factories import key, valid_events
from tests.profiles import examples

VALID = valid_events()
RECEIVED = datetime(2026, 11, 28, 12, 0, 1, 250_000, tzinfo=UTC)
ORIGIN = "example.com/log"


def _leaf(kind: str = "handoff", log: str | None = None, **changes: Any) -> entry.Leaf:
    event = events.event_from_dict({**VALID[kind], **changes})
    return entry.Leaf.build(entry.sign_event(event, key(1), log=log), RECEIVED)


@pytest.mark.parametrize("log", [None, ORIGIN])
@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_valid_leaf_takes_the_fast_path_with_the_general_result(
    kind: str, log: str | None
) -> None:
    leaf = _leaf(kind, log)
    fast = entry._parse_leaf_fast(leaf.data)
    assert fast is not None
    assert fast == entry._parse_leaf(leaf.data)
    assert entry.Leaf.from_bytes(leaf.data, log) == leaf


@pytest.mark.parametrize("log", [None, ORIGIN])
@pytest.mark.parametrize("kind", ["handoff", "actor.register"])
def test_the_fast_path_makes_the_objects_their_init_makes(kind: str, log: str | None) -> None:
    # Leaf.from_bytes and _parse_leaf_fast fill the frozen dataclasses without their
    # __init__ (ledger.frozen): the same instance dictionaries, in field order
    data = _leaf(kind, log).data
    parsed = entry.Leaf.from_bytes(data, log)
    s = parsed.signed
    signed = entry.SignedEvent(
        event=s.event, event_bytes=s.event_bytes, key=s.key, sig=s.sig, v=s.v, origin=s.origin
    )
    made = entry.Leaf(data=data, signed=signed, received=parsed.received)
    assert type(parsed) is entry.Leaf and type(s) is entry.SignedEvent
    assert list(vars(s).items()) == list(vars(signed).items())
    assert list(vars(parsed).keys()) == list(vars(made).keys())
    assert parsed == made and repr(parsed) == repr(made)


def test_text_outside_ascii_and_quotes_is_canonical_and_fast() -> None:
    leaf = _leaf("handoff", ORIGIN, place="上海 DC 3 \u2028 ~")
    assert entry._parse_leaf_fast(leaf.data) == entry._parse_leaf(leaf.data)
    escaped = _leaf("handoff", ORIGIN, place='say "hi" \\ back')
    assert b"\\" in escaped.data
    assert entry._parse_leaf_fast(escaped.data) is None  # an escape: the general parser
    assert entry.Leaf.from_bytes(escaped.data, ORIGIN) == escaped


def _replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        assert old in data
        return data.replace(old, new, 1)

    return change


def _swap_event_keys(data: bytes) -> bytes:
    value = json.loads(data)
    event = value["event"]
    reordered = json.dumps(dict(reversed(list(event.items()))), separators=(",", ":"))
    return data.replace(codec.canonical(event), reordered.encode())


def _bump_sig(data: bytes) -> bytes:
    """The same signature with its lowest padding bit set (not canonical base64url)."""
    end = data.rindex(b'"}')
    last = data[end - 1 : end]
    return data[: end - 1] + {b"A": b"B", b"Q": b"R", b"g": b"h", b"w": b"x"}[last] + data[end:]


BROKEN: dict[str, Callable[[bytes], bytes]] = {
    "space after a colon": _replace(b'"kind":', b'"kind": '),
    "space in the envelope": _replace(b'"event":', b'"event": '),
    "newline at the end": lambda d: d + b"\n",
    "escaped letter": _replace(b'"kind":"handoff"', b'"kind":"h\\u0061ndoff"'),
    "escaped slash": _replace(b'"kind":"handoff"', b'"kind":"hand\\/off"'),
    "keys out of order": _swap_event_keys,
    "duplicate key": _replace(b'"kind":"handoff"', b'"kind":"handoff","kind":"handoff"'),
    "a float": _replace(b'"kind":"handoff"', b'"kind":"handoff","n":1.0'),
    "minus zero": _replace(b'"kind":"handoff"', b'"kind":"handoff","n":-0'),
    "unsafe integer": _replace(b'"kind":"handoff"', b'"kind":"handoff","n":9007199254740993'),
    "unknown field": _replace(b'"kind":"handoff"', b'"kind":"handoff","n":1'),
    "non-ASCII key": _replace(b'"kind":"handoff"', b'"kind":"handoff","\xc3\xa9":1'),
    "invalid UTF-8": _replace(b'"to":"', b'"to":"\xff'),
    "encoded surrogate": _replace(b'"to":"', b'"to":"\xed\xa0\x80'),
    "unknown kind": _replace(b'"kind":"handoff"', b'"kind":"teleport"'),
    "sig with trailing bits": _bump_sig,
    "short sig": lambda d: d.replace(b'","sig":"', b'","sig":"AA', 1),
    "key id of another size": _replace(b',"key":"', b',"key":"AAAA'),
    "received not a time": _replace(b'"received":"2026', b'"received":"x026'),
    "format 1 spelled out": lambda d: d[:-2] + b'","v":1}',
    "format 3": lambda d: d[:-2] + b'","v":3}',
    "extra envelope field": _replace(b',"key":"', b',"kez":1,"key":"'),
    "not an object": lambda d: b"[" + d + b"]",
    "truncated": lambda d: d[:-1],
}


def _ascii_keys(value: object) -> bool:
    if isinstance(value, dict):
        return all(k.isascii() and _ascii_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_ascii_keys(v) for v in value)
    return True


def _error(parse: Callable[[], object]) -> type[Exception] | None:
    try:
        parse()
    except LedgerError as e:
        return type(e)
    return None


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_leaves_are_left_to_the_general_parser(name: str) -> None:
    data = BROKEN[name](_leaf().data)
    try:
        fast = entry._parse_leaf_fast(data)
    except LedgerError:
        fast = None
    assert fast is None
    general = _error(lambda: entry._parse_leaf(data))
    assert general is not None, "the mutation must break the leaf"
    assert _error(lambda: entry.Leaf.from_bytes(data)) is general


# JSON objects written several ways: canonical, sorted with spaces, unsorted, escaped.
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=12,
)
_objects = st.dictionaries(_text, _values, max_size=4)


@given(_objects, st.booleans(), st.booleans(), st.booleans())
@settings(max_examples=examples(400), deadline=None)
def test_bytes_the_fast_check_accepts_are_exactly_canonical(
    value: dict[str, Any], sort: bool, compact: bool, ascii_only: bool
) -> None:
    try:
        canonical = codec.canonical(value)
    except LedgerError:
        canonical = None  # an unsafe integer: nothing is canonical
    separators = (",", ":") if compact else (", ", ": ")
    written = json.dumps(value, sort_keys=sort, separators=separators, ensure_ascii=ascii_only)
    for raw in {written.encode(), *([canonical] if canonical else [])}:
        parsed = leafparse.canonical_object(raw)
        if parsed is not None:
            assert raw == canonical
            assert parsed == value
    if canonical is not None and b"\\" not in canonical and _ascii_keys(value):
        assert leafparse.canonical_object(canonical) == value


def test_bytes_like_input_parses_and_other_types_are_refused_as_before() -> None:
    leaf = _leaf()
    assert entry.Leaf.from_bytes(bytearray(leaf.data)) == leaf
    assert entry.Leaf.from_bytes(memoryview(leaf.data)) == leaf
    for wrong in (leaf.data.decode(), None, 5):
        with pytest.raises(EncodingError, match="expected bytes"):
            entry.Leaf.from_bytes(wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("log", [None, ORIGIN])
def test_the_fast_path_binds_the_origin_as_for_log_does(log: str | None) -> None:
    leaf = _leaf("handoff", log)
    general, received = entry._parse_leaf(leaf.data)
    bound = entry._parse_leaf_fast(leaf.data, "other.example/log")
    assert bound is not None
    assert bound == (general.for_log("other.example/log"), received)
    assert bound[0].origin == ("other.example/log" if log else None)  # format 1 names none
    assert entry.Leaf.from_bytes(leaf.data, ORIGIN).signed == general.for_log(ORIGIN)
    with pytest.raises(ValidationError):  # a malformed origin is refused on the fast path too
        entry.Leaf.from_bytes(leaf.data, "no spaces allowed")


# The fast canonical check against the check it replaced on ASCII bytes (kept as
# `leafparse._checked_object`, still the path for non-ASCII bytes and long numbers):
# both must accept exactly the same bytes, with the same value.
_numbers = (
    st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=True)
    | st.sampled_from([0, -1, 2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 10**15, 10**16])
)
_any_values = st.recursive(
    st.none() | st.booleans() | _numbers | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=12,
)
_JSONISH = b'{}[],:"0123456789-+.eE \\\tanulrtfsx\x7f\x1f\xc3\xa9'


def _old_check(raw: bytes) -> dict[str, Any] | None:
    return None if b"\\" in raw else leafparse._checked_object(raw)


def _written(value: dict[str, Any], sort: bool, compact: bool) -> bytes:
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(value, sort_keys=sort, separators=separators).encode()


@given(
    st.dictionaries(_text, _any_values, max_size=4),
    st.booleans(),
    st.booleans(),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 3), st.sampled_from(list(_JSONISH))),
        max_size=4,
    ),
)
@settings(max_examples=examples(1000), deadline=None)
def test_the_fast_canonical_check_agrees_with_the_checked_one(
    value: dict[str, Any], sort: bool, compact: bool, edits: list[tuple[int, int, int]]
) -> None:
    try:
        start = codec.canonical(value)
    except LedgerError:  # a float or an unsafe integer: start from a plain encoding
        start = _written(value, sort, compact)
    candidates = [start, _written(value, sort, compact)]
    mutated = bytearray(start)
    for at, how, byte in edits:  # insert, replace, delete or duplicate at a random place
        at = at % (len(mutated) + 1)
        if how == 0:
            mutated[at:at] = bytes([byte])
        elif at < len(mutated):
            if how == 1:
                mutated[at] = byte
            elif how == 2:
                del mutated[at]
            else:
                mutated[at:at] = mutated[at : at + 1]
        candidates.append(bytes(mutated))
    for raw in candidates:
        _agree(raw)


def _agree(raw: bytes) -> None:
    assert leafparse.canonical_object(raw) == _old_check(raw), raw


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1e+16}',
        b'{"a":1.0}',
        b'{"a":NaN}',
        b'{"a":-Infinity}',
        b'{"a":-0}',
        b'{"a":9007199254740991}',
        b'{"a":9007199254740992}',
        b'{"a":-9007199254740992}',
        b'{"a":[1,9007199254740993]}',
        b'{"a":"x:1234567890123456"}',
        b'{"a":1,"a":1}',
        b'{"b":1,"a":2}',
        b' {"a":1}',
        b'{"a":1} ',
        b'{"a":true,"b":null,"c":[false,{}]}',
        b'{"\xc3\xa9":1}',
        b'{"a":"\xc3\xa9"}',
        b'{"\x7f":"\x7f"}',
        b'{"a":"\x1f"}',
        b"[1]",
        b'"a"',
        b'{"a":"1.5e3","b":"v1.2"}',
        b'{"a":[1,2],"a":[1,2]}',
        b'{"a":{"b":1,"b":1}}',
        b'{"a":18446744073709551615}',
        b'{"a":18446744073709551616}',
        b'{"a":-9223372036854775809}',
        b'{"a":1234567890123456}',
        b'{"a":[-1234567890123456]}',
        b'{"a":123456789012345}',
        b'{"a":01}',
        b'{"a":-}',
        b'{"a":tru}',
        b'{"a":"\x00"}',
        b'{"a":"\t"}',
        b'{"a":1}{"b":2}',
        b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}",  # too deep for both libraries
        b'{"a":' + b"[" * 300 + b"]" * 300 + b"}",  # too deep for orjson's encoder only
        b'{"a":"\x7f"}',
    ],
)
def test_the_fast_canonical_check_on_edge_cases(raw: bytes) -> None:
    _agree(raw)


@pytest.mark.parametrize("inner", [b"1", b"1.5", b'"\xc3\xa9"'])
def test_a_leaf_nested_too_deep_is_an_encoding_error_on_every_path(inner: bytes) -> None:
    # a tampered row must be reported as a leaf that does not parse, not end the audit
    # with a RecursionError (json's parser raised one through the fast check)
    deep = b"[" * 3000 + inner + b"]" * 3000
    data = _leaf().data.replace(b'"kind":', b'"deep":' + deep + b',"kind":', 1)
    with pytest.raises(EncodingError):
        entry.Leaf.from_bytes(data)


@pytest.mark.parametrize("log", [None, ORIGIN])
@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_event_hash_read_from_a_leaf_is_its_events_hash(kind: str, log: str | None) -> None:
    """`entry.leaf_event_hash` (the store keeps only a key of each event hash,
    0031_from_leaves) gives what parsing gives, in both formats, escapes and non-ASCII
    text included; the format is the leaf's, the origin the log's."""
    leaf = _leaf(kind, log)
    assert entry.leaf_event_hash(leaf.data, ORIGIN) == leaf.signed.for_log(ORIGIN).hash
    for place in ("上海 DC", 'say "hi" \\ back', ',"key":"x","received":"0","sig":"y"}'):
        leaf = _leaf("handoff", log, place=place)
        assert entry.leaf_event_hash(leaf.data, ORIGIN) == leaf.signed.for_log(ORIGIN).hash


@pytest.mark.parametrize(
    "data",
    [b"", b"{}", b'{"n":1}', b'{"event":{}}', b'{"event":{},"key":"k","received":"0"}'],
)
def test_bytes_without_a_leafs_envelope_have_no_event_hash(data: bytes) -> None:
    assert entry.leaf_event_hash(data, ORIGIN) is None
