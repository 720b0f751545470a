"""Tests for ledger.note: C2SP signed notes, checkpoints and cosignatures.

Known answers come from the Go reference implementation of c2sp.org/signed-note
(golang.org/x/mod/sumdb/note, package documentation: the PeterNeumann and EnochRoot
keys and notes) and from the tlog-checkpoint specification's example body. Checkpoints
and cosignatures are also checked by a few lines of hashlib + cryptography + base64
below that do not import ledger.note.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import private_key_from_seed
from ledger.errors import CheckpointSignatureError, KeyFormatError, NoteError
from ledger.note import (
    ALG_COSIGNATURE_V1,
    MAX_SIGNATURES,
    Checkpoint,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    cosign_checkpoint,
    cosigned_message,
    key_hash,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_cosignature,
    verify_note,
)
from tests.profiles import examples

# golang.org/x/mod/sumdb/note package documentation (the reference for signed-note).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
PETER_LINE = f"\u2014 PeterNeumann {PETER_SIG}\n"
# The example's second key is generated from an all-zero random source, so its seed is 0^32.
ENOCH_SIG = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
ENOCH_LINE = f"\u2014 EnochRoot {ENOCH_SIG}\n"
PETER_NOTE = (PETER_TEXT + "\n" + PETER_LINE).encode()

# c2sp.org/tlog-checkpoint example note text.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

ORIGIN = "log.example/provenance"
WITNESS = "witness.example/w1"
ROOT = hashlib.sha256(b"root").digest()


# ---- factories -------------------------------------------------------------------------


def make_signer(name: str = ORIGIN, seed: int = 1, algorithm: int = 0x01) -> Signer:
    return Signer(name, private_key_from_seed(bytes([seed]) * 32), algorithm)


def make_checkpoint(size: int = 42, extensions: tuple[str, ...] = ()) -> Checkpoint:
    return Checkpoint(ORIGIN, size, ROOT, extensions)


def enoch() -> Signer:
    return Signer("EnochRoot", private_key_from_seed(bytes(32)))


def flip_signature_byte(line: str, index: int) -> str:
    """Flip one byte of the decoded signature blob of a signature line."""
    prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[index] ^= 0x01
    return f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


# ---- an independent implementation: hashlib + cryptography + base64 only ----------------


def independent_verify(note: bytes, name: str, public_key: bytes) -> str:
    """Verify ``name``'s Ed25519 note signature without ledger.note; return the text."""
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]
    text, _, signature_block = note.decode("utf-8").rpartition("\n\n")
    text += "\n"
    for line in signature_block.splitlines():
        if line.startswith(f"\u2014 {name} "):
            blob = base64.b64decode(line.split(" ")[2], validate=True)
            if blob[:4] == key_id:
                Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], text.encode())
                return text
    raise AssertionError("no signature line by that key")


def independent_cosignature_check(body: str, line: str, name: str, public_key: bytes) -> int:
    """Check a cosignature/v1 line without ledger.note; return its timestamp."""
    assert line.startswith(f"\u2014 {name} ") and line.endswith("\n")
    blob = base64.b64decode(line.rstrip("\n").split(" ")[2], validate=True)
    assert len(blob) == 4 + 8 + 64
    assert blob[:4] == hashlib.sha256(name.encode() + b"\n\x04" + public_key).digest()[:4]
    timestamp = int.from_bytes(blob[4:12], "big")
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    Ed25519PublicKey.from_public_bytes(public_key).verify(blob[12:], message)
    return timestamp


def independent_sign(body: str, name: str, seed: bytes) -> bytes:
    """Sign a note without ledger.note (cryptography only)."""
    key = private_key_from_seed(seed)
    public = key.public_key().public_bytes_raw()
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    blob = base64.b64encode(key_id + key.sign(body.encode())).decode()
    return f"{body}\n\u2014 {name} {blob}\n".encode()


# ---- keys --------------------------------------------------------------------------------


