"""The log's own signed time on a checkpoint: a ``cosignature/v1`` line by the log key.

A C2SP checkpoint carries no time. The log dates each checkpoint it serves with a
c2sp.org/tlog-cosignature line signed by its own log key under the cosignature type
(0x04): name = the origin, key ID = ``SHA-256(origin || "\\n" || 0x04 || public key)[0:4]``
(another ID than the log's 0x01 checkpoint line), signature = 8-byte big-endian seconds
|| Ed25519 over ``cosignature/v1\\ntime <t>\\n<checkpoint text>`` (docs/FORMAT.md 5.2).
The log re-dates its latest checkpoint while it is quiet, so the line says "the log
still served this as its latest at t" without changing the checkpoint text that
witnesses cosign. Verifiers that do not know this key ignore the line (signed-note).

Pure: no I/O; the time is an argument.
"""

from __future__ import annotations

from ledger.errors import KeyFormatError, NoteError
from ledger.note.checkpoint import Checkpoint, as_verifier
from ledger.note.cosignature import cosign_checkpoint
from ledger.note.signednote import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Note,
    Signer,
    Verifier,
)


def time_verifier(log_key: Verifier | str) -> Verifier:
    """The verifier of the log's time lines: the pinned log key (0x01) read as a 0x04 key.

    Raises:
        KeyFormatError: ``log_key`` is malformed or not of type 0x01.
    """
    verifier = as_verifier(log_key, ALG_ED25519)
    return Verifier.for_key(verifier.name, verifier.public_key, ALG_COSIGNATURE_V1)


def time_signer(log_signer: Signer) -> Signer:
    """The log key (0x01) as the signer of its time lines (0x04); same private key.

    Raises:
        KeyFormatError: ``log_signer`` is not a 0x01 key.
    """
    if log_signer.algorithm != ALG_ED25519:
        raise KeyFormatError("the log's time is signed with its 0x01 log key", field="signer")
    return Signer(log_signer.name, log_signer.private_key, ALG_COSIGNATURE_V1)


def stamp(note_text: bytes | str, log_signer: Signer, timestamp: int) -> str:
    """Return ``note_text`` with the log's time line at ``timestamp`` (seconds since the
    epoch), in place of any earlier time line of the same key; other lines are kept
    in their order, the time line goes right after them.

    Raises:
        NoteError: the note is malformed, its text is not a checkpoint, or the
            timestamp is not an unsigned 64-bit integer.
    """
    parsed = Note.from_bytes(note_text)
    signer = time_signer(log_signer)
    line = cosign_checkpoint(Checkpoint.from_body(parsed.text), signer, timestamp)
    own = (signer.name, signer.verifier.key_hash)
    kept = [s for s in parsed.signatures if (s.name, s.key_hash) != own]
    return Note(parsed.text, [*kept, line]).to_bytes().decode()


def stamp_signed(checkpoint: Checkpoint, signed: str, time_key: Signer, timestamp: int) -> str:
    """``signed`` (the log's note of ``checkpoint``, signed just now, no time line yet)
    with the log's time line at ``timestamp`` appended: `stamp` without parsing the note
    again, for the append path. ``time_key`` is `time_signer` of the log key, made once.

    Raises:
        KeyFormatError: ``time_key`` is not a 0x04 key.
        NoteError: the timestamp is not an unsigned 64-bit integer.
    """
    return signed + cosign_checkpoint(checkpoint, time_key, timestamp).to_line()


def stamped_at(note_text: bytes | str, log_key: Verifier | str) -> int | None:
    """The timestamp of the log's time line in ``note_text`` (read, NOT verified: for
    the log's own bookkeeping; clients use ledger.verify.freshness), or None.

    Raises:
        NoteError: the note is malformed.
    """
    verifier = time_verifier(log_key)
    for line in Note.from_bytes(note_text).signatures:
        if (line.name, line.key_hash) == (verifier.name, verifier.key_hash):
            return int.from_bytes(line.signature[:8], "big") if len(line.signature) == 72 else None
    return None


def served_time(note_text: str) -> int | None:
    """The timestamp of the time line a log put on its own served note: the 72-byte line
    named like the origin (the note's first line). Read, NOT verified: for a page the
    log renders from its own note; None when there is none or the note is malformed."""
    try:
        parsed = Note.from_bytes(note_text)
    except NoteError:
        return None
    origin = parsed.text.split("\n", 1)[0]
    for line in parsed.signatures:
        if line.name == origin and len(line.signature) == 72:
            return int.from_bytes(line.signature[:8], "big")
    return None
