"""C2SP tlog-checkpoint: the checkpoint note text, and its signing and verification.

Implements c2sp.org/tlog-checkpoint: the origin / tree size / root hash / extension
lines body, signed as a c2sp.org/signed-note by the log's Ed25519 (0x01) key whose name
is the origin. It does not check consistency between checkpoints (ledger.merkle) nor
cosignatures (ledger.note.cosignature). No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.codec import b64_encode
from ledger.errors import CheckpointSignatureError, KeyFormatError, NoteError
from ledger.note.signednote import (
    _DECIMAL,
    _U64,
    ALG_ED25519,
    Signer,
    Verifier,
    _b64,
    _check_text,
    sign_note,
    verify_note,
)


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint note text: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check each field (tlog-checkpoint section "Note text").

        Raises:
            NoteError: empty origin or extension line, a newline or control character
                in one, size outside 0..2**64-1, or a root that is not 32 bytes.
        """
        if isinstance(self.extensions, str):
            raise NoteError("extensions must be a sequence of lines", field="extensions")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteError("tree size must be an integer", field="size")
        if not 0 <= self.size < _U64:
            raise NoteError(f"tree size {self.size} outside 0..2**64-1", field="size")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            got = len(self.root) if isinstance(self.root, bytes) else type(self.root).__name__
            raise NoteError(f"root hash must be 32 bytes, got {got}", field="root")
        for i, line in enumerate(self.extensions):
            _check_line(line, f"extensions[{i}]")

    def body(self) -> str:
        """Return the note text: one line per field, each ending in a newline."""
        lines = [self.origin, str(self.size), b64_encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly.

        Raises:
            NoteError: no final newline, fewer than three lines, an empty line, a
                size that is not canonical decimal, or a root that is not 32 bytes
                of canonical base64.
        """
        if not isinstance(text, str) or not text.endswith("\n"):
            raise NoteError("checkpoint text must end with a newline", field="body")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("need origin, tree size and root hash lines", field="body")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise NoteError(f"tree size {size!r} is not decimal without leading 0", field="size")
        return cls(origin, int(size), _b64(root, "root", NoteError), tuple(extensions))


def _check_line(value: object, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise NoteError("line must be non-empty text", field=where)
    if "\n" in value:
        raise NoteError("line must not contain a newline", field=where)
    _check_text(value, where, NoteError)


def as_verifier(key: Verifier | str, algorithm: int) -> Verifier:
    """Return ``key`` as a `Verifier`, requiring signature type ``algorithm``.

    Raises:
        KeyFormatError: the key is malformed or of another type.
    """
    verifier = key if isinstance(key, Verifier) else Verifier.from_text(key)
    if verifier.algorithm != algorithm:
        raise KeyFormatError(f"expected a key of type 0x{algorithm:02x}", field="algorithm")
    return verifier


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> bytes:
    """Sign a checkpoint with the log key and return the whole signed note.

    Raises:
        NoteError: the key name differs from the origin (tlog-checkpoint
            "Signatures": the key name SHOULD match the origin; `verify_checkpoint`
            requires it by default, so we never sign what it would refuse).
        KeyFormatError: ``signer`` is not an Ed25519 (0x01) note key.
    """
    if signer.name != checkpoint.origin:
        raise NoteError(f"key name {signer.name!r} is not the origin", field="origin")
    return sign_note(checkpoint.body(), signer).to_bytes()


def verify_checkpoint(
    data: bytes | str, verifier_key: Verifier | str, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint with the log's key and return it.

    Steps:
        (1) load the log's verifier key (type 0x01);
        (2) parse the note and verify the log key's signature (`verify_note`);
            other keys' lines, such as cosignatures, are ignored;
        (3) only then parse the text as a checkpoint (signed-note: unverified text
            MUST be ignored);
        (4) require origin == ``origin``, or the key name when ``origin`` is None.

    Raises:
        KeyFormatError: the verifier key is malformed or not of type 0x01.
        NoteError: the note or the checkpoint text is malformed.
        CheckpointSignatureError: the key's signature is bad or missing, or the
            origin is not the expected one.
    """
    verifier = as_verifier(verifier_key, ALG_ED25519)  # (1)
    note = verify_note(data, [verifier])  # (2)
    checkpoint = Checkpoint.from_body(note.text)  # (3)
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:  # (4)
        raise CheckpointSignatureError(
            f"origin {checkpoint.origin!r} is not the expected {expected!r}", field="origin"
        )
    return checkpoint