def test_reference_verifier_key_parses_and_round_trips() -> None:
    verifier = Verifier.from_text(PETER_VKEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_hash == 0xC74F20A3
    assert verifier.algorithm == 0x01
    assert len(verifier.public_key) == 32
    assert verifier.to_text() == PETER_VKEY
    assert key_hash("PeterNeumann", 1, verifier.public_key) == 0xC74F20A3


def test_reference_signer_key_parses_round_trips_and_matches_verifier() -> None:
    signer = Signer.from_text(PETER_SKEY)
    assert signer.to_text() == PETER_SKEY
    assert signer.verifier == Verifier.from_text(PETER_VKEY)
    assert "PRIVATE" not in repr(signer) and "private_key" not in repr(signer)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key_hash"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key_hash"),
        ("PeterNeumann+c74f20a3+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10", "public_key"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW==", "public_key"),
        ("PeterNeumann+c74f20a3", "public_key"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
    ],
)
def test_malformed_verifier_keys_are_refused(text: str, field: str) -> None:
    with pytest.raises(KeyFormatError) as e:
        Verifier.from_text(text)
    assert e.value.field == field


def test_malformed_signer_keys_are_refused() -> None:
    with pytest.raises(KeyFormatError, match="PRIVATE"):
        Signer.from_text(PETER_VKEY)
    with pytest.raises(KeyFormatError) as e:
        Signer.from_text(PETER_SKEY.replace("c74f20a3", "c74f20a4"))
    assert e.value.field == "key_hash"


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0x"])
def test_key_names_follow_the_spec(name: str) -> None:
    with pytest.raises(KeyFormatError) as e:
        make_signer(name)
    assert e.value.field == "name"
    with pytest.raises(NoteError):
        NoteSignature(name, 1, b"x")


def test_wrong_types_and_sizes_raise_ledger_errors() -> None:
    with pytest.raises(KeyFormatError, match="got 32 bytes"):
        Verifier.from_text(f"a+00000000+{base64.b64encode(bytes(32)).decode()}")
    with pytest.raises(KeyFormatError):
        Verifier.for_key(ORIGIN, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError):
        Verifier(ORIGIN, 0, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError):
        Signer(ORIGIN, b"seed")  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError):
        make_signer(algorithm=0x02)
    for key_id in ("1", -1, 2**32):
        with pytest.raises(NoteError, match="key ID"):
            NoteSignature(ORIGIN, key_id, b"x")  # type: ignore[arg-type]
    with pytest.raises(NoteError, match="signature"):
        NoteSignature(ORIGIN, 1, b"")
    with pytest.raises(NoteError):
        NoteSignature.from_line(b"\xe2\x80\x94 a AAAAAAA=")  # type: ignore[arg-type]
    with pytest.raises(NoteError):
        Note.from_bytes(12)  # type: ignore[arg-type]
    with pytest.raises(NoteError, match="NoteSignature"):
        Note("text\n", ["\u2014 a AAAAAAA="])  # type: ignore[list-item]
    line = NoteSignature(ORIGIN, 1, b"x")
    with pytest.raises(NoteError, match="more than 100"):
        Note("text\n", [line] * (MAX_SIGNATURES + 1))


def test_verifier_refuses_a_key_id_that_does_not_match() -> None:
    good = make_signer().verifier
    with pytest.raises(KeyFormatError, match="does not match"):
        Verifier(good.name, good.key_hash ^ 1, good.public_key)
    with pytest.raises(KeyFormatError):
        Verifier.for_key(ORIGIN, b"\x00" * 31)


def test_witness_key_id_uses_the_cosignature_type_byte() -> None:
    log, witness = make_signer(WITNESS, 7), make_signer(WITNESS, 7, ALG_COSIGNATURE_V1)
    raw = witness.verifier.public_key
    assert witness.verifier.key_hash == int.from_bytes(
        hashlib.sha256(WITNESS.encode() + b"\n\x04" + raw).digest()[:4], "big"
    )
    assert log.verifier.key_hash != witness.verifier.key_hash
    assert Verifier.from_text(witness.verifier.to_text()) == witness.verifier
    assert Signer.from_text(witness.to_text()).verifier == witness.verifier


