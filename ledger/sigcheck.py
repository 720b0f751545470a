"""The signing domains and Ed25519 verification under a raw public key, in libsodium.

What `ledger.crypto.verify` does for a key given as its 32 raw bytes, without importing
pyca/cryptography (which `ledger.crypto` needs to make keys and signatures): the audit's
verifier process (ledger.audit.sigproc) imports this and `ledger.errors` only, so it is
up ~30 ms sooner. `ledger.crypto` re-exports every name here and verifies through it.
"""

from __future__ import annotations

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError

from ledger.errors import KeyFormatError, SignatureError

DOMAIN_EVENT = b"provenance-ledger/v1 event\n"
#: event format 2: the message after this domain starts with the log's origin and a newline
#: (ledger.entry), so an event signed for one log verifies in no other
DOMAIN_EVENT_V2 = b"provenance-ledger/v2 event\n"
DOMAIN_LABEL = b"provenance-ledger/v1 label\n"
DOMAIN_REQUEST = b"provenance-ledger/v1 request\n"  # signed HTTP requests (ledger.reqsig)
DOMAINS = (DOMAIN_EVENT, DOMAIN_EVENT_V2, DOMAIN_LABEL, DOMAIN_REQUEST)

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def check_domain(domain: bytes) -> None:
    """Raise `KeyFormatError` unless ``domain`` is one of `DOMAINS`."""
    if domain not in DOMAINS:
        raise KeyFormatError(f"unknown signing domain {domain!r}")


def verify_raw(raw: bytes, domain: bytes, message: bytes, signature: bytes) -> None:
    """`ledger.crypto.verify` for a key given as its raw bytes; return nothing or raise.

    Raises:
        KeyFormatError: ``domain`` is not a registered prefix, or ``raw`` is not 32 bytes.
        SignatureError: the signature is not 64 bytes or does not verify.
    """
    check_domain(domain)
    if len(raw) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"signature must be 64 bytes, got {len(signature)}")
    try:
        # crypto_sign_open takes the signature followed by the signed message (RFC 8032).
        crypto_sign_open(bytes(signature) + domain + message, raw)
    except (BadSignatureError, NaclValueError) as e:
        raise SignatureError("signature does not verify") from e
