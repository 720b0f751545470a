"""Ed25519 keys, key ids, and domain-separated signing and verification.

Every signature the ledger makes or checks is over ``domain || message`` where
``domain`` is one of the ``DOMAIN_*`` constants: ASCII, ending in a newline and holding
no other newline, so no domain is a prefix of another and a signature made for one
purpose (an event) can never be replayed as another (a label). C2SP signed notes are
the exception: their signed message is fixed by the C2SP specification (ledger.note).

Private keys are stored as PKCS#8 PEM; public keys travel as their raw 32 bytes in
unpadded base64url. A key id is the unpadded base64url of the first 16 bytes of
SHA-256 over the raw public key (22 characters).

Verification runs in libsodium (``crypto_sign_open`` through PyNaCl): on this project's
machines it is about twice as fast as OpenSSL's Ed25519 (docs/PERFORMANCE.md), and it
is the stricter of the two (it also refuses small-order public keys and points R, and
non-canonical encodings), so no signature OpenSSL would refuse is ever accepted.
Keys are made and signatures created with pyca/cryptography.

A private key that signs is anything satisfying the `Signer` protocol (a public key and
``sign(bytes)``): cryptography's `Ed25519PrivateKey` (a key in memory, loaded from a file:
the embedded default) satisfies it as it is, and a key held in a PKCS#11 token
(ledger.service.pkcs11) does too, so the log key, the registry key and console keys can
live in either without the core knowing which.

This module does no file I/O: it turns bytes into keys and back.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.codec import b64url_decode, b64url_encode
from ledger.errors import KeyFormatError

# the domains and the raw-key verification live in ledger.sigcheck (no pyca/cryptography
# there: the audit's verifier process imports it alone)
from ledger.sigcheck import DOMAIN_EVENT as DOMAIN_EVENT
from ledger.sigcheck import DOMAIN_EVENT_V2 as DOMAIN_EVENT_V2
from ledger.sigcheck import DOMAIN_LABEL as DOMAIN_LABEL
from ledger.sigcheck import DOMAIN_REQUEST as DOMAIN_REQUEST
from ledger.sigcheck import DOMAINS as DOMAINS
from ledger.sigcheck import PUBLIC_KEY_SIZE as PUBLIC_KEY_SIZE
from ledger.sigcheck import SIGNATURE_SIZE as SIGNATURE_SIZE
from ledger.sigcheck import check_domain as _check_domain
from ledger.sigcheck import verify_raw

KEY_ID_SIZE = 16

__all__ = [
    "DOMAIN_EVENT",
    "DOMAIN_EVENT_V2",
    "DOMAIN_LABEL",
    "DOMAIN_REQUEST",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "Signer",
    "generate_private_key",
    "key_id",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_key_from_b64",
    "public_key_from_pem",
    "public_key_from_raw",
    "public_key_to_b64",
    "public_key_to_pem",
    "public_key_to_raw",
    "sign",
    "verify",
]


@runtime_checkable
class Signer(Protocol):
    """An Ed25519 private key that signs without necessarily showing itself.

    Implemented by `Ed25519PrivateKey` (in memory) and by the PKCS#11 token signer
    (ledger.service.pkcs11). ``sign`` returns the 64-byte RFC 8032 signature of exactly
    the bytes given (domain prefixes are added by the callers, `sign` below); it raises a
    `LedgerError` (``KeyUnavailableError`` for a token) when the key cannot be used.
    """

    def public_key(self) -> Ed25519PublicKey:
        """The matching public key."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data``."""
        ...


