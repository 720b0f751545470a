"""ledger.entry: signed events, leaves, event and chain hashes."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import codec, crypto, entry, events, merkle
from ledger.errors import EncodingError, SignatureError, ValidationError
from tests.factories import key, valid_events

VALID = valid_events()
RECEIVED = datetime(2026, 11, 28, 12, 0, 1, 250_000, tzinfo=UTC)


def _mutations(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every leaf path of a JSON value with a different value of the same type."""
    if isinstance(value, dict):
        return [m for k, v in value.items() for m in _mutations(v, (*path, k))]
    if isinstance(value, list):
        return [m for i, v in enumerate(value) for m in _mutations(v, (*path, i))]
    if isinstance(value, str):
        return [(path, _bump(value[0]) + value[1:])]
    return [(path, "changed")]


def _bump(char: str) -> str:
    """The next character of the same class (digit, lower, upper), wrapping around."""
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if char in alphabet:
            return alphabet[(alphabet.index(char) + 1) % len(alphabet)]
    return "A"


def _set(data: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return out


@pytest.mark.parametrize("kind", sorted(VALID))
def test_signed_event_verifies_and_round_trips(kind: str) -> None:
    signer = key(1)
    signed = entry.sign_event(events.event_from_dict(VALID[kind]), signer, log=None)
    entry.verify_event(signed, signer.public_key())
    again = entry.SignedEvent.from_dict(codec.parse(codec.canonical(signed.to_dict())))
    assert again == signed
    entry.verify_event(again, signer.public_key())


@pytest.mark.parametrize("kind", ["handoff", "commission", "actor.register", "authorize"])
def test_changing_any_field_breaks_the_signature(kind: str) -> None:
    signer = key(1)
    signed = entry.sign_event(events.event_from_dict(VALID[kind]), signer, log=None)
    envelope = signed.to_dict()
    checked = 0
    for path, new in _mutations(envelope["event"]):
        changed = _set(envelope, ("event", *path), new)
        try:
            forged = entry.SignedEvent.from_dict(changed)
        except ValidationError:
            continue  # the change made the event malformed: refused even earlier
        with pytest.raises(SignatureError):
            entry.verify_event(forged, signer.public_key())
        checked += 1
    assert checked >= 5


def test_other_key_and_other_domain_fail() -> None:
    event = events.event_from_dict(VALID["sell"])
    signed = entry.sign_event(event, key(1), log=None)
    with pytest.raises(SignatureError, match="different key"):
        entry.verify_event(signed, key(2).public_key())
    # A signature by key 2 presented under key 1's id fails too.
    forged = entry.SignedEvent(signed.event, signed.event_bytes, signed.key, key(2).sign(b"x"))
    with pytest.raises(SignatureError, match="does not verify"):
        entry.verify_event(forged, key(1).public_key())
    # Same bytes signed under the label domain do not verify as an event.
    label_sig = crypto.sign(key(1), crypto.DOMAIN_LABEL, signed.event_bytes)
    relabelled = entry.SignedEvent(signed.event, signed.event_bytes, signed.key, label_sig)
    with pytest.raises(SignatureError):
        entry.verify_event(relabelled, key(1).public_key())


def test_event_hash_is_domain_separated_sha256() -> None:
    signed = entry.sign_event(events.event_from_dict(VALID["commission"]), key(1), log=None)
    expected = hashlib.sha256(crypto.DOMAIN_EVENT + codec.canonical(VALID["commission"]))
    assert signed.hash == expected.digest()


@pytest.mark.parametrize("log", [None, "example.org/log"])
def test_message_and_hash_are_message_and_hash(log: str | None) -> None:
    # format 1 (no log) and format 2 (bound to a log); before and after `hash` was read
    made = events.event_from_dict(VALID["commission"])
    for read_first in (False, True):
        signed = entry.sign_event(made, key(1), log=log)
        fresh = entry.sign_event(made, key(1), log=log)
        if read_first:
            assert signed.hash == fresh.hash
        assert signed.message_and_hash() == (fresh.message, fresh.hash)
        assert signed.hash == fresh.hash
    unbound = entry.SignedEvent(made, codec.canonical(VALID["commission"]), "k", b"s", v=2)
    with pytest.raises(ValidationError):  # format 2 read against no log, as `hash`
        unbound.message_and_hash()


def test_leaf_commits_to_event_key_signature_and_receive_time() -> None:
    signed = entry.sign_event(events.event_from_dict(VALID["handoff"]), key(1), log=None)
    leaf = entry.Leaf.build(signed, RECEIVED)
    assert codec.parse(leaf.data) == {**signed.to_dict(), "received": "2026-11-28T12:00:01.250Z"}
    assert leaf.hash == merkle.leaf_hash(leaf.data)
    assert entry.Leaf.from_bytes(leaf.data) == leaf
    assert leaf.received_at == RECEIVED
    later = entry.Leaf.build(signed, RECEIVED.replace(second=2))
    assert later.hash != leaf.hash


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda d: {**d, "extra": 1}, ValidationError),
        (lambda d: {k: v for k, v in d.items() if k != "received"}, ValidationError),
        (lambda d: {**d, "received": "yesterday"}, ValidationError),
        (lambda d: {**d, "sig": d["sig"][:-2]}, ValidationError),
        (lambda d: {**d, "key": "AAAA"}, ValidationError),
        (lambda d: {**d, "event": {**d["event"], "kind": "teleport"}}, ValidationError),
    ],
)
def test_malformed_leaf_is_refused(mutate: Any, error: type[Exception]) -> None:
    signed = entry.sign_event(events.event_from_dict(VALID["handoff"]), key(1), log=None)
    data = codec.parse(entry.Leaf.build(signed, RECEIVED).data)
    with pytest.raises(error):
        entry.Leaf.from_bytes(codec.canonical(mutate(data)))


