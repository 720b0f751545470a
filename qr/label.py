"""What a printed label says: the text in its QR code and the lines under it.

What it does:
- the outer label of a unit: its signed GS1 Digital Link URI (`ledger.label`; the QR
  code holds its compact form, `ledger.label.compact_label_uri`), then
  ``(01) {gtin14}``, ``(21) {serial}`` (the GS1 human-readable
  interpretation: AIs in parentheses) and "Scan to verify · 扫码验真";
- the inner claim-code label: a QR code that opens the claim page with the code filled
  in, ``{base}/01/{gtin14}/21/{serial}?claim={code}`` (in the query, so the page needs
  no script to read it; the server records no scan for it, its access log writes the
  code as ``claim=REDACTED`` and the page sends no referrer), the code itself, the
  serial, and "Scan to claim · 扫码认领";
- a carton's or pallet's label (`sscc_label`): ``{base}/00/{sscc}``, ``(00) {sscc}``;
- `prepare_units`: for a batch, every unit's signed URI, a fresh claim code, and the
  salted commitment that its ``commission`` event must carry.

What it does not do: no drawing (``qr.png``, ``qr.svg``, ``qr.sheet``), no database,
no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger import claimcode
from ledger.crypto import Ed25519PrivateKey
from ledger.errors import GS1Error
from ledger.gs1 import UnitId, format_digital_link
from ledger.label import MAX_BASE_URL_LENGTH, compact_label_uri, label_uri, sign_label

VERIFY_LINE = "Scan to verify · 扫码验真"
CLAIM_LINE = "Scan to claim · 扫码认领"
SSCC_LINE = "Logistic unit · 物流单元"
CLAIM_PARAMETER = "claim"


@dataclass(frozen=True)
class Label:
    """One label face: the exact text its QR code encodes and the lines printed under it."""

    qr_text: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class UnitLabels:
    """Everything printed for one unit, and the claim commitment for its commission.

    Attributes:
        unit: the unit identity.
        uri: the signed label URI in its usual form (printed, listed in the manifest).
        claim_code: the canonical claim code (secret; inner label and manifest only).
        claim_uri: the URI of the inner label's QR code.
        claim_salt: base64url salt for the commission event's ``claim.salt``.
        claim_hash: base64url ``SHA-256(salt || code)`` for ``claim.hash``.
        qr_uri: the same link as ``uri`` as the outer QR code holds it: upper-case
            scheme and host, the signature in decimal (`compact_label_uri`).
    """

    unit: UnitId
    uri: str
    claim_code: str
    claim_uri: str
    claim_salt: str
    claim_hash: str
    qr_uri: str

    def outer(self, *, product: str | None = None, lot: str | None = None) -> Label:
        """Return the outer label: its QR code holds `qr_uri` (the compact form of
        ``uri``, `ledger.label.compact_label_uri`), then the product name and the lot
        when given, GTIN, serial, verify line (`unit_lines`)."""
        return Label(self.qr_uri, unit_lines(self.unit, product=product, lot=lot))

    def inner(self) -> Label:
        """Return the inner claim-code label."""
        return claim_label(self.unit, self.claim_code, self.claim_uri)


def unit_lines(
    unit: UnitId, *, product: str | None = None, lot: str | None = None
) -> tuple[str, ...]:
    """Return the lines printed under a unit's QR code: the product name (if given),
    ``(01) {gtin}``, ``(10) {lot}`` (if given), ``(21) {serial}`` (GS1 human-readable
    interpretation, in the order of the element strings) and the verify line."""
    head = (product,) if product else ()
    middle = (f"(10) {lot}",) if lot else ()
    return (*head, f"(01) {unit.gtin}", *middle, f"(21) {unit.serial}", VERIFY_LINE)


def sscc_label(base_url: str, sscc: str) -> Label:
    """Return the label of a carton or pallet: its GS1 Digital Link ``{base}/00/{sscc}``
    (unsigned: a container is no unit, its units' own labels carry the signatures), the
    SSCC as ``(00) {sscc}`` and "Logistic unit · 物流单元".

    Raises:
        BadSsccError: ``sscc`` is not a valid SSCC.
    """
    from ledger.sscc import sscc_link

    return Label(sscc_link(base_url, sscc), (f"(00) {sscc}", SSCC_LINE))


def unit_label(base_url: str, unit: UnitId, signature: str) -> Label:
    """Return the outer label of ``unit`` from the brand's label signature; its QR code
    holds the compact form of the label URI (`compact_label_uri`).

    Raises:
        GS1Error: a malformed or too long base URL, or ``unit`` is not a `UnitId`.
        EncodingError: ``signature`` is not base64url of 64 bytes.
    """
    return Label(compact_label_uri(base_url, unit, signature), unit_lines(unit))


def claim_uri(base_url: str, unit: UnitId, code: str) -> str:
    """Return ``{base}/01/{gtin14}/21/{serial}?claim={code}``, code in canonical text.

    Raises:
        GS1Error: a malformed base URL or longer than `MAX_BASE_URL_LENGTH` (field
            ``base_url``), or ``unit`` is not a `UnitId` (field ``unit``).
        ValidationError: the claim code is malformed (field ``code``).
    """
    if not isinstance(base_url, str) or len(base_url.removesuffix("/")) > MAX_BASE_URL_LENGTH:
        raise GS1Error(
            f"a label base URL has at most {MAX_BASE_URL_LENGTH} characters", field="base_url"
        )
    if not isinstance(unit, UnitId):
        raise GS1Error("expected a UnitId", field="unit")
    canonical = claimcode.normalize_claim_code(code)
    link = format_digital_link(base_url, unit.gtin, unit.serial)
    return f"{link}?{CLAIM_PARAMETER}={canonical}"


def claim_label(unit: UnitId, code: str, uri: str) -> Label:
    """Return the inner claim-code label: QR of ``uri``, the code, serial, claim line.

    Raises:
        ValidationError: the claim code is malformed (field ``code``).
    """
    canonical = claimcode.normalize_claim_code(code)
    return Label(uri, (canonical, f"(21) {unit.serial}", CLAIM_LINE))


def prepare_unit(
    base_url: str,
    unit: UnitId,
    key: Ed25519PrivateKey,
    *,
    claim_base_url: str | None = None,
) -> UnitLabels:
    """Sign one unit, draw a fresh claim code and salt, and return what gets printed.

    Raises:
        GS1Error: a malformed or too long base URL, or ``unit`` is not a `UnitId`.
    """
    code = claimcode.new_claim_code()
    salt, digest = claimcode.claim_commitment(code, claimcode.new_salt())
    signature = sign_label(unit, key)
    return UnitLabels(
        unit=unit,
        uri=label_uri(base_url, unit, signature),
        qr_uri=compact_label_uri(base_url, unit, signature),
        claim_code=code,
        claim_uri=claim_uri(claim_base_url or base_url, unit, code),
        claim_salt=salt,
        claim_hash=digest,
    )


def prepare_units(
    base_url: str,
    units: Iterable[UnitId],
    key: Ed25519PrivateKey,
    *,
    claim_base_url: str | None = None,
) -> list[UnitLabels]:
    """Apply `prepare_unit` to each unit (signing is fast; rendering is the slow part).

    Raises:
        GS1Error: as `prepare_unit`.
    """
    return [prepare_unit(base_url, u, key, claim_base_url=claim_base_url) for u in units]