def generate_private_key() -> Ed25519PrivateKey:
    """Return a fresh Ed25519 private key from the operating system's CSPRNG."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Return the Ed25519 private key for a 32-byte seed (test vectors, HSM exports).

    Raises:
        KeyFormatError: the seed is not exactly 32 bytes.
    """
    if len(seed) != 32:
        raise KeyFormatError(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_to_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """Serialize a private key as PKCS#8 PEM, encrypted when ``password`` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def private_key_from_pem(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM private key and require that it is Ed25519.

    Raises:
        KeyFormatError: bad PEM, wrong password, or a key of another algorithm.
    """
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise KeyFormatError(f"cannot load private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"expected an Ed25519 key, got {type(key).__name__}")
    return key


def public_key_to_raw(key: Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of a public key (RFC 8032 encoding)."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_raw(data: bytes) -> Ed25519PublicKey:
    """Load a public key from its 32 raw bytes.

    Raises:
        KeyFormatError: not exactly 32 bytes, or not a valid curve point encoding.
    """
    if len(data) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 public key must be 32 bytes, got {len(data)}")
    try:
        return Ed25519PublicKey.from_public_bytes(bytes(data))
    except ValueError as e:  # pragma: no cover - OpenSSL accepts any 32 bytes today
        raise KeyFormatError(f"invalid Ed25519 public key: {e}") from e


def public_key_to_b64(key: Ed25519PublicKey) -> str:
    """Return the public key as unpadded base64url of its raw bytes (43 characters)."""
    return b64url_encode(public_key_to_raw(key))


def public_key_from_b64(text: str, *, field: str = "key") -> Ed25519PublicKey:
    """Load a public key from unpadded base64url of its raw bytes.

    Raises:
        EncodingError: not canonical base64url.
        KeyFormatError: not 32 bytes.
    """
    return public_key_from_raw(b64url_decode(text, field=field))


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    """Serialize a public key as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_from_pem(data: bytes) -> Ed25519PublicKey:
    """Load a SubjectPublicKeyInfo PEM public key and require that it is Ed25519.

    Raises:
        KeyFormatError: bad PEM or a key of another algorithm.
    """
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise KeyFormatError(f"cannot load public key: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFormatError(f"expected an Ed25519 key, got {type(key).__name__}")
    return key


def key_id(key: Ed25519PublicKey | bytes) -> str:
    """Return the key id: base64url of the first 16 bytes of SHA-256(raw public key).

    Accepts a public key object or its 32 raw bytes.

    Raises:
        KeyFormatError: raw bytes that are not 32 bytes long.
    """
    if type(key) is bytes:  # every verify of an event asks (`entry.verify_event`)
        known = _KEY_IDS.get(key)
        if known is not None:
            return known
    raw = key if isinstance(key, bytes) else public_key_to_raw(key)
    if len(raw) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    found = b64url_encode(hashlib.sha256(raw).digest()[:KEY_ID_SIZE])
    if type(key) is bytes:
        if len(_KEY_IDS) >= _KEY_IDS_KEPT:
            _KEY_IDS.clear()
        _KEY_IDS[key] = found
    return found


#: `key_id` of raw key bytes met before, by their exact bytes (bounded): a function of
#: the bytes alone, so remembered by value; each event's verify asked it anew (a SHA-256
#: and a base64url encoding, ~0.8 us with the GIL held, on the verify threads)
_KEY_IDS: dict[bytes, str] = {}
_KEY_IDS_KEPT = 4096


def sign(key: Signer, domain: bytes, message: bytes) -> bytes:
    """Sign ``domain || message`` and return the 64-byte Ed25519 signature.

    ``key`` is any `Signer`: a key in memory or in a token.

    Raises:
        KeyFormatError: ``domain`` is not one of the registered ``DOMAIN_*`` prefixes.
    """
    _check_domain(domain)
    return key.sign(domain + message)


def verify(key: Ed25519PublicKey | bytes, domain: bytes, message: bytes, signature: bytes) -> None:
    """Verify a signature over ``domain || message``; return nothing or raise.

    ``key`` is a public key object or its 32 raw bytes (what the ledger stores, so the
    hot path builds no key object).

    Raises:
        KeyFormatError: ``domain`` is not a registered prefix, or raw key bytes that are
            not 32 bytes long.
        SignatureError: the signature is not 64 bytes or does not verify.
    """
    _check_domain(domain)
    verify_raw(
        key if isinstance(key, bytes) else public_key_to_raw(key), domain, message, signature
    )


def signer_secret(signer: Signer, purpose: str) -> bytes:
    """A 32-byte secret for ``purpose`` that only the holder of ``signer`` can compute and
    every worker computes alike: SHA-256 of the purpose and the key's signature of it
    (Ed25519 signs deterministically; a key in a PKCS#11 token never shows its bytes).

    Raises:
        LedgerError: the key cannot sign (a token that is missing or locked).
    """
    label = f"provenance-ledger secret\n{purpose}\n".encode()
    return hashlib.sha256(label + signer.sign(label)).digest()
