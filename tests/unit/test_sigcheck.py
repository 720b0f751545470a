"""ledger.sigcheck: the raw-key Ed25519 check on PyNaCl's compiled module accepts exactly
what the same check through `nacl.bindings` accepts, and `verifies` is False exactly
when `verify_raw` raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import crypto, sigcheck
from ledger.errors import LedgerError
from tests.factories import key

SIGNER = key(3)
PUBLIC = crypto.public_key_to_raw(SIGNER.public_key())
OTHER = crypto.public_key_to_raw(key(4).public_key())


def _raises(raw: bytes, domain: bytes, message: bytes, signature: bytes) -> bool:
    try:
        sigcheck.verify_raw(raw, domain, message, signature)
    except LedgerError:
        return True
    return False


@st.composite
def cases(draw: st.DrawFn) -> tuple[bytes, bytes, bytes, bytes]:
    """A signed message, then maybe one change: another key, domain or message, a bit of
    the signature flipped, a key or signature cut or lengthened."""
    domain = draw(st.sampled_from(sigcheck.DOMAINS))
    message = draw(st.binary(max_size=300))
    signature = crypto.sign(SIGNER, domain, message)
    raw = PUBLIC
    change = draw(st.sampled_from(["none", "key", "domain", "message", "bit", "cut", "long"]))
    if change == "key":
        raw = OTHER
    elif change == "domain":
        domain = draw(st.sampled_from([d for d in sigcheck.DOMAINS if d != domain] + [b"x\n"]))
    elif change == "message":
        message += b"!"
    elif change == "bit":
        at = draw(st.integers(0, 63))
        signature = (
            signature[:at]
            + bytes([signature[at] ^ (1 << draw(st.integers(0, 7)))])
            + signature[at + 1 :]
        )
    elif change == "cut":
        if draw(st.booleans()):
            raw = raw[: draw(st.integers(0, 31))]
        else:
            signature = signature[: draw(st.integers(0, 63))]
    elif change == "long":
        signature += b"\0"
    return raw, domain, message, signature


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_compiled_module_and_the_bindings_agree(
    case: tuple[bytes, bytes, bytes, bytes],
) -> None:
    sodium = sigcheck._sodium_open()
    assert sodium is not None, "PyNaCl's compiled module is not where sigcheck looks"
    bindings = sigcheck._bindings_open()
    raw, domain, message, signature = case
    if len(raw) == sigcheck.PUBLIC_KEY_SIZE:  # what `verifies` hands either of them
        signed = bytes(signature) + domain + message
        assert sodium(signed, raw) == bindings(signed, raw)
    assert sigcheck.verifies(*case) == (not _raises(*case))


def test_a_good_signature_verifies_and_a_flipped_bit_does_not() -> None:
    signature = crypto.sign(SIGNER, sigcheck.DOMAIN_EVENT_V2, b"event")
    assert sigcheck.verifies(PUBLIC, sigcheck.DOMAIN_EVENT_V2, b"event", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not sigcheck.verifies(PUBLIC, sigcheck.DOMAIN_EVENT_V2, b"event", flipped)
    with pytest.raises(LedgerError, match="does not verify"):
        sigcheck.verify_raw(PUBLIC, sigcheck.DOMAIN_EVENT_V2, b"event", flipped)


def test_without_the_compiled_module_the_bindings_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sigcheck, "_opened", sigcheck._bindings_open())
    signature = crypto.sign(SIGNER, sigcheck.DOMAIN_EVENT, b"e")
    assert sigcheck.verifies(PUBLIC, sigcheck.DOMAIN_EVENT, b"e", signature)
    assert not sigcheck.verifies(OTHER, sigcheck.DOMAIN_EVENT, b"e", signature)


def test_a_pynacl_without_the_compiled_module_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "nacl._sodium", None)  # its import raises ImportError
    assert sigcheck._sodium_open() is None
