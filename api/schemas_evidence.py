"""The JSON Schema of a reason's and a signal's ``evidence``, per code (OpenAPI only).

Each code's evidence is a closed object with the members ledger/verify/verdict.py,
ledger/verify/complete.py, ledger/label.py, ledger/signals/compute.py and
ledger/signals/reports.py give it (docs/SIGNALS.md describes the signals'); a code that
carries none has the empty object. `REASON_RULES` ties a reason's ``code`` to its
evidence (``if`` the code is this one, ``then`` the evidence is that shape), so a
schema-valid reason has the evidence of its own code.

Components are named ``Evidence<Code>`` (``EvidenceRevokedHandler``); the schemas here
name each other by ``{LINK: name}`` markers, which api.schemas turns into ``$ref``.
"""

from __future__ import annotations

from typing import Any

from ledger.vocab import ReasonCode, SignalCode

#: the marker api.schemas replaces by a ``$ref`` to the component it names
LINK = "x-component"
_INT = {"type": "integer", "minimum": 0}
_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": _STR}
_BY_KEY = {"type": "object", "additionalProperties": _STR}


def _closed(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "additionalProperties": False,
        "properties": {**required, **(optional or {})},
    }


_NONE = _closed({})
_SCAN = _closed({"at": _STR, "place": _STR_OR_NULL, "source": _STR_OR_NULL})
_PLACES = {
    "type": "array",
    "items": _closed({"place": _STR, "source": {"type": "string", "enum": ["header", "hint"]},
                      "scans": _INT}),
}  # fmt: skip
_SALES = _closed({"sales": _INT, "last_sold": _STR_OR_NULL})
_REPORTS = _closed(
    {
        "open": _INT,
        "reasons": _STRINGS,
        "clients": _INT,
        "networks": _INT,
        "days": _INT,
        "first": _STR_OR_NULL,
        "last": _STR_OR_NULL,
        "min_reporters": _INT,
        "min_days": _INT,
    }
)
_ENTRY = _closed({}, {"index": _INT})  # the entry at fault, when one is

#: each code's evidence; a code not named here carries none (the empty object)
EVIDENCE: dict[str, dict[str, Any]] = {
    ReasonCode.RESOLD: _SALES,
    ReasonCode.RETURNED_AFTER_SALE: _SALES,
    ReasonCode.CONSUMED: _closed({"at": _STR}),
    ReasonCode.FLAGGED: _closed({"flags": {"type": "integer", "minimum": 1}}),
    ReasonCode.REVOKED_HANDLER: _closed({"actors": _STRINGS}, {"since": _BY_KEY}),
    ReasonCode.HELD_BY_REVOKED: _closed({"actors": _STRINGS}),
    ReasonCode.REPORTED: _REPORTS,
    ReasonCode.REPORT_UNDER_REVIEW: _REPORTS,
    ReasonCode.RECOVERED_KEY: _closed({"keys": _STRINGS, "effective": _BY_KEY}),
    ReasonCode.KEY_COMPROMISED: _closed({"keys": _STRINGS, "since": _BY_KEY}),
    ReasonCode.LABEL_MISMATCH: _closed(
        {
            "field": {"type": "string", "enum": ["lot", "expiry"]},
            "label": _STR_OR_NULL,
            "unit": _STR_OR_NULL,
        }
    ),
    ReasonCode.LABEL_UNSIGNED: _closed({"signed": {"const": False}}),
    ReasonCode.LEAF_HASH_INVALID: _ENTRY,
    ReasonCode.PROOF_INVALID: _ENTRY,
    ReasonCode.SIGNATURE_INVALID: _ENTRY,
    ReasonCode.CHAIN_BROKEN: _ENTRY,
    ReasonCode.CHAIN_INCOMPLETE: _closed({}, {"committed": _INT}),
    SignalCode.POST_CLAIM_SCANS: _closed(
        {
            "claimed_at": _STR,
            "scans": _INT,
            "clients": _INT,
            "places": _PLACES,
            "first": _SCAN,
            "last": _SCAN,
        }
    ),
    SignalCode.IMPOSSIBLE_TRAVEL: _closed(
        {
            "from": _SCAN,
            "to": _SCAN,
            "km": _INT,
            "minutes": _INT,
            "kmh": _INT,
            "limit_kmh": _INT,
            "scans": _INT,
            "clients": _INT,
        }
    ),
    SignalCode.MANY_SCANNERS: _closed(
        {
            "scanners": _INT,
            "clients": _INT,
            "networks": _INT,
            "limit": _INT,
            "scans": _INT,
            "from": _STR,
            "to": _STR,
            "unproven_owner_scans": _INT,
            "places": _PLACES,
        }
    ),
    SignalCode.SERIAL_PROBING: _closed(
        {
            "gtin": _STR,
            "serials": _INT,
            "scans": _INT,
            "first": _STR,
            "last": _STR,
            "examples": _STRINGS,
            "limit": _INT,
        }
    ),
}
CODES: tuple[str, ...] = (*ReasonCode, *SignalCode)


def component_name(code: str) -> str:
    """``revoked-handler`` -> ``EvidenceRevokedHandler``."""
    return "Evidence" + "".join(part.capitalize() for part in code.split("-"))


def evidence_of(code: str) -> dict[str, Any]:
    """The schema of ``code``'s evidence (the empty object for a code that has none)."""
    return EVIDENCE.get(code, _NONE)


def rules(codes: tuple[str, ...]) -> list[dict[str, Any]]:
    """``allOf`` members tying each of ``codes`` to its evidence: if ``code`` is this
    one, then ``evidence`` is its shape."""
    return [
        {
            "if": {"required": ["code"], "properties": {"code": {"const": str(code)}}},
            "then": {"properties": {"evidence": {LINK: component_name(code)}}},
        }
        for code in codes
    ]


def any_evidence(codes: tuple[str, ...]) -> dict[str, Any]:
    """The schema of the evidence of any of ``codes`` (the ``evidence`` member itself;
    the rules pick the one of its code)."""
    return {"anyOf": [{LINK: component_name(code)} for code in codes]}


def components() -> dict[str, dict[str, Any]]:
    """Every code's evidence schema, by component name."""
    return {component_name(code): evidence_of(code) for code in CODES}