# ---- signed notes: the reference vectors ------------------------------------------------


def test_signing_reproduces_the_reference_note_byte_for_byte() -> None:
    assert sign_note(PETER_TEXT, Signer.from_text(PETER_SKEY)).to_bytes() == PETER_NOTE


def test_reference_note_verifies_and_parses() -> None:
    note = verify_note(PETER_NOTE, PETER_VKEY)
    assert note.text == PETER_TEXT
    assert [(s.name, s.key_hash) for s in note.signatures] == [("PeterNeumann", 0xC74F20A3)]
    assert note.to_bytes() == PETER_NOTE


def test_reference_cosigned_note_reproduced_and_unknown_signer_ignored() -> None:
    ours = sign_note(PETER_TEXT, enoch()).signatures[0]
    assert ours.to_line() == ENOCH_LINE
    both = (PETER_TEXT + "\n" + PETER_LINE + ENOCH_LINE).encode()
    assert len(verify_note(both, PETER_VKEY).signatures) == 2  # Enoch unknown: kept, ignored
    assert verify_note(both, [enoch().verifier]).text == PETER_TEXT
    assert verify_note(both, [PETER_VKEY, enoch().verifier]).text == PETER_TEXT


def test_modified_text_fails() -> None:
    tampered = PETER_NOTE.replace(b"answer", b"ANSWER")
    with pytest.raises(CheckpointSignatureError, match="does not verify"):
        verify_note(tampered, PETER_VKEY)


def test_modified_signature_fails() -> None:
    tampered = (PETER_TEXT + "\n" + flip_signature_byte(PETER_LINE, 10)).encode()
    with pytest.raises(CheckpointSignatureError, match="does not verify"):
        verify_note(tampered, PETER_VKEY)


def test_wrong_key_fails() -> None:
    other = make_signer("PeterNeumann", 9).verifier  # same name, another key and key ID
    with pytest.raises(CheckpointSignatureError, match="no signature by a known key"):
        verify_note(PETER_NOTE, other)


def test_known_key_with_bad_signature_is_not_skipped() -> None:
    bad_enoch = flip_signature_byte(ENOCH_LINE, 30)
    note = (PETER_TEXT + "\n" + PETER_LINE + bad_enoch).encode()
    verify_note(note, PETER_VKEY)  # Enoch is unknown here: ignored
    with pytest.raises(CheckpointSignatureError, match="EnochRoot"):
        verify_note(note, [PETER_VKEY, enoch().verifier])
    twice = (PETER_TEXT + "\n" + PETER_LINE + flip_signature_byte(PETER_LINE, 40)).encode()
    with pytest.raises(CheckpointSignatureError):
        verify_note(twice, PETER_VKEY)


def test_only_unknown_signers_fail() -> None:
    note = (PETER_TEXT + "\n" + ENOCH_LINE).encode()
    with pytest.raises(CheckpointSignatureError):
        verify_note(note, PETER_VKEY)


def test_same_name_other_key_id_is_unknown_not_bad() -> None:
    impostor = flip_signature_byte(PETER_LINE, 0)  # key ID changed: another key
    note = (PETER_TEXT + "\n" + impostor + PETER_LINE).encode()
    assert verify_note(note, PETER_VKEY).text == PETER_TEXT


def test_ambiguous_or_missing_verifier_keys_are_refused() -> None:
    with pytest.raises(KeyFormatError):
        verify_note(PETER_NOTE, [])
    with pytest.raises(KeyFormatError):
        verify_note(PETER_NOTE, [PETER_VKEY, 42])  # type: ignore[list-item]


