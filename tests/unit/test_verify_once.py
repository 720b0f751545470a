"""A request's events are verified once (ledger.entry): a success is remembered on the
event object under the exact key bytes, and one bound copy per log is shared by the write
quota and the append. Both ways: what verified is not re-checked, and nothing that did
not verify (another key, a changed copy, a failure) is ever taken as verified."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger import codec, crypto, entry, events
from ledger.errors import SignatureError
from ledger.verify.batchverify import first_bad_signature
from tests.factories import key, valid_events

ORIGIN = "example.org/log"
OTHER = "example.org/other"


def _signed(seed: int = 1) -> entry.SignedEvent:
    """A format-2 event as the API reads it: parsed from JSON, not yet bound to a log."""
    signed = entry.sign_event(
        events.event_from_dict(valid_events()["handoff"]), key(seed), log=ORIGIN
    )
    return entry.SignedEvent.from_dict(codec.parse(codec.canonical(signed.to_dict())))


def _raw(seed: int) -> bytes:
    return crypto.public_key_to_raw(key(seed).public_key())


def test_binding_twice_to_one_log_gives_one_object() -> None:
    parsed = _signed()
    bound = parsed.for_log(ORIGIN)
    assert bound is parsed.for_log(ORIGIN) and bound.origin == ORIGIN
    other = parsed.for_log(OTHER)
    assert other is not bound and other.origin == OTHER


def test_a_verified_event_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    bound = _signed().for_log(ORIGIN)
    entry.verify_event(bound, _raw(1))
    calls: list[bytes] = []
    monkeypatch.setattr(crypto, "verify", lambda *a: calls.append(a[0]))
    entry.verify_event(_signed().for_log(ORIGIN), _raw(1))  # another object: checked
    assert len(calls) == 1
    entry.verify_event(bound, _raw(1))  # the same object, the same key: remembered
    assert len(calls) == 1


def test_the_quota_check_and_the_append_share_one_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _signed()
    real = crypto.verify
    calls: list[bytes] = []

    def counting(*args: bytes) -> None:
        calls.append(args[0])
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(crypto, "verify", counting)
    for _ in range(2):  # the quota binds and verifies, then the append does the same
        assert first_bad_signature([(0, parsed.for_log(ORIGIN), _raw(1))]) is None
    assert len(calls) == 1


def test_a_verified_event_still_fails_under_another_key() -> None:
    bound = _signed().for_log(ORIGIN)
    entry.verify_event(bound, _raw(1))
    with pytest.raises(SignatureError):
        entry.verify_event(bound, _raw(2))


def test_a_failure_is_never_remembered() -> None:
    bound = _signed().for_log(OTHER)  # the signature names ORIGIN: fails here
    for _ in range(2):
        with pytest.raises(SignatureError):
            entry.verify_event(bound, _raw(1))


def test_a_changed_copy_of_a_verified_event_is_checked_in_full() -> None:
    bound = _signed().for_log(ORIGIN)
    entry.verify_event(bound, _raw(1))
    forged = replace(bound, sig=bytes(64))
    with pytest.raises(SignatureError):
        entry.verify_event(forged, _raw(1))
    moved = replace(bound, origin=OTHER)  # the same signature read against another log
    with pytest.raises(SignatureError):
        entry.verify_event(moved, _raw(1))


def test_a_key_object_is_checked_in_full_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    bound = _signed().for_log(ORIGIN)
    entry.verify_event(bound, key(1).public_key())
    calls: list[object] = []
    monkeypatch.setattr(crypto, "verify", lambda *a: calls.append(a[0]))
    entry.verify_event(bound, key(1).public_key())
    assert len(calls) == 1
