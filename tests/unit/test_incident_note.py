"""The incident note's text (ledger/note/incident.py): one parse, every refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import note
from ledger.errors import LedgerError, NoteError
from ledger.note.incident import Incident, one_line, sign_incident, verify_incident
from tests.factories import key

ORIGIN = "resolver.example/log"
SIGNER = note.Signer(ORIGIN, key(7))

sizes = st.integers(min_value=0, max_value=2**63 - 1)
roots = st.binary(min_size=32, max_size=32)
notes = st.text(min_size=1, max_size=200).map(one_line).filter(bool)


@given(sizes, sizes, roots, roots, notes)
def test_an_incident_round_trips_and_verifies_under_the_log_key(
    a: int, b: int, r1: bytes, r2: bytes, text: str
) -> None:
    served, given_up = sorted((a, b))
    if served == given_up:
        given_up += 1
    incident = Incident(
        note.Checkpoint(ORIGIN, given_up, r1),
        note.Checkpoint(ORIGIN, served, r2),
        "2026-12-03T02:10:00Z",
        text,
    )
    assert Incident.from_body(incident.body()) == incident
    signed = sign_incident(incident, SIGNER)
    assert verify_incident(signed, SIGNER.verifier) == incident
    with pytest.raises(LedgerError):
        verify_incident(signed, note.Signer(ORIGIN, key(8)).verifier)  # another key


def _incident(**change: object) -> Incident:
    fields: dict[str, object] = {
        "given_up": note.Checkpoint(ORIGIN, 80, bytes(32)),
        "served": note.Checkpoint(ORIGIN, 57, bytes(32)),
        "at": "2026-12-03T02:10:00Z",
        "note": "disk lost",
    }
    return Incident(**{**fields, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"served": note.Checkpoint(ORIGIN, 80, bytes(32))},  # not smaller
        {"served": note.Checkpoint("other.example/log", 5, bytes(32))},  # two logs
        {"at": "yesterday"},
        {"note": ""},
        {"note": "two\nlines"},
        {"note": "x" * 1001},
    ],
)
def test_a_malformed_incident_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(NoteError):
        _incident(**change)


def test_a_checkpoint_is_not_an_incident_and_an_incident_is_not_a_checkpoint() -> None:
    checkpoint = note.sign_checkpoint(note.Checkpoint(ORIGIN, 5, bytes(32)), SIGNER)
    with pytest.raises(NoteError, match="not an incident"):
        verify_incident(checkpoint, SIGNER.verifier)
    signed = sign_incident(_incident(), SIGNER)
    with pytest.raises(LedgerError):
        note.verify_checkpoint(signed, SIGNER.verifier)


def test_the_log_key_must_be_named_after_the_incidents_log() -> None:
    with pytest.raises(LedgerError, match="not named after"):
        sign_incident(_incident(), note.Signer("other.example/log", key(7)))
