"""The brand signature on a QR label, and its offline verification.

What it does: defines the bytes a brand signs for a printed unit label, builds the
label URI (a GS1 Digital Link with the signature in query parameter ``s``) and checks
a scanned URI against the brand's public key(s), with no network (docs/FORMAT.md
section 8):

    label_message = gtin14 || "\\n" || serial || "\\n"              (ASCII)
    sig           = Ed25519-Sign(brand key, DOMAIN_LABEL || label_message)
    label URI     = {base}/01/{gtin14}/21/{percent-encoded serial}?s={base64url(sig)}

The GTIN is always 14 digits and a serial (GS1 character set 82) holds no newline, so
the message names exactly one unit and no two units share one. The domain prefix
``provenance-ledger/v1 label\\n`` keeps a label signature from ever passing as an event
signature, and the other way round.

The signature covers the unit identity only: not the host, nor any lot, expiry or other
parameter. So a label binds to its unit in two ways: the signature over the identity,
and the commission in the log, which records the unit's lot and expiry. A lot
(``/10/``) or expiry (``?17=``) in a scanned URI must be the commission's, else the
label is refused (`check_binding`, ``label-mismatch``); query parameters the label did
not sign (WeChat's ``from=singlemessage&isappinstalled=0``, ``utm_*``) are ignored and
change nothing (`ScannedLabel.from_link`). A valid signature proves that the brand
issued this unit identity; it cannot prove that the label is not a copy (clone
detection does that).

The label carries no key id (22 more characters would push long URIs past QR version
10): the verifier tries each of the brand's keys it knows.

The QR symbol holds the same unit and signature in a compact form (`compact_label_uri`):
scheme and host upper-cased (they are case-insensitive, RFC 3986 section 6.2.2.1), the
serial in its compact spelling (`ledger.gs1.compact_serial`) and the same 64 signature
bytes as 155 decimal digits, so that a QR encoder can put all of it but ``?s=`` in
alphanumeric and numeric segments (``qr.segments``): version 7 or below at level M for a
12-character host and any serial of up to 16 characters, where the base64url form needs
version 8 to 10. `verify_label_signature` reads both
forms of ``s``: labels printed before carry base64url.

What it does not do: no QR rendering (``qr/``), no I/O, no clock reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ledger import crypto
from ledger.codec import b64url_decode, b64url_encode
from ledger.crypto import Ed25519PrivateKey, Ed25519PublicKey
from ledger.errors import (
    EncodingError,
    GS1Error,
    KeyFormatError,
    LabelMismatchError,
    SignatureError,
)
from ledger.gs1 import (
    DigitalLink,
    UnitId,
    compact_serial,
    format_digital_link,
    parse_digital_link,
)
from ledger.vocab import LabelState

SIGNATURE_PARAM = "s"
#: The longest base URL (scheme, host, optional path prefix, no trailing slash) of a
#: label. With it, the longest label URI (a 20-character serial that is all
#: percent-escapes) is 213 characters, the byte-mode capacity of a version 10 QR code
#: at error correction M (ISO/IEC 18004:2015 table 7).
MAX_BASE_URL_LENGTH = 42
MAX_LABEL_URI_LENGTH = 213
#: decimal digits of a 64-byte signature in the compact form (2**512 has 155 digits)
COMPACT_SIGNATURE_DIGITS = 155

__all__ = [
    "COMPACT_SIGNATURE_DIGITS",
    "MAX_BASE_URL_LENGTH",
    "MAX_LABEL_URI_LENGTH",
    "SIGNATURE_PARAM",
    "ScannedLabel",
    "check_binding",
    "compact_label_uri",
    "decode_label_signature",
    "label_message",
    "label_uri",
    "sign_label",
    "signed_label_uri",
    "verify_label",
    "verify_label_signature",
]


def label_message(unit: UnitId) -> bytes:
    """Return the bytes signed for a unit label (without the domain prefix).

    ``gtin14 "\\n" serial "\\n"`` in ASCII; `crypto.sign` prepends ``DOMAIN_LABEL``.

    Raises:
        GS1Error: ``unit`` is not a `UnitId` (field ``unit``).
    """
    if not isinstance(unit, UnitId):
        raise GS1Error("expected a UnitId", field="unit")
    return f"{unit.gtin}\n{unit.serial}\n".encode("ascii")


def sign_label(unit: UnitId, key: Ed25519PrivateKey) -> str:
    """Return the brand's label signature for ``unit`` as unpadded base64url (86 chars).

    Raises:
        GS1Error: ``unit`` is not a `UnitId`.
    """
    return b64url_encode(crypto.sign(key, crypto.DOMAIN_LABEL, label_message(unit)))


def _check_label_base(base_url: str) -> None:
    if not isinstance(base_url, str) or len(base_url.removesuffix("/")) > MAX_BASE_URL_LENGTH:
        raise GS1Error(
            f"a label base URL has at most {MAX_BASE_URL_LENGTH} characters, so that the "
            "QR code stays at version 10 or below",
            field="base_url",
        )


def label_uri(base_url: str, unit: UnitId, signature: str) -> str:
    """Return the label URI ``{base}/01/{gtin14}/21/{serial}?s={signature}``.

    Raises:
        GS1Error: the base URL is malformed or longer than `MAX_BASE_URL_LENGTH`
            (field ``base_url``), or ``unit`` is not a `UnitId` (field ``unit``).
        EncodingError: ``signature`` is not base64url of 64 bytes (field ``s``).
    """
    _check_label_base(base_url)
    if not isinstance(unit, UnitId):
        raise GS1Error("expected a UnitId", field="unit")
    b64url_decode(signature, field=SIGNATURE_PARAM, size=crypto.SIGNATURE_SIZE)
    query = ((SIGNATURE_PARAM, signature),)
    return format_digital_link(base_url, unit.gtin, unit.serial, query=query)


def compact_label_uri(base_url: str, unit: UnitId, signature: str) -> str:
    """Return the label URI in the form a QR symbol holds, ``HTTPS://{HOST}`` upper-cased,
    then the path with the serial in its compact spelling (`ledger.gs1.compact_serial`),
    then ``?s=`` and the signature in decimal.

    ``HTTPS://ID.ACME.CN/01/09506000134352/21/SN-000001?s=0123...`` (155 digits),
    ``.../21/$S$N-1$8?s=...`` for serial ``sn-1/``: the same unit, the same signature
    bytes; only their spelling differs, and every character but ``?s=`` fits QR
    alphanumeric or numeric mode. A path prefix keeps its case. ``signature`` is the
    base64url of `sign_label` or the decimal form itself.

    Raises:
        GS1Error: as `label_uri`.
        SignatureError: ``signature`` is neither form of 64 bytes (field ``s``).
    """
    _check_label_base(base_url)
    if not isinstance(unit, UnitId):
        raise GS1Error("expected a UnitId", field="unit")
    raw = decode_label_signature(signature)
    link = format_digital_link(base_url, unit.gtin) + "/21/" + compact_serial(unit.serial)
    scheme, _, rest = link.partition("://")
    host, slash, path = rest.partition("/")
    digits = str(int.from_bytes(raw, "big")).zfill(COMPACT_SIGNATURE_DIGITS)
    return f"{scheme.upper()}://{host.upper()}{slash}{path}?{SIGNATURE_PARAM}={digits}"


def decode_label_signature(text: str) -> bytes:
    """Return the 64 signature bytes of a label's ``s``: canonical unpadded base64url
    (86 characters, every label printed before the compact form) or exactly 155 ASCII
    decimal digits of a number below 2**512 (`compact_label_uri`). Each signature has
    exactly one text in each form.

    Raises:
        SignatureError: neither form, or not 64 bytes (field ``s``).
    """
    if isinstance(text, str) and len(text) == COMPACT_SIGNATURE_DIGITS:
        if not (text.isascii() and text.isdigit()):
            raise SignatureError(
                "a label signature of 155 characters is 155 decimal digits", field=SIGNATURE_PARAM
            )
        value = int(text)
        if value >> (8 * crypto.SIGNATURE_SIZE):
            raise SignatureError("the label signature is not 64 bytes", field=SIGNATURE_PARAM)
        return value.to_bytes(crypto.SIGNATURE_SIZE, "big")
    try:
        return b64url_decode(text, field=SIGNATURE_PARAM, size=crypto.SIGNATURE_SIZE)
    except EncodingError as e:
        raise SignatureError(
            f"the label signature is not base64url of 64 bytes ({e.message})",
            field=SIGNATURE_PARAM,
        ) from e


def signed_label_uri(base_url: str, unit: UnitId, key: Ed25519PrivateKey) -> str:
    """Sign ``unit`` with the brand key and return its label URI.

    Raises:
        GS1Error: as `label_uri`.
    """
    return label_uri(base_url, unit, sign_label(unit, key))


def _key_list(keys: Ed25519PublicKey | Iterable[Ed25519PublicKey]) -> list[Ed25519PublicKey]:
    found = [keys] if isinstance(keys, Ed25519PublicKey) else list(keys)
    if not found or not all(isinstance(k, Ed25519PublicKey) for k in found):
        raise KeyFormatError("expected one or more Ed25519 public keys", field="key")
    return found


def verify_label_signature(
    unit: UnitId, signature: str, keys: Ed25519PublicKey | Iterable[Ed25519PublicKey]
) -> Ed25519PublicKey:
    """Check a label signature on ``unit``; return the brand key that made it.

    Steps: (1) the signature is 64 bytes in canonical base64url or in the compact
    decimal form (`decode_label_signature`); (2) it verifies over
    ``DOMAIN_LABEL || label_message(unit)`` under one of ``keys`` (tried in order).

    Raises:
        SignatureError: the signature is malformed, truncated or verifies under none of
            the keys (field ``s``).
        KeyFormatError: ``keys`` is empty or holds something else than public keys.
        GS1Error: ``unit`` is not a `UnitId`.
    """
    candidates = _key_list(keys)
    message = label_message(unit)
    raw = decode_label_signature(signature)  # (1)
    for key in candidates:  # (2)
        try:
            crypto.verify(key, crypto.DOMAIN_LABEL, message, raw)
        except SignatureError:
            continue
        return key
    raise SignatureError("the label signature is not the brand's", field=SIGNATURE_PARAM)


@dataclass(frozen=True)
class ScannedLabel:
    """What a URI scanned at the resolver says about its label, beyond the unit identity:
    the brand signature (``s``), and the lot (AI 10) and expiry (AI 17) it shows, which
    must be the unit's commission (`check_binding`). Hashable: a view cache key."""

    signature: str | None = None
    lot: str | None = None
    expiry: str | None = None

    @classmethod
    def from_link(cls, link: DigitalLink) -> ScannedLabel:
        """The label of a parsed Digital Link: its path's lot, its AI 17, its one ``s``.

        Every other query parameter is ignored: the label did not sign it, and apps add
        their own (WeChat's ``from`` and ``isappinstalled``, ``utm_*`` campaign tags), so
        none may change what the label says.

        Raises:
            GS1Error: ``s`` appears more than once (field ``query``): which one the brand
                signed is ambiguous.
        """
        found = [value for name, value in link.query if name == SIGNATURE_PARAM]
        if len(found) > 1:
            raise GS1Error("a label carries one signature s, not several", field="query")
        return cls(signature=found[0] if found else None, lot=link.lot, expiry=link.expiry)


