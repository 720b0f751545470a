"""The JSON Schema of the EPCIS 2.0 document the resolver answers for
``Accept: application/ld+json`` (ledger.epcis.export; docs/EPCIS.md). OpenAPI only.

Closed where the exporter's output is closed: the document, each event (ObjectEvent or
AggregationEvent) with its ``pl:`` extension members, the party lists. The EPCIS
vocabulary itself (bizStep, disposition) is the table in ledger.epcis.vocab.
"""

from __future__ import annotations

from typing import Any

from ledger.epcis.vocab import CONTEXT, EXT, TABLE

REF = "#/components/schemas/"
_STRING = {"type": "string"}


def _party(member: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", member],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": ["owning_party", "possessing_party"]},
            member: {"type": "string", "pattern": "^urn:provenance-ledger:actor:"},
        },
    }


def _event(kind: str) -> dict[str, Any]:
    """An ObjectEvent (``epcList``) or an AggregationEvent (``parentID``, ``childEPCs``)."""
    shapes = [s for s in TABLE if s.type == kind]
    properties: dict[str, Any] = {
        "type": {"type": "string", "const": kind},
        "eventID": {"type": "string", "pattern": "^ni:///sha-256;[A-Za-z0-9_-]{43}$"},
        "eventTime": _STRING,
        "eventTimeZoneOffset": {"type": "string", "const": "+00:00"},
        "recordTime": _STRING,
        "action": {"type": "string", "enum": sorted({s.action for s in shapes})},
        "bizStep": {"type": "string", "enum": sorted({s.biz_step for s in shapes})},
        "disposition": {
            "type": "string",
            "enum": sorted({s.disposition for s in shapes if s.disposition}),
        },
        "sourceList": {"type": "array", "items": _party("source")},
        "destinationList": {"type": "array", "items": _party("destination")},
        EXT + "index": {"type": "integer", "minimum": 0},
        EXT + "leafHash": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
        EXT + "kind": {"type": "string", "enum": sorted({s.kind for s in shapes})},
        EXT + "actor": {"type": "string", "pattern": "^urn:provenance-ledger:actor:"},
        EXT + "prev": _STRING,
        EXT + "place": _STRING,
    }
    required = ["type", "eventID", "eventTime", "eventTimeZoneOffset", "recordTime"]
    required += ["action", "bizStep", EXT + "index", EXT + "leafHash", EXT + "kind", EXT + "actor"]
    if kind == "AggregationEvent":
        properties["parentID"] = _STRING
        properties["childEPCs"] = {"type": "array", "items": _STRING, "minItems": 1}
        properties[EXT + "inner"] = _STRING
        required += ["parentID", "childEPCs"]
    else:
        properties["epcList"] = {"type": "array", "items": _STRING, "minItems": 1}
        properties["ilmd"] = {
            "type": "object",
            "required": ["cbvmda:lotNumber"],
            "additionalProperties": False,
            "properties": {"cbvmda:lotNumber": _STRING},
        }
        for name in ("note", "reason", "code", "expiry"):
            properties[EXT + name] = _STRING
        required.append("epcList")
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


EPCIS_DOCUMENT: dict[str, Any] = {
    "description": "the unit's chain as an EPCIS 2.0 document (docs/EPCIS.md)",
    "type": "object",
    "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
    "additionalProperties": False,
    "properties": {
        "@context": {"type": "array", "const": CONTEXT},
        "type": {"type": "string", "const": "EPCISDocument"},
        "schemaVersion": {"type": "string", "const": "2.0"},
        "creationDate": _STRING,
        "epcisBody": {
            "type": "object",
            "required": ["eventList"],
            "additionalProperties": False,
            "properties": {
                "eventList": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {"$ref": REF + "EpcisObjectEvent"},
                            {"$ref": REF + "EpcisAggregationEvent"},
                        ]
                    },
                }
            },
        },
        EXT + "checkpoint": _STRING,
    },
}


def components() -> dict[str, dict[str, Any]]:
    """The schemas this module adds to the document's components, by name."""
    return {
        "EpcisDocument": EPCIS_DOCUMENT,
        "EpcisObjectEvent": _event("ObjectEvent"),
        "EpcisAggregationEvent": _event("AggregationEvent"),
    }
