"""The succession statement: an old log's key and its successor's cross-sign the old log's
final checkpoint (docs/OPERATIONS.md, "Replacing the log key", step 3).

A C2SP signed note whose text is::

    provenance-ledger/v1 succession
    <old origin>
    <old final size, decimal>
    <old final root, standard base64>
    <new origin>
    <the new log's verifier key>

signed by both log keys: the old key's line says "my history ends at (size, root) and
continues under that key", the new key's "I continue exactly that history". A verifier
pinned to either key checks its own line, learns the other key from the text, and
checks that line too; both are required.

The text cannot pass for a checkpoint: its first line is not an origin any log key is
named after, and its second is not a decimal size (`Checkpoint.from_body` refuses it).
No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.codec import b64_encode
from ledger.errors import CheckpointSignatureError, KeyFormatError, NoteError
from ledger.note.checkpoint import Checkpoint, as_verifier
from ledger.note.signednote import (
    _DECIMAL,
    ALG_ED25519,
    Note,
    Signer,
    Verifier,
    _b64,
    sign_note,
    verify_note,
)

HEADER = "provenance-ledger/v1 succession"


@dataclass(frozen=True)
class Succession:
    """An old log's final checkpoint (origin, size, root) and the log that continues it."""

    final: Checkpoint
    new_origin: str
    new_key: Verifier

    def __post_init__(self) -> None:
        """Check the successor's key: type 0x01, named after the new origin, another log.

        Raises:
            NoteError: the new origin is the old one, or the key is not named after it.
            KeyFormatError: the key is not a log (0x01) key.
        """
        as_verifier(self.new_key, ALG_ED25519)
        Checkpoint(self.new_origin, 0, bytes(32))  # the same checks as any origin line
        if self.new_origin == self.final.origin:
            raise NoteError("a successor log has an origin of its own", field="new_origin")
        if self.new_key.name != self.new_origin:
            raise NoteError("the new key is not named after the new origin", field="new_key")

    def body(self) -> str:
        """The note text (module docstring), each line ending in a newline."""
        lines = [
            HEADER,
            self.final.origin,
            str(self.final.size),
            b64_encode(self.final.root),
            self.new_origin,
            self.new_key.to_text(),
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Succession:
        """Parse the note text strictly.

        Raises:
            NoteError: not six lines, a wrong header, a size that is not canonical
                decimal, a root that is not 32 bytes of base64.
            KeyFormatError: the new verifier key is malformed.
        """
        lines = text[:-1].split("\n") if text.endswith("\n") else []
        if len(lines) != 6 or lines[0] != HEADER:
            raise NoteError("not a succession statement", field="body")
        _, origin, size, root, new_origin, new_key = lines
        if not _DECIMAL.fullmatch(size):
            raise NoteError(f"size {size!r} is not decimal without leading 0", field="size")
        final = Checkpoint(origin, int(size), _b64(root, "root", NoteError))
        return cls(final, new_origin, Verifier.from_text(new_key))


def sign_succession(statement: Succession, old_key: Signer, new_key: Signer) -> bytes:
    """The statement signed by the old log key, then the new one.

    Raises:
        KeyFormatError: a key is not the log key its origin names (the old key's name is
            the old origin; the new key is the statement's new key).
    """
    if old_key.name != statement.final.origin:
        raise KeyFormatError("the old key is not named after the old origin", field="old_key")
    if new_key.verifier != statement.new_key:
        raise KeyFormatError("the new key is not the statement's new key", field="new_key")
    text = statement.body()
    lines = [*sign_note(text, old_key).signatures, *sign_note(text, new_key).signatures]
    return Note(text, lines).to_bytes()


def verify_succession(
    data: bytes | str, old_key: Verifier | str, *, new_key: Verifier | str | None = None
) -> Succession:
    """Verify a succession statement under the old log's key and the new key it names
    (which must be ``new_key`` when one is pinned); return it.

    Raises:
        KeyFormatError: a key is malformed or not a log (0x01) key.
        NoteError: the note or its text is malformed.
        CheckpointSignatureError: a signature is missing or bad, the statement is about
            another log than ``old_key``'s, or it names another new key than the pinned.
    """
    old = as_verifier(old_key, ALG_ED25519)
    note = verify_note(data, [old])  # the old key's line first: only then read the text
    statement = Succession.from_body(note.text)
    if statement.final.origin != old.name:
        raise CheckpointSignatureError("the statement is about another log", field="origin")
    if new_key is not None and as_verifier(new_key, ALG_ED25519) != statement.new_key:
        raise CheckpointSignatureError("the statement names another new key", field="new_key")
    verify_note(data, [statement.new_key])
    return statement
