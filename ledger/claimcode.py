"""Claim codes: the secret printed inside a package, and its salted commitment.

What it does:
- makes claim codes: 80 random bits (from `secrets`) written as 16 symbols of
  Crockford base32 (https://www.crockford.com/base32.html, alphabet
  ``0123456789ABCDEFGHJKMNPQRSTVWXYZ``: no I, L, O, U), then one check symbol, printed
  in groups of four: ``XXXX-XXXX-XXXX-XXXX-C`` (21 characters, the *canonical text*);
- normalizes what a person typed: Unicode NFKC (full-width letters from a Chinese input
  method become ASCII), case-insensitive, hyphens and white space ignored, I and L
  read as 1, O read as 0; then the check symbol must match;
- computes the commitment that a ``commission`` event carries (docs/FORMAT.md section
  2): ``hash = SHA-256(salt || canonical text)`` with a 16-byte random salt.

The check symbol: symbols are numbers 0-31, read as elements of GF(32) = GF(2)[x] /
(x^5 + x^2 + 1) with alpha = x. For data symbols d_0..d_15 the check symbol is
``c = sum(d_i * alpha^(16 - i))``, so that ``sum(s_i * alpha^(16 - i)) = 0`` over all 17
symbols (s_16 = c, weight alpha^0 = 1): a Reed-Solomon code with one check symbol.
Every weight is a distinct non-zero element (alpha has order 31), so a single wrong
symbol changes the sum by ``alpha^k * (a + b) != 0`` and swapping two neighbours
changes it by ``alpha^k * (alpha + 1) * (a + b) != 0``: every single substitution and
every adjacent transposition (the check symbol included) is detected. The check symbol
is a plain alphabet symbol, so the canonical text stays within ``0-9A-Z-``.

What it does not do: no I/O, no storage of codes, no rate limiting of guesses (the
claim endpoint does that). Randomness comes only from `secrets` (`new_claim_code`,
`new_salt`); every other function is deterministic.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from ledger.codec import b64url_decode, b64url_encode
from ledger.errors import ValidationError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
DATA_SYMBOLS = 16
ENTROPY_BITS = 5 * DATA_SYMBOLS  # 80
GROUP_SIZE = 4
CODE_LENGTH = DATA_SYMBOLS + 1 + DATA_SYMBOLS // GROUP_SIZE  # 21, with the hyphens
SALT_SIZE = 16

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_VALUE.update({"I": 1, "L": 1, "O": 0})  # Crockford decoding: read I, L as 1 and O as 0
_GF_POLY = 0b100101  # x^5 + x^2 + 1, primitive: x generates the 31 non-zero elements

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "ENTROPY_BITS",
    "SALT_SIZE",
    "check_symbol",
    "claim_commitment",
    "encode_claim_code",
    "matches_commitment",
    "new_claim_code",
    "new_salt",
    "normalize_claim_code",
]


def _times_alpha(value: int) -> int:
    """Multiply a GF(32) element by alpha = x (shift, reduce by the field polynomial)."""
    value <<= 1
    return value ^ _GF_POLY if value & 0b100000 else value


def _weighted_sum(values: list[int]) -> int:
    """Return ``sum(v_i * alpha^(n - 1 - i))`` over GF(32) by Horner's rule."""
    acc = 0
    for v in values:
        acc = _times_alpha(acc) ^ v
    return acc


def check_symbol(data: str) -> str:
    """Return the check symbol for 16 canonical data symbols (no hyphens).

    Raises:
        ValidationError: ``data`` is not 16 symbols of the Crockford alphabet (field
            ``code``).
    """
    if not isinstance(data, str) or len(data) != DATA_SYMBOLS or not set(data) <= set(ALPHABET):
        raise ValidationError(f"expected {DATA_SYMBOLS} Crockford base32 symbols", field="code")
    return ALPHABET[_times_alpha(_weighted_sum([_VALUE[ch] for ch in data]))]


def _group(symbols: str) -> str:
    groups = [symbols[i : i + GROUP_SIZE] for i in range(0, len(symbols), GROUP_SIZE)]
    return "-".join(groups)


