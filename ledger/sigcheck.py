"""The signing domains and Ed25519 verification under a raw public key, in libsodium.

What `ledger.crypto.verify` does for a key given as its 32 raw bytes, without importing
pyca/cryptography (which `ledger.crypto` needs to make keys and signatures): the audit's
verifier process (ledger.audit.sigproc) and the server's verifier children
(ledger.service.sigpool) import this and `ledger.errors` only. `ledger.crypto`
re-exports its domains and sizes and verifies through `verify_raw`.

The check is libsodium's ``crypto_sign_open``, the function PyNaCl's
`nacl.bindings.crypto_sign_open` calls, taken from PyNaCl's compiled module
(``nacl._sodium``) with the same arguments: importing `nacl.bindings` loads all its
binding modules, ~30 ms of a verifier child's ~50 ms start (docs/PERFORMANCE.md
"audit42"). Where that module is not there (another PyNaCl layout), `nacl.bindings`
serves; tests/unit/test_sigcheck.py checks that both accept the same signatures.
"""

from __future__ import annotations

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

#: `typing.TYPE_CHECKING` without importing `typing` (~6 ms of a verifier child's start);
#: mypy reads any constant of this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _bindings_open() -> Callable[[bytes, bytes], bool]:
    """``opened(signed, public)``: whether ``signed`` (signature || message) verifies
    under the 32 raw bytes ``public``, through `nacl.bindings` (the general path)."""
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError
    from nacl.exceptions import ValueError as NaclValueError

    def opened(signed: bytes, public: bytes) -> bool:
        try:
            crypto_sign_open(signed, public)
        except (BadSignatureError, NaclValueError):
            return False
        return True

    return opened


def _sodium_open() -> Callable[[bytes, bytes], bool] | None:
    """`_bindings_open`'s ``opened`` on PyNaCl's compiled module itself (the same C call
    with the same arguments), or None when this PyNaCl has no such module."""
    try:
        from nacl._sodium import ffi, lib  # PyNaCl's cffi module (no binding modules)

        sign_open = lib.crypto_sign_open
        if lib.sodium_init() == -1:  # what importing nacl.bindings checks
            return None
    except (ImportError, AttributeError):
        return None
    new = ffi.new

    def opened(signed: bytes, public: bytes) -> bool:
        # what nacl.bindings.crypto_sign_open passes: an output as long as the input
        message = new("unsigned char[]", len(signed))
        status: int = sign_open(message, new("unsigned long long *"), signed, len(signed), public)
        return status == 0

    return opened


_opened = _sodium_open() or _bindings_open()


def check_domain(domain: bytes) -> None:
    """Raise `KeyFormatError` unless ``domain`` is one of `DOMAINS`."""
    if domain not in DOMAINS:
        raise KeyFormatError(f"unknown signing domain {domain!r}")


def verifies(raw: bytes, domain: bytes, message: bytes, signature: bytes) -> bool:
    """Whether these verify: the one check `verify_raw` makes too (it raises, saying
    why, exactly when this is False); without an exception per bad signature, for the
    loops over many (ledger.verify.rawsig)."""
    return (
        domain in DOMAINS
        and len(raw) == PUBLIC_KEY_SIZE
        and len(signature) == SIGNATURE_SIZE
        # crypto_sign_open takes the signature followed by the signed message (RFC 8032)
        and _opened(bytes(signature) + domain + message, raw)
    )


def verify_raw(raw: bytes, domain: bytes, message: bytes, signature: bytes) -> None:
    """`ledger.crypto.verify` for a key given as its raw bytes; return nothing or raise.

    Raises:
        KeyFormatError: ``domain`` is not a registered prefix, or ``raw`` is not 32 bytes.
        SignatureError: the signature is not 64 bytes or does not verify.
    """
    if verifies(raw, domain, message, signature):
        return
    # refused: say why (the checks `verifies` made, in its order)
    check_domain(domain)
    if len(raw) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"signature must be 64 bytes, got {len(signature)}")
    raise SignatureError("signature does not verify")