def test_non_canonical_leaf_bytes_are_refused() -> None:
    signed = entry.sign_event(events.event_from_dict(VALID["handoff"]), key(1), log=None)
    leaf = entry.Leaf.build(signed, RECEIVED)
    with pytest.raises(EncodingError, match="canonical"):
        entry.Leaf.from_bytes(leaf.data.replace(b'"event":', b'"event": '))
    with pytest.raises(ValidationError):
        entry.Leaf.from_bytes(b"[]")


def test_chain_hash() -> None:
    first = entry.chain_hash(entry.ZERO_HASH, bytes(32))
    assert first == hashlib.sha256(bytes(64)).digest()
    assert entry.chain_hash(first, b"\x01" * 32) == hashlib.sha256(first + b"\x01" * 32).digest()
    with pytest.raises(ValidationError):
        entry.chain_hash(bytes(31), bytes(32))


@pytest.mark.parametrize("data", [None, [], {"event": {}}])
def test_malformed_envelope(data: Any) -> None:
    with pytest.raises(ValidationError):
        entry.SignedEvent.from_dict(data)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_leaf_bytes_are_exactly_the_canonical_leaf_object(kind: str) -> None:
    signed = entry.sign_event(events.event_from_dict(VALID[kind]), key(1), log=None)
    leaf = entry.Leaf.build(signed, RECEIVED)
    assert leaf.data == codec.canonical({**signed.to_dict(), "received": leaf.received})


def _as_sent(value: Any) -> bytes:
    """A request body as a client might write it: keys reversed, spaces, escapes."""
    if isinstance(value, dict):
        value = dict(reversed(list(value.items())))
    return json.dumps(value, indent=1, ensure_ascii=True).encode()


def _reversed_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_deep(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reversed_deep(v) for v in value]
    return value


