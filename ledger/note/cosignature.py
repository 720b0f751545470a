"""C2SP tlog-cosignature: witness ``cosignature/v1`` signatures on checkpoints.

Implements c2sp.org/tlog-cosignature: timestamped Ed25519 cosignatures (type 0x04)
over ``cosignature/v1\ntime <t>\n<checkpoint text>``, whose key ID uses the 0x04 type
byte; and counting which of a set of configured witnesses cosigned a checkpoint note.
It reads no clock (timestamps are arguments) and decides no quorum policy.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.errors import CheckpointSignatureError, KeyFormatError
from ledger.note.checkpoint import Checkpoint, as_verifier
from ledger.note.signednote import (
    ALG_COSIGNATURE_V1,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    _verifies,
    cosigned_bytes,
)


def cosigned_message(body: Checkpoint | str, timestamp: int) -> bytes:
    """Return the message a ``cosignature/v1`` signs (tlog-cosignature "Signed message").

    Raises:
        NoteError: the timestamp is not an integer in the u64 range.
    """
    text = body.body() if isinstance(body, Checkpoint) else body
    return cosigned_bytes(text, timestamp)


def cosign_checkpoint(checkpoint: Checkpoint, witness: Signer, timestamp: int) -> NoteSignature:
    """Return the witness's ``cosignature/v1`` line for a checkpoint at ``timestamp``.

    ``timestamp`` is seconds since the UNIX epoch, passed in (no clock is read).

    Raises:
        KeyFormatError: ``witness`` is not a cosignature (0x04) key.
        NoteError: the timestamp is not an unsigned 64-bit integer.
    """
    if witness.algorithm != ALG_COSIGNATURE_V1:
        raise KeyFormatError("a cosignature needs a 0x04 witness key", field="algorithm")
    signature = witness.private_key.sign(cosigned_message(checkpoint, timestamp))
    stamped = timestamp.to_bytes(8, "big") + signature  # struct timestamped_signature
    return NoteSignature(witness.name, witness.verifier.key_hash, stamped)


def verify_cosignature(
    checkpoint: Checkpoint, cosignature: NoteSignature | str, witness_key: Verifier | str
) -> int:
    """Verify a witness's ``cosignature/v1`` on a checkpoint; return its timestamp.

    Steps:
        (1) load the witness key (type 0x04);
        (2) parse the signature line if given as text;
        (3) its name and key ID must be the witness key's;
        (4) it must be a 72-byte timestamped_signature whose Ed25519 signature
            verifies over the cosigned message (tlog-cosignature "Signed message").

    Raises:
        KeyFormatError: the witness key is malformed or not of type 0x04.
        NoteError: the signature line is malformed.
        CheckpointSignatureError: another key's line, or a bad signature.
    """
    verifier = as_verifier(witness_key, ALG_COSIGNATURE_V1)  # (1)
    if isinstance(cosignature, str):  # (2)
        cosignature = NoteSignature.from_line(cosignature)
    if (cosignature.name, cosignature.key_hash) != (verifier.name, verifier.key_hash):  # (3)
        raise CheckpointSignatureError(
            f"line is by {cosignature.name}+{cosignature.key_hash:08x}, not the witness key",
            field="signature",
        )
    if not _verifies(verifier, checkpoint.body(), cosignature.signature):  # (4)
        raise CheckpointSignatureError("cosignature does not verify", field="signature")
    return int.from_bytes(cosignature.signature[:8], "big")


def parse_witness_keys(keys: Iterable[Verifier | str]) -> list[Verifier]:
    """Load witness verifier keys, each of type 0x04, with no two sharing name and ID.

    Raises:
        KeyFormatError: a key is malformed, not of type 0x04, or two collide.
    """
    out: dict[tuple[str, int], Verifier] = {}
    for key in keys:
        verifier = as_verifier(key, ALG_COSIGNATURE_V1)
        if out.setdefault((verifier.name, verifier.key_hash), verifier) != verifier:
            raise KeyFormatError(
                f"two witness keys share {verifier.name}+{verifier.key_hash:08x}", field="witness"
            )
    return list(out.values())


def cosigners(
    checkpoint: Checkpoint, note: Note, witness_keys: Iterable[Verifier]
) -> list[Verifier]:
    """Return the configured witnesses whose cosignature on ``checkpoint`` is in ``note``.

    Steps: (1) lines of keys that are not configured witnesses are ignored (the log's
    own signature among them); (2) a line that names a configured witness key must
    verify, or the whole note is refused (signed-note: known keys MUST verify);
    (3) each witness counts once, however many lines it has.

    Raises:
        CheckpointSignatureError: a configured witness's line does not verify.
    """
    known = {(w.name, w.key_hash): w for w in witness_keys}
    found: dict[tuple[str, int], Verifier] = {}
    for line in note.signatures:
        witness = known.get((line.name, line.key_hash))  # (1)
        if witness is None:
            continue
        verify_cosignature(checkpoint, line, witness)  # (2)
        found[(line.name, line.key_hash)] = witness  # (3)
    return list(found.values())


def with_cosignatures(note_text: bytes | str, lines: Iterable[NoteSignature]) -> str:
    """Return a signed note with ``lines`` appended after its signatures, without repeats.

    Raises:
        NoteError: the note is malformed, or would hold too many signatures.
    """
    note = Note.from_bytes(note_text)
    have = list(note.signatures)
    for line in lines:
        if line not in have:
            have.append(line)
    return Note(note.text, have).to_bytes().decode()