def check_binding(scanned: ScannedLabel, lot: str | None, expiry: str | None) -> None:
    """Check that the lot and expiry a scanned label shows are the unit's commission.

    ``lot`` and ``expiry`` are what the unit's ``commission`` recorded (None: nothing). A
    label showing no lot or no expiry shows nothing wrong; a label showing one the unit
    was not commissioned with (or that the commission left out) is a relabelled or
    forged label: the signature does not cover them, so the log is what binds them.

    Raises:
        LabelMismatchError: the label's lot or expiry differs (field ``lot`` or
            ``expiry``; the lot is checked first).
    """
    for field, shown, recorded in (("lot", scanned.lot, lot), ("expiry", scanned.expiry, expiry)):
        if shown is not None and shown != recorded:
            raise LabelMismatchError(
                f"the label shows {field} {shown!r}; the unit was commissioned with "
                + (repr(recorded) if recorded is not None else f"no {field}"),
                field=field,
            )


def scanned_state(
    scanned: ScannedLabel | None,
    signature: str | None,
    signed_by_brand: Callable[[str], bool],
    commission: tuple[str | None, str | None] | None,
) -> tuple[LabelState, dict[str, Any]]:
    """The state of a label and the evidence of its reason, the same for the resolver
    and for a client that checks a scanned URL (first match wins): a signature that
    ``signed_by_brand`` refuses (``invalid``), a lot or expiry that is not the
    ``commission``'s (lot, expiry) (``mismatch``), a label scanned without a signature
    (``unsigned``), a good signature (``valid``); no label at all (``absent``).

    ``scanned`` is the label of a scanned URI (None: an API query naming ``signature``
    alone, which is never ``unsigned`` nor a mismatch); ``commission`` None: the log has
    no such unit.
    """
    if scanned is not None:
        signature = scanned.signature
    if signature is None and scanned is None:
        return LabelState.ABSENT, {}
    if commission is None:
        return LabelState.INVALID if signature is not None else LabelState.ABSENT, {}
    if signature is not None and not signed_by_brand(signature):
        return LabelState.INVALID, {}
    if scanned is not None:
        try:
            check_binding(scanned, *commission)
        except LabelMismatchError as e:
            field = e.field or "lot"
            shown = scanned.lot if field == "lot" else scanned.expiry
            recorded = commission[0] if field == "lot" else commission[1]
            return LabelState.MISMATCH, {"field": field, "label": shown, "unit": recorded}
        if signature is None:
            return LabelState.UNSIGNED, {"signed": False}
    return LabelState.VALID, {}


