"""ledger.crypto: keys, key ids, domain-separated signatures."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey

from ledger import codec, crypto
from ledger.errors import KeyFormatError, SignatureError

SEED = bytes(range(32))


def test_sign_and_verify() -> None:
    key = crypto.private_key_from_seed(SEED)
    sig = crypto.sign(key, crypto.DOMAIN_EVENT, b"hello")
    assert len(sig) == 64
    crypto.verify(key.public_key(), crypto.DOMAIN_EVENT, b"hello", sig)


def test_every_tampering_fails() -> None:
    key = crypto.private_key_from_seed(SEED)
    message = b"handoff unit 1 to courier"
    sig = crypto.sign(key, crypto.DOMAIN_EVENT, message)
    for i in range(len(message)):
        tampered = bytearray(message)
        tampered[i] ^= 0x01
        with pytest.raises(SignatureError):
            crypto.verify(key.public_key(), crypto.DOMAIN_EVENT, bytes(tampered), sig)
    for i in range(len(sig)):
        bad = bytearray(sig)
        bad[i] ^= 0x80
        with pytest.raises(SignatureError):
            crypto.verify(key.public_key(), crypto.DOMAIN_EVENT, message, bytes(bad))
    other = crypto.generate_private_key()
    with pytest.raises(SignatureError):
        crypto.verify(other.public_key(), crypto.DOMAIN_EVENT, message, sig)


def test_signature_for_one_domain_fails_in_another() -> None:
    key = crypto.private_key_from_seed(SEED)
    sig = crypto.sign(key, crypto.DOMAIN_EVENT, b"m")
    with pytest.raises(SignatureError):
        crypto.verify(key.public_key(), crypto.DOMAIN_LABEL, b"m", sig)
    # The domain really is part of the signed bytes: a raw signature over the
    # message alone does not verify.
    with pytest.raises(SignatureError):
        crypto.verify(key.public_key(), crypto.DOMAIN_EVENT, b"m", key.sign(b"m"))


def test_domains_are_prefix_free() -> None:
    for a in crypto.DOMAINS:
        assert a.endswith(b"\n") and a.count(b"\n") == 1
        for b in crypto.DOMAINS:
            assert a == b or not b.startswith(a)


def test_unknown_domain_is_refused() -> None:
    key = crypto.private_key_from_seed(SEED)
    with pytest.raises(KeyFormatError, match="domain"):
        crypto.sign(key, b"other\n", b"m")
    with pytest.raises(KeyFormatError, match="domain"):
        crypto.verify(key.public_key(), b"", b"m", bytes(64))


@pytest.mark.parametrize("size", [63, 65, 0])
def test_wrong_signature_length(size: int) -> None:
    key = crypto.private_key_from_seed(SEED)
    with pytest.raises(SignatureError, match="64 bytes"):
        crypto.verify(key.public_key(), crypto.DOMAIN_EVENT, b"m", bytes(size))


@pytest.mark.parametrize("size", [31, 33, 0])
def test_wrong_public_key_length(size: int) -> None:
    with pytest.raises(KeyFormatError, match="32 bytes"):
        crypto.public_key_from_raw(bytes(size))
    with pytest.raises(KeyFormatError, match="32 bytes"):
        crypto.key_id(bytes(size))
    with pytest.raises(KeyFormatError, match="32 bytes"):
        crypto.private_key_from_seed(bytes(size))


def test_pem_round_trip_plain_and_encrypted() -> None:
    key = crypto.generate_private_key()
    raw = crypto.public_key_to_raw(key.public_key())
    for password in (None, b"correct horse"):
        pem = crypto.private_key_to_pem(key, password)
        assert pem.startswith(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----" if password else b"-----BEGIN PRIVATE KEY-----"
        )
        loaded = crypto.private_key_from_pem(pem, password)
        assert crypto.public_key_to_raw(loaded.public_key()) == raw
    public_pem = crypto.public_key_to_pem(key.public_key())
    assert crypto.public_key_to_raw(crypto.public_key_from_pem(public_pem)) == raw
    b64 = crypto.public_key_to_b64(key.public_key())
    assert crypto.public_key_to_raw(crypto.public_key_from_b64(b64)) == raw


def test_pem_errors() -> None:
    key = crypto.generate_private_key()
    with pytest.raises(KeyFormatError):
        crypto.private_key_from_pem(crypto.private_key_to_pem(key, b"pw"), b"wrong")
    with pytest.raises(KeyFormatError):
        crypto.private_key_from_pem(b"-----BEGIN PRIVATE KEY-----\nnope\n")
    with pytest.raises(KeyFormatError, match="Ed25519"):
        crypto.private_key_from_pem(crypto.private_key_to_pem(Ed448PrivateKey.generate()))  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError, match="Ed25519"):
        crypto.public_key_from_pem(
            crypto.public_key_to_pem(Ed448PrivateKey.generate().public_key())
        )  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError):
        crypto.public_key_from_pem(b"garbage")


def test_key_id_is_truncated_sha256_of_raw_key() -> None:
    public = crypto.private_key_from_seed(SEED).public_key()
    raw = crypto.public_key_to_raw(public)
    expected = codec.b64url_encode(hashlib.sha256(raw).digest()[:16])
    assert crypto.key_id(public) == crypto.key_id(raw) == expected
    assert len(expected) == 22


def test_key_id_of_raw_bytes_is_hashed_once_and_stays_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every event's verify asks the key id of its key's bytes: computed once a key,
    then remembered by value; the same id as the definition, for bytes equal but not
    the same object too; a key object, or bytes of the wrong length, as before; the
    memory bounded (cleared when full, then answers the same)."""
    calls: list[bytes] = []
    real = hashlib.sha256

    def counted(data: bytes = b"") -> object:
        calls.append(bytes(data))
        return real(data)

    monkeypatch.setattr(crypto, "_KEY_IDS", {})
    monkeypatch.setattr(crypto.hashlib, "sha256", counted)
    raws = [
        crypto.public_key_to_raw(crypto.private_key_from_seed(bytes([i]) * 32).public_key())
        for i in range(3)
    ]
    for raw in raws * 4:
        expected = codec.b64url_encode(real(raw).digest()[:16])
        assert crypto.key_id(raw) == expected
        assert crypto.key_id(bytes(bytearray(raw))) == expected  # equal bytes, another object
    assert calls == raws  # one SHA-256 a key
    public = crypto.private_key_from_seed(SEED).public_key()
    assert crypto.key_id(public) == codec.b64url_encode(
        real(crypto.public_key_to_raw(public)).digest()[:16]
    )
    for short in (raws[0][:31], raws[0] + b"\0", b""):
        with pytest.raises(KeyFormatError):
            crypto.key_id(short)
        assert short not in crypto._KEY_IDS
    monkeypatch.setattr(crypto, "_KEY_IDS_KEPT", 2)
    crypto._KEY_IDS.clear()
    for raw in raws * 2:
        assert crypto.key_id(raw) == codec.b64url_encode(real(raw).digest()[:16])
        assert len(crypto._KEY_IDS) <= 2