def test_note_text_may_hold_blank_lines_and_round_trips() -> None:
    text = "first\n\n\u2014 looks like a signature AAAA\n\nlast\n"
    signed = sign_note(text, make_signer()).to_bytes()
    note = verify_note(signed, make_signer().verifier)
    assert note.text == text
    assert Note.from_bytes(signed) == note


def test_max_signatures_accepted_one_more_refused() -> None:
    line = ENOCH_LINE
    ok = (PETER_TEXT + "\n" + PETER_LINE + line * (MAX_SIGNATURES - 1)).encode()
    assert len(verify_note(ok, PETER_VKEY).signatures) == MAX_SIGNATURES
    with pytest.raises(NoteError, match="more than 100") as e:
        Note.from_bytes(ok + line.encode())
    assert not isinstance(e.value, CheckpointSignatureError)


# ---- malformed notes -----------------------------------------------------------------------

SIG_B64 = PETER_SIG


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (PETER_NOTE[:-1], "final newline"),
        (PETER_TEXT.encode() + PETER_LINE.encode(), "blank line"),
        (b"no newline at all", "blank line"),
        (PETER_TEXT.encode() + b"\n", "no signature lines"),
        ((PETER_TEXT + "\n\u2014 PeterNeumann not*base64\n").encode(), "base64"),
        ((PETER_TEXT + "\n\u2014 PeterNeumann " + SIG_B64[:-1] + "\n").encode(), "base64"),
        ((PETER_TEXT + "\n-- PeterNeumann " + SIG_B64 + "\n").encode(), "em dash"),
        ((PETER_TEXT + "\n\u2013 PeterNeumann " + SIG_B64 + "\n").encode(), "em dash"),
        ((PETER_TEXT + "\n\u2014PeterNeumann " + SIG_B64 + "\n").encode(), "em dash"),
        ((PETER_TEXT + "\n\u2014 PeterNeumann\n").encode(), "key name"),
        ((PETER_TEXT + "\n\u2014 Peter+Neumann " + SIG_B64 + "\n").encode(), "key name"),
        ((PETER_TEXT + "\n\u2014 PeterNeumann AAAAAA==\n").encode(), "4-byte key ID"),
        ((PETER_TEXT + "\n" + PETER_LINE + "\n").encode(), "no signature lines"),
        (PETER_NOTE.replace(b"answer", b"\xffnswer"), "UTF-8"),
        (PETER_NOTE.replace(b"answer", b"an\tswer"), "control character"),
        (PETER_NOTE.replace(b"answer", b"an\rswer"), "control character"),
    ],
)
def test_malformed_notes_raise_note_error_naming_the_problem(data: bytes, words: str) -> None:
    for parse in (Note.from_bytes, lambda d: verify_note(d, PETER_VKEY)):
        with pytest.raises(NoteError, match=words) as e:
            parse(data)
        assert not isinstance(e.value, CheckpointSignatureError)


def test_malformed_signature_line_names_its_line_number() -> None:
    data = (PETER_TEXT + "\n" + PETER_LINE + "\u2014 x !!\n").encode()
    with pytest.raises(NoteError) as e:
        Note.from_bytes(data)
    assert e.value.field == "signature line 2"


def test_note_constructor_and_to_bytes_refuse_bad_notes() -> None:
    with pytest.raises(NoteError, match="newline"):
        Note("no final newline")
    with pytest.raises(NoteError, match="control"):
        Note("bell\a\n")
    with pytest.raises(NoteError, match="surrogate"):
        Note("lone \ud800\n")
    with pytest.raises(NoteError, match="at least one signature"):
        Note("text\n").to_bytes()
    with pytest.raises(NoteError):
        sign_note("no newline", make_signer())


# ---- checkpoints ---------------------------------------------------------------------------


def test_spec_example_body_parses_and_formats_identically() -> None:
    checkpoint = Checkpoint.from_body(SPEC_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.body() == SPEC_BODY


def test_body_layout() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, bytes(32), ("ext one", "two"))
    assert checkpoint.body() == f"{ORIGIN}\n0\n{'A' * 43}=\next one\ntwo\n"