#: ``verify_label``'s default: the unit's commission is not known to the caller
_UNKNOWN: tuple[str | None, str | None] | None = None


def verify_label(
    uri: str,
    brand_public_key: Ed25519PublicKey | Iterable[Ed25519PublicKey],
    *,
    commission: tuple[str | None, str | None] | None = _UNKNOWN,
) -> DigitalLink:
    """Check a scanned label URI offline; return the parsed link when the brand signed it.

    Steps (docs/FORMAT.md section 8.2):
        (1) parse the GS1 Digital Link (`parse_digital_link`);
        (2) require ``/01/{gtin}[/10/{lot}]/21/{serial}``: no consumer product variant;
        (3) read the label (`ScannedLabel.from_link`): exactly one ``s``; every other
            query parameter is ignored;
        (4) a lot or expiry must be the unit's: ``commission`` is its (lot, expiry) from
            the log (`check_binding`); without it, a URI showing either is refused, as
            it cannot be checked here;
        (5) verify the signature over the unit identity (`verify_label_signature`).

    Raises:
        GS1Error: the URI is not a label URI (fields as `parse_digital_link`, or
            ``path`` / ``query``; a lot or expiry with no commission to check it).
        LabelMismatchError: the lot or expiry is not the commission's.
        SignatureError: the signature is missing, malformed, truncated, or not made by
            any of the given keys (field ``s``).
        KeyFormatError: no public key was given.
    """
    link = parse_digital_link(uri)  # (1)
    if link.cpv is not None:  # (2)
        raise GS1Error("a label URI is /01/{gtin}[/10/{lot}]/21/{serial}", field="path")
    unit = link.unit_id()
    scanned = ScannedLabel.from_link(link)  # (3)
    if commission is None:  # (4)
        if scanned.lot is not None or scanned.expiry is not None:
            raise GS1Error(
                "a lot or expiry can only be checked against the unit's commission",
                field="lot" if scanned.lot is not None else "expiry",
            )
    else:
        check_binding(scanned, *commission)
    if scanned.signature is None:
        raise SignatureError("the label carries no signature", field=SIGNATURE_PARAM)
    verify_label_signature(unit, scanned.signature, brand_public_key)  # (5)
    return link
