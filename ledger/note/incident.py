"""The incident note: the log key's signed word that it now serves a shorter log than a
checkpoint it once published (docs/OPERATIONS.md, "When the tail is lost: the incident").

A C2SP signed note whose text is::

    provenance-ledger/v1 incident
    <origin>
    <given-up size, decimal>
    <given-up root, standard base64>
    <served size, decimal>
    <served root, standard base64>
    <when it was accepted, RFC 3339 UTC>
    <the operator's note, one line>

signed by the log key. Readers, witnesses and auditors who hold the larger checkpoint
learn from it that the loss was declared, by whom (the key that signed both), and which
tree the log continues; it does not make the rollback honest (they still refuse to
cosign or accept the smaller tree as the old one's continuation).

The text cannot pass for a checkpoint or a succession statement: its first line is not
an origin any log key is named after (`Checkpoint.from_body` refuses it) and differs
from the succession header. No I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.codec import b64_encode
from ledger.errors import CheckpointSignatureError, KeyFormatError, NoteError
from ledger.note.checkpoint import Checkpoint, as_verifier
from ledger.note.signednote import (
    _DECIMAL,
    ALG_ED25519,
    Signer,
    Verifier,
    _b64,
    sign_note,
    verify_note,
)

HEADER = "provenance-ledger/v1 incident"
#: the operator's note: one line of printable text, at most this many characters
MAX_NOTE = 1000
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")


def one_line(text: str) -> str:
    """``text`` as an incident note line: whitespace runs (newlines too) become one
    space, control characters are dropped, at most `MAX_NOTE` characters."""
    printable = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    return " ".join(printable.split())[:MAX_NOTE]


@dataclass(frozen=True)
class Incident:
    """A log served at ``served`` although it had published ``given_up``, from ``at``."""

    given_up: Checkpoint
    served: Checkpoint
    at: str
    note: str

    def __post_init__(self) -> None:
        """Check the statement is one incident of one log.

        Raises:
            NoteError: two origins, a served tree not smaller than the given-up one, a
                malformed time, or a note that is empty, not one line or too long.
        """
        if self.served.origin != self.given_up.origin:
            raise NoteError("an incident is about one log", field="origin")
        if self.served.size >= self.given_up.size:
            raise NoteError("an incident serves a smaller tree than it gives up", field="size")
        if not _TIME.fullmatch(self.at):
            raise NoteError(f"time {self.at!r} is not RFC 3339 UTC", field="at")
        if not self.note or self.note != one_line(self.note):
            raise NoteError("the incident note must be one line of text", field="note")

    @property
    def origin(self) -> str:
        """The log the incident is about."""
        return self.given_up.origin

    def body(self) -> str:
        """The note text (module docstring), each line ending in a newline."""
        lines = [
            HEADER,
            self.origin,
            str(self.given_up.size),
            b64_encode(self.given_up.root),
            str(self.served.size),
            b64_encode(self.served.root),
            self.at,
            self.note,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Incident:
        """Parse the note text strictly.

        Raises:
            NoteError: not eight lines, a wrong header, a size that is not canonical
                decimal, a root that is not 32 bytes of base64, or `__post_init__`'s.
        """
        lines = text[:-1].split("\n") if text.endswith("\n") else []
        if len(lines) != 8 or lines[0] != HEADER:
            raise NoteError("not an incident note", field="body")
        _, origin, old_size, old_root, size, root, at, note = lines
        for value in (old_size, size):
            if not _DECIMAL.fullmatch(value):
                raise NoteError(f"size {value!r} is not decimal without leading 0", field="size")
        return cls(
            Checkpoint(origin, int(old_size), _b64(old_root, "root", NoteError)),
            Checkpoint(origin, int(size), _b64(root, "root", NoteError)),
            at,
            note,
        )


def sign_incident(incident: Incident, log_key: Signer) -> str:
    """The incident note signed by the log key, as note text.

    Raises:
        KeyFormatError: the key is not named after the incident's log.
    """
    if log_key.name != incident.origin:
        raise KeyFormatError("the log key is not named after the incident's log", field="key")
    return sign_note(incident.body(), log_key).to_bytes().decode()


def verify_incident(data: bytes | str, log_key: Verifier | str) -> Incident:
    """Verify an incident note under the log key; return the incident.

    Raises:
        KeyFormatError: the key is malformed or not a log (0x01) key.
        NoteError: the note or its text is malformed.
        CheckpointSignatureError: the log key's signature is missing or bad, or the
            incident is about another log.
    """
    key = as_verifier(log_key, ALG_ED25519)
    incident = Incident.from_body(verify_note(data, [key]).text)
    if incident.origin != key.name:
        raise CheckpointSignatureError("the incident is about another log", field="origin")
    return incident
