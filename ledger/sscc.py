"""GS1 SSCC (AI 00): the Serial Shipping Container Code of a carton or a pallet.

An SSCC is 18 digits: an extension digit, a GS1 company prefix and a serial reference
(17 digits together), then a mod-10 check digit computed like a GTIN's (GS1 General
Specifications section 7.9.1, weights 3, 1, 3, ... from the right). It names one
logistic unit; the ledger records what is packed in it (docs/FORMAT.md, "Containers").

Accepted spellings (`parse_sscc`): the 18 digits; ``(00)`` followed by them, as printed
under a barcode; the EPC URN ``urn:epc:id:sscc:{prefix}.{ext+serial ref}`` (EPC Tag Data
Standard 2.x section 6.3.2, with or without the check digit dropped); a GS1 Digital Link
URI ``{base}/00/{sscc}``. Every form is checked, check digit included, and returned as
the 18 digits. No I/O.
"""

from __future__ import annotations

import re

from ledger.errors import GS1Error
from ledger.gs1 import gtin_check_digit

SSCC_LENGTH = 18
URN_PREFIX = "urn:epc:id:sscc:"

_SSCC = re.compile(r"[0-9]{18}")
_URN = re.compile(r"urn:epc:id:sscc:([0-9]{6,12})\.([0-9]{5,11})")
_LINK = re.compile(r"https?://[^/?#]+(?:/[^?#]*)?/00/([0-9]{18})/?(?:\?[^#]*)?")


class BadSsccError(GS1Error):
    """An SSCC is not 18 digits or its check digit is wrong."""

    code = "bad-sscc"


def sscc_check_digit(body: str) -> int:
    """Return the mod-10 check digit of the first 17 digits of an SSCC.

    Raises:
        BadSsccError: ``body`` is not 17 digits (field ``sscc``).
    """
    if not isinstance(body, str) or not re.fullmatch(r"[0-9]{17}", body):
        raise BadSsccError("an SSCC body is 17 digits", field="sscc")
    return gtin_check_digit(body)


def validate_sscc(value: object, field: str = "sscc") -> str:
    """Return ``value`` if it is an 18-digit SSCC with the right check digit.

    Raises:
        BadSsccError: not 18 ASCII digits, or the check digit is wrong (field ``field``).
    """
    if not isinstance(value, str) or not _SSCC.fullmatch(value):
        raise BadSsccError("expected an SSCC: 18 digits", field=field)
    expected = gtin_check_digit(value[:17])
    if int(value[17]) != expected:
        raise BadSsccError(
            f"SSCC {value} has check digit {value[17]}, expected {expected}", field=field
        )
    return value


def looks_like_sscc(text: str) -> bool:
    """True if ``text`` is spelled like an SSCC (any accepted form, check digit not
    verified): a scan list line to read as a container, not as a unit."""
    text = text.strip()
    return bool(
        _SSCC.fullmatch(text)
        or (text.startswith("(00)") and _SSCC.fullmatch(text[4:]))
        or text.startswith(URN_PREFIX)
        or _LINK.fullmatch(text)
    )


def parse_sscc(text: str, field: str = "sscc") -> str:
    """Return the 18-digit SSCC that ``text`` spells (module docstring's forms).

    Raises:
        BadSsccError: no accepted form, or a wrong check digit (field ``field``).
    """
    if not isinstance(text, str):
        raise BadSsccError("expected an SSCC", field=field)
    text = text.strip()
    if text.startswith("(00)"):
        return validate_sscc(text[4:], field)
    urn = _URN.fullmatch(text)
    if urn is not None:
        prefix, rest = urn.groups()
        if len(prefix) + len(rest) != 17:
            raise BadSsccError("an SSCC URN holds 17 digits after the prefix", field=field)
        body = rest[0] + prefix + rest[1:]
        return body + str(gtin_check_digit(body))
    link = _LINK.fullmatch(text)
    if link is not None:
        return validate_sscc(link.group(1), field)
    return validate_sscc(text, field)


def sscc_urn(sscc: str, prefix_length: int = 7) -> str:
    """Return the EPC pure identity URN ``urn:epc:id:sscc:{prefix}.{ext}{serial ref}``.

    The company prefix length is not written in the SSCC itself; ``prefix_length``
    (6 to 12, default 7) says where to split it.

    Raises:
        BadSsccError: ``sscc`` is not a valid SSCC or ``prefix_length`` is out of range.
    """
    validate_sscc(sscc)
    if not 6 <= prefix_length <= 12:
        raise BadSsccError("a company prefix has 6 to 12 digits", field="prefix_length")
    prefix = sscc[1 : 1 + prefix_length]
    return f"{URN_PREFIX}{prefix}.{sscc[0]}{sscc[1 + prefix_length : 17]}"


def sscc_path(sscc: str) -> str:
    """Return the GS1 Digital Link path ``/00/{sscc}`` of a container's label.

    Raises:
        BadSsccError: ``sscc`` is not a valid SSCC.
    """
    return f"/00/{validate_sscc(sscc)}"


def sscc_link(base_url: str, sscc: str) -> str:
    """Return the Digital Link URI ``{base_url}/00/{sscc}`` (no trailing slash on base).

    Raises:
        BadSsccError: ``sscc`` is not a valid SSCC.
    """
    return base_url.rstrip("/") + sscc_path(sscc)