def encode_claim_code(data: bytes) -> str:
    """Return the canonical claim code for 10 bytes (80 bits) of randomness.

    The bytes are read as a big-endian 80-bit number and written as 16 base32 symbols,
    most significant first, followed by the check symbol and grouped by four.

    Raises:
        ValidationError: ``data`` is not exactly 10 bytes (field ``code``).
    """
    if not isinstance(data, bytes) or len(data) * 8 != ENTROPY_BITS:
        raise ValidationError(f"expected {ENTROPY_BITS // 8} bytes of randomness", field="code")
    number = int.from_bytes(data, "big")
    symbols = "".join(
        ALPHABET[(number >> (5 * (DATA_SYMBOLS - 1 - i))) & 31] for i in range(DATA_SYMBOLS)
    )
    return _group(symbols + check_symbol(symbols))


def new_claim_code() -> str:
    """Return a fresh claim code: 80 bits from `secrets`, canonical text."""
    return encode_claim_code(secrets.token_bytes(ENTROPY_BITS // 8))


def normalize_claim_code(text: str) -> str:
    """Return the canonical text of a claim code as a person typed it.

    Steps: (1) Unicode NFKC, upper case; (2) drop hyphens and white space; (3) read I
    and L as 1, O as 0, refuse any other character outside the alphabet; (4) require 17
    symbols; (5) check the check symbol.

    Raises:
        ValidationError: not a string, a character outside the alphabet, the wrong
            number of symbols, or a check symbol that does not match (a typo); the
            field is ``code``.
    """
    if not isinstance(text, str):
        raise ValidationError("expected a string", field="code")
    folded = unicodedata.normalize("NFKC", text).upper()  # (1)
    kept = [ch for ch in folded if ch != "-" and not ch.isspace()]  # (2)
    values = []
    for i, ch in enumerate(kept):  # (3)
        if ch not in _VALUE:
            raise ValidationError(
                f"symbol {i + 1} ({ch!r}) is not a claim code character", field="code"
            )
        values.append(_VALUE[ch])
    if len(values) != DATA_SYMBOLS + 1:  # (4)
        raise ValidationError(
            f"a claim code has {DATA_SYMBOLS + 1} symbols, not {len(values)}", field="code"
        )
    if _weighted_sum(values) != 0:  # (5)
        raise ValidationError("the check character does not match: a typo?", field="code")
    return _group("".join(ALPHABET[v] for v in values))


def new_salt() -> bytes:
    """Return a fresh 16-byte salt from `secrets`."""
    return secrets.token_bytes(SALT_SIZE)


def claim_commitment(code: str, salt: bytes) -> tuple[str, str]:
    """Return ``(salt, hash)`` as unpadded base64url for a ``commission`` event.

    ``hash = SHA-256(salt || canonical text)`` (docs/FORMAT.md section 2); ``code`` is
    normalized first, so a typed code gives the same commitment as the printed one.

    Raises:
        ValidationError: the code is malformed (field ``code``) or the salt is not 16
            bytes (field ``salt``).
    """
    canonical = normalize_claim_code(code)
    if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
        raise ValidationError(f"the salt must be {SALT_SIZE} bytes", field="salt")
    digest = hashlib.sha256(salt + canonical.encode("ascii")).digest()
    return b64url_encode(salt), b64url_encode(digest)


def matches_commitment(code: str, salt: str, digest: str) -> bool:
    """Tell whether a typed code opens the commitment ``(salt, hash)`` (base64url).

    The comparison takes constant time. A code that does not even normalize (a typo
    caught by the check symbol) does not match.

    Raises:
        EncodingError: ``salt`` or ``digest`` is not canonical base64url of 16 and 32
            bytes (fields ``claim.salt``, ``claim.hash``).
    """
    salt_bytes = b64url_decode(salt, field="claim.salt", size=SALT_SIZE)
    b64url_decode(digest, field="claim.hash", size=32)
    try:
        _, expected = claim_commitment(code, salt_bytes)
    except ValidationError:
        return False
    return hmac.compare_digest(expected, digest)
