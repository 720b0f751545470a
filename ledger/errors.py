"""The one error hierarchy of the ledger.

Every refusal the ledger makes is a `LedgerError` with a stable ``code`` (used by the
HTTP API as the problem+json ``type`` suffix and by the CLI in its one-line message)
and an HTTP ``status``. Faces catch `LedgerError` exactly once; nothing in the core
raises a bare ``KeyError``/``ValueError``/``IndexError`` to its caller.

    LedgerError
    ├── EncodingError            bytes or JSON that are not canonical / not allowed
    ├── ValidationError          a field of an event, identity or request is malformed
    │   └── GS1Error             a GTIN, serial, lot, expiry or Digital Link URI is malformed
    │       └── BadLotError      a batch/lot (AI 10) outside GS1 character set 82
    ├── KeyFormatError           a key (PEM, raw, verifier key) cannot be loaded
    ├── KeyUnavailableError      a signing key (in a token) cannot be used right now
    ├── SignatureError           a signature does not verify (event, note, label)
    ├── LabelMismatchError       a label's lot or expiry is not its unit's commission
    ├── ProofError               an inclusion or consistency proof does not verify
    ├── NoteError                a signed note or checkpoint is malformed
    │   └── CheckpointSignatureError  no valid signature by the expected key
    ├── RuleError                the ledger's rules refuse an otherwise valid event
    │   └── (subclasses per rule, in ledger.rules)
    ├── ConflictError            the unit head moved (a racing write won)
    │   └── StaleCheckpointError a witness's old size is not the one the log recorded
    ├── SplitViewError           two signed checkpoints of one log that cannot both be true
    ├── NotFoundError            the thing asked for does not exist
    └── StorageError             the database failed; nothing was written

This module does no I/O and imports nothing outside the standard library.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose (never raised on its own).

    Attributes:
        code: stable, kebab-case identifier of the error kind (never reworded).
        status: the HTTP status the API answers with.
        field: the offending field (dotted path), when one is to blame.
    """

    code: str = "ledger-error"
    status: int = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def to_dict(self) -> dict[str, str | int]:
        """Return the error as a plain dict (code, status, message and field if any)."""
        out: dict[str, str | int] = {
            "code": self.code,
            "status": self.status,
            "message": self.message,
        }
        if self.field:
            out["field"] = self.field
        return out


class EncodingError(LedgerError):
    """Input is not valid UTF-8 JSON, or cannot be put in RFC 8785 canonical form."""

    code = "encoding"
    status = 400


class ValidationError(LedgerError):
    """A field is missing, unknown, of the wrong type, or out of range."""

    code = "validation"
    status = 422


class GS1Error(ValidationError):
    """A GS1 identifier (GTIN, serial, lot, expiry, Digital Link URI) is malformed."""

    code = "gs1"


class BadLotError(GS1Error):
    """A batch/lot number (AI 10) is not 1 to 20 characters of GS1 character set 82."""

    code = "bad-lot"


class KeyFormatError(LedgerError):
    """A key cannot be loaded: wrong length, wrong algorithm, bad PEM or encoding."""

    code = "key-format"
    status = 400


class KeyUnavailableError(LedgerError):
    """A signing key cannot be used: its PKCS#11 module or token is missing, the token is
    locked or refuses the PIN, or it holds no such key; nothing was signed or written."""

    code = "key-unavailable"
    status = 503


class SignatureError(LedgerError):
    """A signature does not verify under the expected key and domain."""

    code = "bad-signature"
    status = 403


class WrongLogError(SignatureError):
    """A format-2 event signed for one log (its origin) is offered to another."""

    code = "wrong-log"


class LabelMismatchError(LedgerError):
    """A scanned label's lot or expiry is not the one its unit was commissioned with."""

    code = "label-mismatch"
    status = 422


class ProofError(LedgerError):
    """An inclusion or consistency proof does not verify (RFC 9162 section 2.1)."""

    code = "bad-proof"
    status = 422


class NoteError(LedgerError):
    """A C2SP signed note or checkpoint is malformed."""

    code = "bad-note"
    status = 422


class CheckpointSignatureError(NoteError):
    """A note carries no valid signature by the expected verifier key."""

    code = "bad-checkpoint-signature"


class RuleError(LedgerError):
    """The ledger's rules (docs/ARCHITECTURE.md) refuse a well-formed, signed event."""

    code = "rule"
    status = 422


class ConflictError(LedgerError):
    """The event names a `prev` that is no longer the unit's head."""

    code = "head-conflict"
    status = 409


class StaleCheckpointError(ConflictError):
    """A cosignature's old size is not the latest size the log recorded for the witness.

    C2SP tlog-witness "add-checkpoint": 409, and the body names the recorded ``size``.
    """

    code = "stale-checkpoint"

    def __init__(self, message: str, size: int, *, field: str | None = "old") -> None:
        super().__init__(message, field=field)
        self.size = size

    @property
    def problem_fields(self) -> dict[str, int]:
        """The recorded size, as a problem+json member (tlog-witness's 409 body)."""
        return {"size": self.size}


class SplitViewError(LedgerError):
    """The log showed checkpoints that contradict each other (a fork or a rewrite).

    ``evidence`` is the publishable record (ledger.audit.witness.Evidence.to_dict()): both
    signed checkpoints and the consistency proof that failed.
    """

    code = "split-view"
    status = 409

    def __init__(self, message: str, evidence: dict[str, object]) -> None:
        super().__init__(message, field="checkpoint")
        self.evidence = evidence


class NotFoundError(LedgerError):
    """The entry, unit, actor or checkpoint asked for does not exist."""

    code = "not-found"
    status = 404


class StorageError(LedgerError):
    """The database failed; the write that was under way left nothing behind."""

    code = "storage"
    status = 503


class EventFailedError(StorageError):
    """An unexpected error (a bug, not a refusal) while applying one event of a group
    commit: that event was left out, nothing of it was written; the group's other events
    were judged and written without it."""

    code = "event-failed"
    status = 500


class ShorterLogError(LedgerError):
    """The database holds a log shorter than a checkpoint the log already published (or
    another tree at that size): serving it would roll readers back (a restored old backup,
    a backup of another log). Refused at start-up and by ``provenance restore``
    (ledger.service.highwater)."""

    code = "shorter-log"
    status = 503