def test_signed_checkpoint_verifies_with_an_independent_implementation() -> None:
    signer = make_signer()
    checkpoint = make_checkpoint(extensions=("ext",))
    signed = sign_checkpoint(checkpoint, signer)
    text = independent_verify(signed, ORIGIN, signer.verifier.public_key)
    assert text == checkpoint.body()
    assert verify_checkpoint(signed, signer.verifier.to_text()) == checkpoint
    assert verify_checkpoint(signed.decode(), signer.verifier) == checkpoint


def test_independently_signed_checkpoint_verifies_with_ours() -> None:
    signed = independent_sign(make_checkpoint().body(), ORIGIN, bytes([1]) * 32)
    assert verify_checkpoint(signed, make_signer().verifier) == make_checkpoint()


def test_checkpoint_with_wrong_key_or_bad_signature_fails() -> None:
    signed = sign_checkpoint(make_checkpoint(), make_signer())
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(signed, make_signer(seed=2).verifier)
    text, line = signed.decode().split("\n\n")
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(f"{text}\n\n{flip_signature_byte(line, 20)}", make_signer().verifier)
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(signed.replace(b"\n42\n", b"\n43\n"), make_signer().verifier)


def test_checkpoint_origin_must_match_key_name_or_the_given_origin() -> None:
    other = make_signer("other.example/key")
    signed = sign_note(make_checkpoint().body(), other).to_bytes()
    with pytest.raises(CheckpointSignatureError) as e:
        verify_checkpoint(signed, other.verifier)
    assert e.value.field == "origin"
    assert verify_checkpoint(signed, other.verifier, origin=ORIGIN) == make_checkpoint()
    with pytest.raises(NoteError, match="origin"):
        sign_checkpoint(make_checkpoint(), other)


def test_verify_checkpoint_refuses_a_witness_key() -> None:
    signed = sign_checkpoint(make_checkpoint(), make_signer())
    with pytest.raises(KeyFormatError):
        verify_checkpoint(signed, make_signer(algorithm=ALG_COSIGNATURE_V1).verifier)


def test_checkpoint_unknown_signers_ignored() -> None:
    signed = sign_checkpoint(make_checkpoint(), make_signer())
    stranger = sign_note(make_checkpoint().body(), make_signer("x.example/s", 5)).signatures[0]
    text, lines = signed.decode().split("\n\n")
    mixed = f"{text}\n\n{stranger.to_line()}{lines}"
    assert verify_checkpoint(mixed, make_signer().verifier) == make_checkpoint()
    only_stranger = f"{text}\n\n{stranger.to_line()}"
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(only_stranger, make_signer().verifier)


ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f"{ORIGIN}\n1\n{base64.b64encode(bytes(31)).decode()}\n", "root"),
        (f"{ORIGIN}\n1\n{base64.b64encode(bytes(33)).decode()}\n", "root"),
        (f"{ORIGIN}\n1\nnot base64!\n", "root"),
        (f"{ORIGIN}\n1\n{ROOT_B64.rstrip('=')}\n", "root"),
        (f"{ORIGIN}\n01\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n-1\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n+1\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n 1\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n1_0\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n\u0661\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n", "size"),
        (f"\n1\n{ROOT_B64}\n", "origin"),
        (f"{ORIGIN}\n1\n{ROOT_B64}", "body"),
        (f"{ORIGIN}\n1\n", "body"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\n\n", "extensions[0]"),
        (f"{ORIGIN}\n1\n{ROOT_B64}\next\n\n", "extensions[1]"),
    ],
)
def test_malformed_checkpoint_bodies(body: str, field: str) -> None:
    with pytest.raises(NoteError) as e:
        Checkpoint.from_body(body)
    assert e.value.field == field
    assert field.split("[")[0] in str(e.value)


