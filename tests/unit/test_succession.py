"""The succession statement that cross-signs an old log's final checkpoint with the new
log key (docs/OPERATIONS.md, "Replacing the log key", step 3): both signatures or none,
about the right log, naming the pinned successor, never a checkpoint."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import note
from ledger.errors import CheckpointSignatureError, KeyFormatError, NoteError
from ledger.note.succession import Succession, sign_succession, verify_succession
from tests.factories import LOG_SEED, key
from tests.profiles import examples

OLD, NEW = "provenance.example/log", "provenance.example/log/2"
OLD_KEY = note.Signer(OLD, key(LOG_SEED))
NEW_KEY = note.Signer(NEW, key(LOG_SEED - 3))
FINAL = note.Checkpoint(OLD, 1234, bytes(range(32)))


def statement() -> Succession:
    return Succession(FINAL, NEW, NEW_KEY.verifier)


def test_both_log_keys_sign_and_either_pin_verifies() -> None:
    signed = sign_succession(statement(), OLD_KEY, NEW_KEY)
    got = verify_succession(signed, OLD_KEY.verifier.to_text())
    assert got == statement() and got.final.size == 1234
    assert verify_succession(signed, OLD_KEY.verifier, new_key=NEW_KEY.verifier) == statement()
    assert signed.decode().startswith("provenance-ledger/v1 succession\n")


def test_one_signature_is_not_enough() -> None:
    text = statement().body()
    only_old = note.sign_note(text, OLD_KEY).to_bytes()
    with pytest.raises(CheckpointSignatureError, match="no signature by a known key"):
        verify_succession(only_old, OLD_KEY.verifier)
    only_new = note.sign_note(text, NEW_KEY).to_bytes()
    with pytest.raises(CheckpointSignatureError):
        verify_succession(only_new, OLD_KEY.verifier)


def test_a_statement_signed_by_the_registry_key_is_not_the_log_s() -> None:
    registry = note.Signer(OLD, key(1))
    with pytest.raises(KeyFormatError):
        sign_succession(statement(), OLD_KEY, registry)  # not the named new key
    forged = note.Note(
        statement().body(),
        [*note.sign_note(statement().body(), registry).signatures,
         *note.sign_note(statement().body(), NEW_KEY).signatures],
    ).to_bytes()  # fmt: skip
    with pytest.raises(CheckpointSignatureError):
        verify_succession(forged, OLD_KEY.verifier)


def test_a_statement_naming_another_successor_than_the_pinned_is_refused() -> None:
    impostor = note.Signer(NEW, key(77))
    signed = sign_succession(Succession(FINAL, NEW, impostor.verifier), OLD_KEY, impostor)
    verify_succession(signed, OLD_KEY.verifier)  # well signed ...
    with pytest.raises(CheckpointSignatureError, match="another new key"):
        verify_succession(signed, OLD_KEY.verifier, new_key=NEW_KEY.verifier)  # ... not ours


def test_a_statement_about_another_log_is_refused() -> None:
    other = note.Signer("other.example/log", key(LOG_SEED))
    final = note.Checkpoint("other.example/log", 1, bytes(32))
    signed = sign_succession(Succession(final, NEW, NEW_KEY.verifier), other, NEW_KEY)
    with pytest.raises(CheckpointSignatureError):
        verify_succession(signed, OLD_KEY.verifier)


@settings(max_examples=examples(100))
@given(index=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_refused(index: int, bit: int) -> None:
    signed = bytearray(sign_succession(statement(), OLD_KEY, NEW_KEY))
    signed[index % len(signed)] ^= 1 << bit
    with pytest.raises((CheckpointSignatureError, NoteError, KeyFormatError)):
        verify_succession(bytes(signed), OLD_KEY.verifier, new_key=NEW_KEY.verifier)


def test_it_never_passes_for_a_checkpoint() -> None:
    signed = sign_succession(statement(), OLD_KEY, NEW_KEY)
    with pytest.raises((NoteError, CheckpointSignatureError)):
        note.verify_checkpoint(signed, OLD_KEY.verifier)
    with pytest.raises((NoteError, CheckpointSignatureError)):
        note.verify_checkpoint(signed, NEW_KEY.verifier)


@pytest.mark.parametrize(
    ("new_origin", "message"),
    [(OLD, "origin of its own"), ("elsewhere.example/log", "not named after")],
)
def test_a_successor_is_another_log_named_by_its_key(new_origin: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        Succession(FINAL, new_origin, NEW_KEY.verifier)
