"""C2SP signed notes: keys, note text and signature lines, signing and verification.

Implements, byte for byte, c2sp.org/signed-note: note text, signature lines
``— <name> base64(key ID || sig)``, Ed25519 signatures (type 0x01), key IDs
``SHA-256(name || 0x0A || type || key)[:4]``, verifier keys
``<name>+<hex key ID>+base64(type || public key)`` and signer keys
``PRIVATE+KEY+<name>+<hex key ID>+base64(type || seed)`` (the encodings of the Go
reference implementation, golang.org/x/mod/sumdb/note, that C2SP vkeys follow).
A verifier of type 0x04 (c2sp.org/tlog-cosignature) checks ``cosignature/v1`` lines.

The signed message of each signature type is fixed by these specifications, so this
module signs with the key directly, never through the domain prefixes of
`ledger.crypto.sign`. The key is any `ledger.crypto.Signer`: an Ed25519 key in memory or
one held in a PKCS#11 token (ledger.service.pkcs11), which signs without showing itself.
A key is bound to one type: a 0x01 key signs note texts, a 0x04 key signs cosignature
messages only.

Checkpoints live in ledger.note.checkpoint, cosignatures in ledger.note.cosignature; ledger.note
re-exports all three. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import crypto
from ledger.codec import b64_decode, b64_encode
from ledger.crypto import private_key_from_seed, public_key_from_raw, public_key_to_raw
from ledger.errors import CheckpointSignatureError, EncodingError, KeyFormatError, NoteError

ALG_ED25519 = 0x01  # signed-note section "Signature types"
ALG_COSIGNATURE_V1 = 0x04  # tlog-cosignature section "Format"
MAX_SIGNATURES = 100  # signed-note: "MUST accept at least up to 16"; Go uses 100
COSIGNATURE_HEADER = "cosignature/v1\n"
_ALGORITHMS = (ALG_ED25519, ALG_COSIGNATURE_V1)
_SIG_SIZE = {ALG_ED25519: 64, ALG_COSIGNATURE_V1: 72}  # 72 = u64 timestamp + 64
_EM_DASH = "\u2014 "
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_U64 = 2**64


def key_hash(name: str, algorithm: int, public_key: bytes) -> int:
    """Return the key ID: SHA-256(name || 0x0A || type || public key)[:4] as a uint32.

    signed-note section "Signatures"; tlog-cosignature section "Format" for type 0x04.
    """
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([algorithm]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def _check_name(name: object, error: type[NoteError] | type[KeyFormatError]) -> str:
    # signed-note section "Format": non-empty, no Unicode spaces, no plus.
    if not isinstance(name, str) or not name:
        raise error("key name must be a non-empty string", field="name")
    if "+" in name or any(c.isspace() or c < " " for c in name):
        raise error(f"key name {name!r} holds a space, plus or control character", field="name")
    _check_text(name, "name", error)
    return name


def _check_text(text: str, where: str, error: type[NoteError] | type[KeyFormatError]) -> None:
    # signed-note section "Format": valid UTF-8, no control characters but newline.
    for i, c in enumerate(text):
        if c < " " and c != "\n":
            raise error(f"control character U+{ord(c):04X} at offset {i}", field=where)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise error(f"not valid UTF-8 (lone surrogate at offset {e.start})", field=where) from e


def _check_algorithm(algorithm: object, error: type[KeyFormatError]) -> int:
    if not isinstance(algorithm, int) or algorithm not in _ALGORITHMS:
        raise error(f"unsupported signature type {algorithm!r}", field="algorithm")
    return algorithm


def _b64(text: str, where: str, error: type[NoteError] | type[KeyFormatError]) -> bytes:
    try:
        return b64_decode(text, field=where)
    except EncodingError as e:
        raise error(f"not canonical standard base64: {e.message}", field=where) from e


def _split_key(text: str, what: str) -> tuple[str, int, int, bytes]:
    """Split ``<name>+<hex key ID>+base64(type || 32 bytes)`` into its four parts."""
    if not isinstance(text, str) or text.count("+") < 2:
        raise KeyFormatError(f"expected <name>+<hex key ID>+<base64 {what}>", field=what)
    name, hash_hex, material = text.split("+", 2)  # the base64 part may hold '+'
    _check_name(name, KeyFormatError)
    if not _HEX8.fullmatch(hash_hex):
        raise KeyFormatError(f"key ID {hash_hex!r} is not 8 hex digits", field="key_hash")
    raw = _b64(material, what, KeyFormatError)
    if len(raw) != 33:
        raise KeyFormatError(f"expected type byte + 32 bytes, got {len(raw)} bytes", field=what)
    return name, int(hash_hex, 16), _check_algorithm(raw[0], KeyFormatError), raw[1:]


@dataclass(frozen=True)
class Verifier:
    """A public note key: name, 32-bit key ID, raw Ed25519 key and signature type."""

    name: str
    key_hash: int
    public_key: bytes
    algorithm: int = ALG_ED25519

    def __post_init__(self) -> None:
        """Check every field, so no Verifier exists whose key ID does not match.

        Raises:
            KeyFormatError: bad name, type, key length or a key ID that does not match.
        """
        _check_name(self.name, KeyFormatError)
        _check_algorithm(self.algorithm, KeyFormatError)
        if not isinstance(self.public_key, bytes):
            raise KeyFormatError("public key must be raw bytes", field="public_key")
        public_key_from_raw(self.public_key)
        if self.key_hash != key_hash(self.name, self.algorithm, self.public_key):
            raise KeyFormatError("key ID does not match name and key", field="key_hash")

    @classmethod
    def for_key(cls, name: str, public_key: bytes, algorithm: int = ALG_ED25519) -> Verifier:
        """Return the verifier for ``name`` and a raw public key, computing the key ID.

        Raises:
            KeyFormatError: bad name, type or key.
        """
        _check_name(name, KeyFormatError)
        _check_algorithm(algorithm, KeyFormatError)
        if not isinstance(public_key, bytes | bytearray):
            raise KeyFormatError("public key must be raw bytes", field="public_key")
        raw = bytes(public_key)
        return cls(name, key_hash(name, algorithm, raw), raw, algorithm)

    @classmethod
    def from_text(cls, text: str) -> Verifier:
        """Parse ``<name>+<hex key ID>+base64(type || public key)``.

        Raises:
            KeyFormatError: any part is malformed, or the key ID does not match.
        """
        name, hash_, algorithm, raw = _split_key(text, "public_key")
        return cls(name, hash_, raw, algorithm)

    def to_text(self) -> str:
        """Return the verifier key text, key ID in lowercase hex."""
        material = b64_encode(bytes([self.algorithm]) + self.public_key)
        return f"{self.name}+{self.key_hash:08x}+{material}"


@dataclass(frozen=True, eq=False)
class Signer:
    """A named Ed25519 private key of one signature type (0x01 log, 0x04 witness).

    ``private_key`` is any `ledger.crypto.Signer`: an `Ed25519PrivateKey` in memory, or a
    key in a PKCS#11 token. The public key is read once, here, so that naming the
    verifier (every signature line does) never asks the token again.
    """

    name: str
    private_key: crypto.Signer = field(repr=False)
    algorithm: int = ALG_ED25519
    _verifier: Verifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the name, the type and the key class.

        Raises:
            KeyFormatError: bad name, unsupported type, or not an Ed25519 `Signer`.
        """
        _check_name(self.name, KeyFormatError)
        _check_algorithm(self.algorithm, KeyFormatError)
        if not isinstance(self.private_key, crypto.Signer):
            raise KeyFormatError("expected an Ed25519 private key", field="private_key")
        raw = public_key_to_raw(self.private_key.public_key())
        object.__setattr__(self, "_verifier", Verifier.for_key(self.name, raw, self.algorithm))

    @property
    def verifier(self) -> Verifier:
        """The matching public `Verifier`."""
        return self._verifier

    @classmethod
    def from_text(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+base64(type || seed)``.

        Raises:
            KeyFormatError: any part is malformed, or the key ID does not match.
        """
        if not isinstance(text, str) or not text.startswith(_PRIVATE_PREFIX):
            raise KeyFormatError("signer key must start with PRIVATE+KEY+", field="signer")
        name, hash_, algorithm, seed = _split_key(text[len(_PRIVATE_PREFIX) :], "seed")
        signer = cls(name, private_key_from_seed(seed), algorithm)
        if signer.verifier.key_hash != hash_:
            raise KeyFormatError("key ID does not match name and key", field="key_hash")
        return signer

    def to_text(self) -> str:
        """Return the secret signer key text (keep it secret).

        Raises:
            KeyFormatError: the key lives in a token, which never lets it out.
        """
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise KeyFormatError("a key held in a token cannot be exported", field="private_key")
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        material = b64_encode(bytes([self.algorithm]) + seed)
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_hash:08x}+{material}"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 32-bit key ID and the signature bytes after it."""

    name: str
    key_hash: int
    signature: bytes

    def __post_init__(self) -> None:
        """Check the fields so that `to_line` always yields a line `from_line` accepts.

        Raises:
            NoteError: bad name, key ID outside uint32, or an empty signature.
        """
        _check_name(self.name, NoteError)
        if isinstance(self.key_hash, bool) or not isinstance(self.key_hash, int):
            raise NoteError("key ID must be an integer", field="key_hash")
        if not 0 <= self.key_hash < 2**32:
            raise NoteError("key ID must fit in 32 bits", field="key_hash")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise NoteError("signature must be non-empty bytes", field="signature")

    @classmethod
    def from_line(cls, line: str, *, where: str = "signature") -> NoteSignature:
        """Parse ``— <name> base64(key ID || signature)``, with or without its newline.

        Raises:
            NoteError: no em dash prefix, bad name, bad base64, or under 5 bytes.
        """
        if not isinstance(line, str):
            raise NoteError("signature line must be text", field=where)
        body = line[:-1] if line.endswith("\n") else line
        if not body.startswith(_EM_DASH):
            raise NoteError("line does not start with em dash (U+2014) and space", field=where)
        name, sep, encoded = body[len(_EM_DASH) :].partition(" ")
        if not sep or not encoded:
            raise NoteError("expected '\u2014 <key name> <base64 signature>'", field=where)
        try:
            _check_name(name, NoteError)
        except NoteError as e:
            raise NoteError(e.message, field=where) from e
        raw = _b64(encoded, where, NoteError)
        if len(raw) < 5:
            raise NoteError("signature holds no bytes after its 4-byte key ID", field=where)
        return cls(name, int.from_bytes(raw[:4], "big"), raw[4:])

    def to_line(self) -> str:
        """Return the signature line, ending in a newline."""
        encoded = b64_encode(self.key_hash.to_bytes(4, "big") + self.signature)
        return f"{_EM_DASH}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """A note text and its signature lines (verified or not), in their order."""

    text: str
    signatures: Sequence[NoteSignature] = ()

    def __post_init__(self) -> None:
        """Check the text and the signature count (signed-note section "Format").

        Raises:
            NoteError: text without final newline, with control characters or lone
                surrogates; more than `MAX_SIGNATURES` signatures; a non-signature.
        """
        object.__setattr__(self, "signatures", tuple(self.signatures))
        if not isinstance(self.text, str) or not self.text.endswith("\n"):
            raise NoteError("note text must end with a newline", field="text")
        _check_text(self.text, "text", NoteError)
        if len(self.signatures) > MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures", field="signatures")
        if not all(isinstance(s, NoteSignature) for s in self.signatures):
            raise NoteError("signatures must be NoteSignature values", field="signatures")

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Note:
        """Parse a signed note; check syntax only, no signature (see `verify_note`).

        Raises:
            NoteError: not UTF-8, a control character, no blank line before the
                signatures, no final newline, a malformed line, or too many lines.
        """
        whole = _decode(data)
        _check_text(whole, "note", NoteError)
        split = whole.rfind("\n\n")  # the LAST blank line ends the text
        if split < 0:
            raise NoteError("no blank line separates text from signatures", field="note")
        text, block = whole[: split + 1], whole[split + 2 :]
        if not block:
            raise NoteError("no signature lines after the blank line", field="note")
        if not block.endswith("\n"):
            raise NoteError("missing final newline after the last signature", field="note")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures", field="signatures")
        sigs = [
            NoteSignature.from_line(s, where=f"signature line {i + 1}") for i, s in enumerate(lines)
        ]
        return cls(text, sigs)

    def to_bytes(self) -> bytes:
        """Return text, blank line and signature lines as UTF-8.

        Raises:
            NoteError: the note has no signature (a signed note needs one or more).
        """
        if not self.signatures:
            raise NoteError("a signed note needs at least one signature", field="signatures")
        return (self.text + "\n" + "".join(s.to_line() for s in self.signatures)).encode()


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data  # the caller checks it with _check_text
    if not isinstance(data, bytes | bytearray | memoryview):
        raise NoteError("expected bytes or text", field="note")
    try:
        return bytes(data).decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise NoteError(f"not valid UTF-8 at byte {e.start}", field="note") from e


def sign_note(text: str, signer: Signer) -> Note:
    """Sign ``text`` (ending in a newline) with an Ed25519 note key.

    Raises:
        NoteError: the text is not a valid note text.
        KeyFormatError: ``signer`` is a cosignature (0x04) key, which signs only
            cosignature messages (see `cosign_checkpoint`).
    """
    if signer.algorithm != ALG_ED25519:
        raise KeyFormatError("a 0x04 witness key signs only cosignatures", field="algorithm")
    Note(text)  # validates the text before anything is signed
    signature = signer.private_key.sign(text.encode("utf-8"))  # signed-note: Ed25519 over text
    return Note(text, [NoteSignature(signer.name, signer.verifier.key_hash, signature)])


def cosigned_bytes(text: str, timestamp: int) -> bytes:
    """Return the message a ``cosignature/v1`` signs over a note text.

    tlog-cosignature section "Signed message": the header line, ``time <timestamp>``,
    then the checkpoint note text.

    Raises:
        NoteError: the timestamp is not an integer in the u64 range.
    """
    _check_timestamp(timestamp)
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{text}".encode()


def _check_timestamp(timestamp: object) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise NoteError("timestamp must be an integer", field="timestamp")
    if not 0 <= timestamp < _U64:
        raise NoteError("timestamp must fit in an unsigned 64-bit integer", field="timestamp")
    return timestamp


def _verifies(verifier: Verifier, text: str, signature: bytes) -> bool:
    """Check one signature of the verifier's type over ``text``; return False if bad."""
    if len(signature) != _SIG_SIZE[verifier.algorithm]:
        return False
    if verifier.algorithm == ALG_ED25519:
        message, ed25519_sig = text.encode("utf-8"), signature
    else:  # tlog-cosignature: struct timestamped_signature { u64 timestamp; u8 sig[64]; }
        timestamp = int.from_bytes(signature[:8], "big")
        message, ed25519_sig = cosigned_bytes(text, timestamp), signature[8:]
    try:
        public_key_from_raw(verifier.public_key).verify(ed25519_sig, message)
    except InvalidSignature:
        return False
    return True


def _verifier_map(
    verifiers: Verifier | str | Iterable[Verifier | str],
) -> dict[tuple[str, int], Verifier]:
    items = [verifiers] if isinstance(verifiers, Verifier | str) else list(verifiers)
    known: dict[tuple[str, int], Verifier] = {}
    for item in items:
        if not isinstance(item, Verifier | str):
            raise KeyFormatError("expected a Verifier or verifier key text", field="verifier")
        v = item if isinstance(item, Verifier) else Verifier.from_text(item)
        if known.setdefault((v.name, v.key_hash), v) != v:
            raise KeyFormatError(f"two keys share {v.name}+{v.key_hash:08x}", field="verifier")
    if not known:
        raise KeyFormatError("no verifier key given", field="verifier")
    return known


def verify_note(data: bytes | str, verifiers: Verifier | str | Iterable[Verifier | str]) -> Note:
    """Parse a signed note and verify it against known keys (signed-note "Signatures").

    Steps:
        (1) load the known verifier keys;
        (2) parse the note (syntax only);
        (3) every line whose key name AND key ID match a known key must verify: a
            bad one rejects the whole note (the spec MUST verify, MAY reject);
        (4) at least one known key must have signed.
    Lines of unknown keys are ignored but kept in the returned note.

    Raises:
        KeyFormatError: a verifier key is malformed, or two keys share name and ID.
        NoteError: the note is malformed.
        CheckpointSignatureError: a known key's signature fails, or none is present.
    """
    known = _verifier_map(verifiers)  # (1)
    note = Note.from_bytes(data)  # (2)
    verified = 0
    for sig in note.signatures:  # (3)
        verifier = known.get((sig.name, sig.key_hash))
        if verifier is None:
            continue
        if not _verifies(verifier, note.text, sig.signature):
            raise CheckpointSignatureError(
                f"signature by {sig.name}+{sig.key_hash:08x} does not verify", field="signature"
            )
        verified += 1
    if not verified:  # (4)
        names = ", ".join(sorted(f"{n}+{h:08x}" for n, h in known))
        raise CheckpointSignatureError(f"no signature by a known key ({names})", field="signature")
    return note