def test_malformed_checkpoint_in_a_validly_signed_note_is_a_note_error() -> None:
    signer = make_signer()
    signed = sign_note(f"{ORIGIN}\n01\n{ROOT_B64}\n", signer).to_bytes()
    with pytest.raises(NoteError) as e:
        verify_checkpoint(signed, signer.verifier)
    assert not isinstance(e.value, CheckpointSignatureError)
    assert e.value.field == "size"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"root": bytes(31)}, "root"),
        ({"root": "x" * 32}, "root"),
        ({"size": -1}, "size"),
        ({"size": 2**64}, "size"),
        ({"size": True}, "size"),
        ({"origin": ""}, "origin"),
        ({"origin": "a\nb"}, "origin"),
        ({"origin": "a\x00b"}, "origin"),
        ({"extensions": ("",)}, "extensions[0]"),
        ({"extensions": "ext"}, "extensions"),
    ],
)
def test_checkpoint_constructor_refuses_bad_fields(kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"origin": ORIGIN, "size": 1, "root": ROOT, **kwargs}
    with pytest.raises(NoteError) as e:
        Checkpoint(**values)  # type: ignore[arg-type]
    assert e.value.field == field


# ---- cosignatures --------------------------------------------------------------------------

TIME = 1_679_315_147


def test_cosignature_round_trip_and_independent_check() -> None:
    witness = make_signer(WITNESS, 3, ALG_COSIGNATURE_V1)
    checkpoint = make_checkpoint(extensions=("ext",))
    line = cosign_checkpoint(checkpoint, witness, TIME)
    assert verify_cosignature(checkpoint, line, witness.verifier) == TIME
    assert verify_cosignature(checkpoint, line.to_line(), witness.verifier.to_text()) == TIME
    public = witness.verifier.public_key
    assert independent_cosignature_check(checkpoint.body(), line.to_line(), WITNESS, public) == TIME


def test_cosigned_message_bytes() -> None:
    expected = f"cosignature/v1\ntime {TIME}\n{SPEC_BODY}".encode()
    assert cosigned_message(Checkpoint.from_body(SPEC_BODY), TIME) == expected
    assert cosigned_message(SPEC_BODY, 0).startswith(b"cosignature/v1\ntime 0\n")


def test_cosigned_checkpoint_note_verifies_for_log_and_witness() -> None:
    log, witness = make_signer(), make_signer(WITNESS, 3, ALG_COSIGNATURE_V1)
    note = sign_note(make_checkpoint().body(), log)
    cosig = cosign_checkpoint(make_checkpoint(), witness, TIME)
    both = Note(note.text, [*note.signatures, cosig]).to_bytes()
    assert verify_checkpoint(both, log.verifier) == make_checkpoint()
    assert verify_note(both, witness.verifier).text == note.text
    independent_verify(both, ORIGIN, log.verifier.public_key)


def test_cosignature_fails_on_changed_timestamp_body_or_key() -> None:
    witness = make_signer(WITNESS, 3, ALG_COSIGNATURE_V1)
    checkpoint = make_checkpoint()
    line = cosign_checkpoint(checkpoint, witness, TIME).to_line()
    with pytest.raises(CheckpointSignatureError):
        verify_cosignature(checkpoint, flip_signature_byte(line, 11), witness.verifier)
    with pytest.raises(CheckpointSignatureError):
        verify_cosignature(make_checkpoint(size=43), line, witness.verifier)
    with pytest.raises(CheckpointSignatureError):
        verify_cosignature(make_checkpoint(extensions=("x",)), line, witness.verifier)
    other = make_signer(WITNESS, 4, ALG_COSIGNATURE_V1).verifier
    with pytest.raises(CheckpointSignatureError, match="not the witness key"):
        verify_cosignature(checkpoint, line, other)
    with pytest.raises(CheckpointSignatureError, match="does not verify"):
        verify_cosignature(checkpoint, flip_signature_byte(line, 40), witness.verifier)


