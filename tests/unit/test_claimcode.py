"""Tests for ledger.claimcode: format, entropy, check symbol, normalization, commitment."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import claimcode
from ledger.claimcode import (
    ALPHABET,
    CODE_LENGTH,
    ENTROPY_BITS,
    check_symbol,
    claim_commitment,
    encode_claim_code,
    matches_commitment,
    new_claim_code,
    normalize_claim_code,
)
from ledger.codec import b64url_decode, b64url_encode
from ledger.errors import EncodingError, ValidationError
from tests.profiles import examples

SYMBOL = "[0-9A-HJKMNP-TV-Z]"
CANONICAL = re.compile(rf"{SYMBOL}{{4}}(-{SYMBOL}{{4}}){{3}}-{SYMBOL}")
SAMPLES = [
    encode_claim_code(bytes(10)),
    encode_claim_code(b"\xff" * 10),
    encode_claim_code(hashlib.sha256(b"provenance-ledger test vector claim code").digest()[:10]),
    encode_claim_code(bytes(range(10))),
]


def _symbols(code: str) -> str:
    return code.replace("-", "")


def _grouped(symbols: str) -> str:
    return "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


def _reference_check(data: str) -> str:
    """An independent check symbol: carry-less products reduced by x^5 + x^2 + 1."""

    def multiply(a: int, b: int) -> int:
        product = 0
        for i in range(5):
            if b >> i & 1:
                product ^= a << i
        for bit in range(9, 4, -1):
            if product >> bit & 1:
                product ^= 0b100101 << (bit - 5)
        return product

    total = 0
    for i, ch in enumerate(data):
        weight = 1
        for _ in range(len(data) - i):
            weight = multiply(weight, 2)
        total ^= multiply(ALPHABET.index(ch), weight)
    return ALPHABET[total]


# --- format and entropy -----------------------------------------------------------------


def test_known_codes() -> None:
    assert SAMPLES[0] == "0000-0000-0000-0000-0"
    assert SAMPLES[1] == "ZZZZ-ZZZZ-ZZZZ-ZZZZ-M"
    assert SAMPLES[2] == "XY6Y-KD2Y-7B5A-55X1-X"


def test_new_code_is_canonical_and_normalizes_to_itself() -> None:
    code = new_claim_code()
    assert len(code) == CODE_LENGTH == 21
    assert CANONICAL.fullmatch(code)
    assert normalize_claim_code(code) == code


def test_entropy_is_80_bits_drawn_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def token_bytes(n: int) -> bytes:
        asked.append(n)
        return bytes(range(n))

    monkeypatch.setattr(claimcode.secrets, "token_bytes", token_bytes)
    code = new_claim_code()
    assert asked == [10]
    assert ENTROPY_BITS >= 80
    assert code == encode_claim_code(bytes(range(10)))
    # 16 data symbols of 5 bits each carry the 80 bits; the 17th is the check
    assert len(_symbols(code)) * 5 - 5 == ENTROPY_BITS


@settings(max_examples=examples(300), deadline=None)
@given(a=st.binary(min_size=10, max_size=10), b=st.binary(min_size=10, max_size=10))
def test_encoding_is_injective(a: bytes, b: bytes) -> None:
    assert (encode_claim_code(a) == encode_claim_code(b)) == (a == b)


def test_random_codes_use_every_symbol_in_every_position() -> None:
    codes = [_symbols(new_claim_code()) for _ in range(3000)]
    assert len(set(codes)) == len(codes)
    for position in range(16):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set(ALPHABET)
        assert max(counts.values()) < 3 * 3000 / 32  # no symbol far above its share


def test_encode_refuses_wrong_sizes() -> None:
    for bad in (b"", bytes(9), bytes(11)):
        with pytest.raises(ValidationError):
            encode_claim_code(bad)


# --- check symbol ---------------------------------------------------------------------


@pytest.mark.parametrize("code", SAMPLES)
def test_check_symbol_matches_an_independent_implementation(code: str) -> None:
    symbols = _symbols(code)
    assert check_symbol(symbols[:16]) == _reference_check(symbols[:16]) == symbols[16]


@pytest.mark.parametrize("code", SAMPLES)
def test_every_single_substitution_is_caught(code: str) -> None:
    symbols = _symbols(code)
    for position in range(17):
        for other in ALPHABET.replace(symbols[position], ""):
            typo = symbols[:position] + other + symbols[position + 1 :]
            with pytest.raises(ValidationError) as caught:
                normalize_claim_code(_grouped(typo))
            assert caught.value.field == "code"


@pytest.mark.parametrize("code", [*SAMPLES, "0123-4567-89AB-CDEF-?"])
def test_every_adjacent_transposition_is_caught(code: str) -> None:
    if code.endswith("?"):  # a code where every neighbour differs
        code = code[:-1] + check_symbol(_symbols(code)[:16])
    symbols = _symbols(code)
    swapped = 0
    for position in range(16):
        a, b = symbols[position], symbols[position + 1]
        if a == b:
            continue
        typo = symbols[:position] + b + a + symbols[position + 2 :]
        with pytest.raises(ValidationError):
            normalize_claim_code(_grouped(typo))
        swapped += 1
    assert swapped > 0 or len(set(symbols)) == 1


@settings(max_examples=examples(400), deadline=None)
@given(
    data=st.binary(min_size=10, max_size=10),
    position=st.integers(0, 16),
    shift=st.integers(1, 31),
)
def test_random_substitution_is_caught(data: bytes, position: int, shift: int) -> None:
    symbols = _symbols(encode_claim_code(data))
    other = ALPHABET[(ALPHABET.index(symbols[position]) + shift) % 32]
    with pytest.raises(ValidationError):
        normalize_claim_code(symbols[:position] + other + symbols[position + 1 :])


@settings(max_examples=examples(400), deadline=None)
@given(data=st.binary(min_size=10, max_size=10), position=st.integers(0, 15))
def test_random_transposition_is_caught(data: bytes, position: int) -> None:
    symbols = _symbols(encode_claim_code(data))
    a, b = symbols[position], symbols[position + 1]
    typo = symbols[:position] + b + a + symbols[position + 2 :]
    if a == b:
        assert normalize_claim_code(typo) == encode_claim_code(data)
    else:
        with pytest.raises(ValidationError):
            normalize_claim_code(typo)


# --- normalization --------------------------------------------------------------------


def test_typed_variants_normalize_to_the_printed_code() -> None:
    code = "XY6Y-KD2Y-7B5A-55X1-X"
    assert normalize_claim_code("xy6y kd2y 7b5a 55x1 x") == code
    assert normalize_claim_code("XY6YKD2Y7B5A55X1X") == code
    assert normalize_claim_code("  xy6y-kd2y-7b5a-55xl-x\n") == code  # l read as 1
    assert normalize_claim_code("XY6Y-KD2Y-7B5A-55XI-X") == code  # I read as 1
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code)  # as a Chinese IME types
    assert normalize_claim_code(full_width) == code
    assert normalize_claim_code("0000-0000-0000-oooo-O") == "0000-0000-0000-0000-0"


@settings(max_examples=examples(200), deadline=None)
@given(data=st.binary(min_size=10, max_size=10), lower=st.booleans(), sep=st.sampled_from("- "))
def test_normalization_round_trip(data: bytes, lower: bool, sep: str) -> None:
    code = encode_claim_code(data)
    typed = code.replace("-", sep)
    typed = typed.lower() if lower else typed
    typed = typed.replace("1", "l").replace("0", "O")
    assert normalize_claim_code(typed) == code


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("XY6Y-KD2Y-7B5A-55X1-U", "not a claim code character"),
        ("XY6Y-KD2Y-7B5A-55X1-*", "not a claim code character"),
        ("XY6Y-KD2Y-7B5A-55X1", "17 symbols, not 16"),
        ("XY6Y-KD2Y-7B5A-55X1-XX", "17 symbols, not 18"),
        ("", "17 symbols, not 0"),
        ("XY6Y-KD2Y-7B5A-55X1-Y", "check character"),
    ],
)
def test_malformed_codes_are_refused(typed: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as caught:
        normalize_claim_code(typed)
    assert caught.value.field == "code"


def test_non_string_is_refused() -> None:
    with pytest.raises(ValidationError):
        normalize_claim_code(12345)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        check_symbol("TOO-SHORT")


# --- commitment -----------------------------------------------------------------------


def test_commitment_is_sha256_of_salt_and_canonical_text() -> None:
    salt = hashlib.sha256(b"provenance-ledger test vector claim salt").digest()[:16]
    salt_b64, digest_b64 = claim_commitment("XY6Y-KD2Y-7B5A-55X1-X", salt)
    assert b64url_decode(salt_b64) == salt
    expected = hashlib.sha256(salt + b"XY6Y-KD2Y-7B5A-55X1-X").digest()
    assert b64url_decode(digest_b64) == expected
    assert (salt_b64, digest_b64) == (
        "OlI16cp0e_7DxczNPBApLQ",
        "Px0gREmxm5JsgZzIhV7pBaWCAPvgjz4awM7ZTlL4rfU",
    )
    assert claim_commitment("xy6y kd2y 7b5a 55xl x", salt) == (salt_b64, digest_b64)


def test_commitment_refuses_bad_salt_and_code() -> None:
    with pytest.raises(ValidationError) as caught:
        claim_commitment(new_claim_code(), bytes(15))
    assert caught.value.field == "salt"
    with pytest.raises(ValidationError) as caught:
        claim_commitment("not a code", bytes(16))
    assert caught.value.field == "code"


def test_matches_commitment() -> None:
    code = new_claim_code()
    salt, digest = claim_commitment(code, claimcode.new_salt())
    assert matches_commitment(code.lower().replace("-", " "), salt, digest)
    assert not matches_commitment(new_claim_code(), salt, digest)
    assert not matches_commitment("typo", salt, digest)
    with pytest.raises(EncodingError):
        matches_commitment(code, salt + "=", digest)
    with pytest.raises(EncodingError):
        matches_commitment(code, salt, b64url_encode(secrets.token_bytes(31)))