def test_verify_accepts_raw_public_key_bytes() -> None:
    key = crypto.private_key_from_seed(SEED)
    raw = crypto.public_key_to_raw(key.public_key())
    sig = crypto.sign(key, crypto.DOMAIN_EVENT, b"hello")
    crypto.verify(raw, crypto.DOMAIN_EVENT, b"hello", sig)
    with pytest.raises(SignatureError):
        crypto.verify(raw, crypto.DOMAIN_EVENT, b"hellp", sig)
    other = crypto.public_key_to_raw(crypto.private_key_from_seed(bytes(32)).public_key())
    with pytest.raises(SignatureError):
        crypto.verify(other, crypto.DOMAIN_EVENT, b"hello", sig)
    with pytest.raises(KeyFormatError):
        crypto.verify(raw[:31], crypto.DOMAIN_EVENT, b"hello", sig)


def test_small_order_public_key_is_refused() -> None:
    # The identity point (y = 1) has order 1: with R = identity and S = 0 the RFC 8032
    # equation [S]B = R + [k]A holds for every message. libsodium refuses such keys.
    identity = (1).to_bytes(32, "little")
    forged = identity + bytes(32)
    with pytest.raises(SignatureError):
        crypto.verify(identity, crypto.DOMAIN_EVENT, b"anything", forged)


def test_non_canonical_s_is_refused() -> None:
    # S + L verifies the same equation; a malleable copy of a good signature must fail.
    order = 2**252 + 27742317777372353535851937790883648493
    key = crypto.private_key_from_seed(SEED)
    sig = crypto.sign(key, crypto.DOMAIN_EVENT, b"hello")
    s = int.from_bytes(sig[32:], "little") + order
    malleated = sig[:32] + s.to_bytes(32, "little")
    with pytest.raises(SignatureError):
        crypto.verify(key.public_key(), crypto.DOMAIN_EVENT, b"hello", malleated)