def test_cosignature_keys_are_not_interchangeable_with_log_keys() -> None:
    log, witness = make_signer(), make_signer(WITNESS, 3, ALG_COSIGNATURE_V1)
    with pytest.raises(KeyFormatError):
        cosign_checkpoint(make_checkpoint(), log, TIME)
    with pytest.raises(KeyFormatError):
        sign_note("text\n", witness)
    line = cosign_checkpoint(make_checkpoint(), witness, TIME)
    with pytest.raises(KeyFormatError):
        verify_cosignature(make_checkpoint(), line, log.verifier)


@pytest.mark.parametrize("timestamp", [-1, 2**64, True])
def test_cosignature_timestamp_must_be_u64(timestamp: int) -> None:
    witness = make_signer(WITNESS, 3, ALG_COSIGNATURE_V1)
    with pytest.raises(NoteError) as e:
        cosign_checkpoint(make_checkpoint(), witness, timestamp)
    assert e.value.field == "timestamp"


def test_cosignature_of_wrong_length_fails() -> None:
    witness = make_signer(WITNESS, 3, ALG_COSIGNATURE_V1)
    verifier = witness.verifier
    short = NoteSignature(WITNESS, verifier.key_hash, bytes(64))
    with pytest.raises(CheckpointSignatureError):
        verify_cosignature(make_checkpoint(), short, verifier)
    with pytest.raises(NoteError):
        verify_cosignature(make_checkpoint(), "not a line", verifier)


# ---- properties ----------------------------------------------------------------------------

LINE_CHARS = st.characters(min_codepoint=0x20, exclude_categories=["Cs"])
LINES = st.text(alphabet=LINE_CHARS, min_size=1, max_size=40)
KEY_NAMES = st.text(
    alphabet=st.characters(min_codepoint=0x21, exclude_categories=["Cs"]),
    min_size=1,
    max_size=40,
).filter(lambda s: "+" not in s and not any(c.isspace() for c in s))
CHECKPOINTS = st.builds(
    Checkpoint,
    origin=LINES,
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(LINES, max_size=3).map(tuple),
)
SEED = bytes(range(32))


@settings(max_examples=examples(300), deadline=None)
@given(CHECKPOINTS)
def test_body_round_trips(checkpoint: Checkpoint) -> None:
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint


@settings(max_examples=examples(100), deadline=None)
@given(
    origin=KEY_NAMES,
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(LINES, max_size=3).map(tuple),
    timestamp=st.integers(min_value=0, max_value=2**64 - 1),
)
def test_sign_verify_round_trips(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...], timestamp: int
) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    signer = Signer(origin, private_key_from_seed(SEED))
    signed = sign_checkpoint(checkpoint, signer)
    assert verify_checkpoint(signed, signer.verifier.to_text()) == checkpoint
    assert independent_verify(signed, origin, signer.verifier.public_key) == checkpoint.body()
    witness = Signer(origin, private_key_from_seed(SEED), ALG_COSIGNATURE_V1)
    cosig = cosign_checkpoint(checkpoint, witness, timestamp)
    assert verify_cosignature(checkpoint, cosig.to_line(), witness.verifier) == timestamp


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_note_error(data: bytes) -> None:
    try:
        verify_note(PETER_TEXT.encode() + b"\n" + data, PETER_VKEY)
    except NoteError:
        pass


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_never_raises_anything_but_ledger_errors(text: str) -> None:
    for parse in (Checkpoint.from_body, Note.from_bytes, NoteSignature.from_line):
        try:
            parse(text)
        except NoteError:
            pass
    for parse_key in (Verifier.from_text, Signer.from_text):
        try:
            parse_key(text)
        except KeyFormatError:
            pass


def test_independent_verifier_rejects_tampering() -> None:
    # Guards the guard: the independent check really checks.
    signed = sign_checkpoint(make_checkpoint(), make_signer())
    with pytest.raises(InvalidSignature):
        independent_verify(
            signed.replace(b"\n42\n", b"\n43\n"), ORIGIN, make_signer().verifier.public_key
        )