@pytest.mark.parametrize("log", [None, "example.com/log"])
@pytest.mark.parametrize("kind", sorted(VALID))
def test_from_json_of_a_body_equals_from_dict(kind: str, log: str | None) -> None:
    event = events.event_from_dict({**VALID[kind], "time": "2026-11-28T12:00:00Z"})
    signed = entry.sign_event(event, key(1), log=log)
    body = codec.parse(_as_sent(_reversed_deep(signed.to_dict())))
    fast = entry.SignedEvent.from_json(body, log)
    assert fast == entry.SignedEvent.from_dict(body, log) == signed
    assert fast.event_bytes == signed.event_bytes  # the signed bytes, byte for byte
    entry.verify_event(fast, key(1).public_key())


def test_from_json_keeps_text_outside_ascii_exactly() -> None:
    event = events.event_from_dict({**VALID["handoff"], "place": '上海 DC \u2028 "q" \\'})
    signed = entry.sign_event(event, key(1), log=None)
    fast = entry.SignedEvent.from_json(codec.parse(_as_sent(signed.to_dict())))
    assert fast.event_bytes == signed.event_bytes == codec.canonical(event.to_dict())


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"event": {}},
        {"event": {**VALID["handoff"], "extra": 1}, "key": "A" * 22, "sig": "A" * 86},
        {"event": VALID["handoff"], "key": "A" * 22, "sig": "A" * 86, "v": 1},
        {"event": VALID["handoff"], "key": "A" * 21, "sig": "A" * 86},
    ],
)
def test_from_json_refuses_what_from_dict_refuses(data: Any) -> None:
    with pytest.raises(ValidationError) as slow:
        entry.SignedEvent.from_dict(data)
    with pytest.raises(ValidationError) as fast:
        entry.SignedEvent.from_json(data)
    assert (fast.value.field, fast.value.message) == (slow.value.field, slow.value.message)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("A" * 21, "not unpadded base64url"),
        ("A" * 21 + "B", "trailing bits"),
        ("A" * 24, "expected 16 bytes"),
        (["A" * 22], "not unpadded base64url"),
        (7, "not unpadded base64url"),
    ],
)
def test_a_key_id_seen_well_formed_is_not_checked_again_and_no_other_is_let_through(
    bad: object, message: str
) -> None:
    """The envelope's key ids are checked once per spelling (`entry._KEY_IDS_SEEN`):
    a malformed one is refused every time, before and after a good one was seen, and
    never remembered."""
    signed = entry.sign_event(events.event_from_dict(VALID["handoff"]), key(1), log=None)
    good = signed.to_dict()
    for _ in range(2):
        with pytest.raises(ValidationError, match=message) as err:
            entry.SignedEvent.from_json({**good, "key": bad})
        assert err.value.field == "key"
        assert entry.SignedEvent.from_json(good) == signed
        assert signed.key in entry._KEY_IDS_SEEN
    assert bad not in entry._KEY_IDS_SEEN if isinstance(bad, str) else True


def test_verified_under_remembers_only_a_success_under_the_same_key_bytes() -> None:
    """`entry.verified_under` is what lets the append skip a signature the write quota
    verified: true only for this object after a success under exactly these bytes."""
    signer = key(1)
    raw = crypto.public_key_to_raw(signer.public_key())
    other = crypto.public_key_to_raw(key(2).public_key())
    commission = events.event_from_dict(VALID["commission"])
    signed = entry.sign_event(commission, signer, log="test.example/log")
    assert not entry.verified_under(signed, raw)
    entry.verify_event(signed, raw)
    assert entry.verified_under(signed, raw)
    assert not entry.verified_under(signed, other)
    twin = entry.SignedEvent.from_dict(signed.to_dict(), log="test.example/log")
    assert not entry.verified_under(twin, raw)  # another object: verified anew
    forged = entry.SignedEvent.from_dict(
        {**signed.to_dict(), "sig": codec.b64url_encode(bytes(64))}, log="test.example/log"
    )
    with pytest.raises(SignatureError):
        entry.verify_event(forged, raw)
    assert not entry.verified_under(forged, raw)
