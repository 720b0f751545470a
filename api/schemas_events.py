"""The JSON Schema of every event kind, and of the signed write bodies (OpenAPI only).

`EVENT_SCHEMAS` holds one closed schema per kind (``additionalProperties: false``, the
kind's own fields with their encodings, required exactly when `ledger.events` requires
them); `EVENT` is their union, a ``oneOf`` discriminated on ``kind``, so a body valid
against the schema has the fields of its kind, each of the right form. What JSON Schema
cannot say (a GTIN's or an SSCC's check digit, a calendar date, who may sign what) the
server still refuses, as a problem. docs/FORMAT.md is the prose of the same fields.

Each field is described once by its name (`_FIELDS`); the few names that mean different
things in different kinds are in `_PER_KIND`. tests/unit/test_event_schemas.py holds this
table to `ledger.events.KINDS` (every field, every requirement) and to the parser.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from ledger.entry import FORMAT_2
from ledger.events import (
    ACTOR_ROLES,
    INSPECT_RESULTS,
    KEY_SCOPES,
    KINDS,
    LOG_VERSIONS,
    MAX_LIST,
    MAX_RECOVERY_WAIT,
    MAX_TEXT,
    MIN_RECOVERY_WAIT,
    PARTNER_ROLES,
)
from ledger.gs1 import CSET82, MAX_VALUE_LENGTH

#: the OpenAPI components this module defines, by name
REF = "#/components/schemas/"
#: last characters of canonical unpadded base64url with 2 or 4 trailing zero bits
_LAST_2 = "AEIMQUYcgkosw048"
_LAST_4 = "AQgw"


def b64(size: int) -> dict[str, Any]:
    """Canonical unpadded base64url of exactly ``size`` bytes (docs/FORMAT.md)."""
    full, rest = divmod(size, 3)
    body = f"[A-Za-z0-9_-]{{{4 * full}}}"
    if rest == 1:
        body += f"[A-Za-z0-9_-][{_LAST_4}]"
    elif rest == 2:
        body += f"[A-Za-z0-9_-]{{2}}[{_LAST_2}]"
    return {"type": "string", "pattern": f"^{body}$"}


def _string(pattern: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern, **extra}


def _enum(values: tuple[str, ...] | tuple[int, ...]) -> dict[str, Any]:
    kind = "integer" if all(isinstance(v, int) for v in values) else "string"
    return {"type": kind, "enum": list(values)}


def _list(item: dict[str, Any], least: int = 0) -> dict[str, Any]:
    return {
        "type": "array",
        "items": item,
        "minItems": least,
        "maxItems": MAX_LIST,
        "uniqueItems": True,
    }


_CSET82 = "".join("\\" + c if c in "\\]-^[" else c for c in sorted(CSET82))
TIME = _string(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}|\.[0-9]{6})?Z$",
    description="RFC 3339 UTC, seconds, optional milliseconds or microseconds",
    examples=["2026-11-28T12:00:00Z"],
)
ACTOR_ID = _string(r"^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$", examples=["acme"])
TEXT = _string(r"^[^\x00-\x1f\x7f]*$", minLength=1, maxLength=MAX_TEXT)
HASH = b64(32)
PUBLIC_KEY = b64(32)
KEY_ID = b64(16)
GTIN = _string("^[0-9]{14}$", description="GTIN-14 with its check digit")
SSCC = _string("^[0-9]{18}$", description="SSCC (AI 00) with its check digit")
SERIAL = _string(f"^[{_CSET82}]{{1,{MAX_VALUE_LENGTH}}}$", description="GS1 character set 82")
PREFIX = _string("^[0-9]{4,12}$", description="a GS1 company prefix")
UNIT: dict[str, Any] = {
    "type": "object",
    "required": ["gtin", "serial"],
    "additionalProperties": False,
    "properties": {"gtin": GTIN, "serial": SERIAL},
}
COMMITMENT: dict[str, Any] = {
    "type": "object",
    "required": ["salt", "hash"],
    "additionalProperties": False,
    "properties": {"salt": b64(16), "hash": HASH},
}

#: every field name and its schema (docs/FORMAT.md, section 2)
_FIELDS: dict[str, dict[str, Any]] = {
    "subject": ACTOR_ID,
    "role": _enum(ACTOR_ROLES),
    "name": TEXT,
    "keys": _list(PUBLIC_KEY, 1),
    "prefixes": _list(PREFIX, 1),
    "documents": HASH,
    "log_key": PUBLIC_KEY,
    "recovery_wait": {
        "type": "integer",
        "minimum": MIN_RECOVERY_WAIT,
        "maximum": MAX_RECOVERY_WAIT,
    },
    "format": _enum(LOG_VERSIONS),
    "rules": _enum(LOG_VERSIONS),
    "reason": TEXT,
    "since": TIME,
    "add": _list(PUBLIC_KEY),
    "remove": _list(KEY_ID),
    "scope": _list(_enum(KEY_SCOPES), 1),
    "compromised_since": TIME,
    "key": PUBLIC_KEY,
    "effective": TIME,
    "partner": ACTOR_ID,
    "gtins": _list(GTIN),
    "not_before": TIME,
    "not_after": TIME,
    "display": _enum(("name", "role")),
    "authorization": HASH,
    "gtin": GTIN,
    "name_zh": TEXT,
    "support": TEXT,
    "image": HASH,
    "unit": UNIT,
    "prev": HASH,
    "place": TEXT,
    "lot": SERIAL,
    "expiry": _string("^[0-9]{6}$", description="YYMMDD (AI 17)"),
    "claim": COMMITMENT,
    "to": ACTOR_ID,
    "result": _enum(INSPECT_RESULTS),
    "note": TEXT,
    "code": _string("^[0-9A-Z-]{16,64}$", description="the revealed claim code"),
    "owner": HASH,
    "transfer": COMMITMENT,
    "owner_token": b64(16),
    "container": SSCC,
    "inner": SSCC,
}
#: the names that mean something else in one kind
_PER_KIND: dict[tuple[str, str], dict[str, Any]] = {
    ("authorize", "role"): _enum(PARTNER_ROLES),
    ("authorize", "prefixes"): _list(PREFIX),
    ("key.recover.cancel", "key"): KEY_ID,
    ("commission", "prev"): {"type": "null", "description": "a commission starts the chain"},
    ("flag", "code"): _string("^[a-z0-9]+(-[a-z0-9]+)*$", maxLength=64, examples=["water-damage"]),
}


def component_name(kind: str) -> str:
    """The OpenAPI component of one kind's event: ``Event.key.rotate`` -> ``EventKeyRotate``."""
    return "Event" + "".join(part.capitalize() for part in kind.replace(".", "_").split("_"))


def _kind_schema(kind: str) -> dict[str, Any]:
    cls = KINDS[kind]
    names = ["kind", "actor", "time", *(n for n in cls.checks if n not in ("actor", "time"))]
    required = ["kind", *(f.name for f in fields(cls) if f.default is MISSING)]
    properties: dict[str, Any] = {
        "kind": {"type": "string", "const": kind},
        "actor": ACTOR_ID,
        "time": TIME,
    }
    for name in names[3:]:
        properties[name] = _PER_KIND.get((kind, name), _FIELDS[name])
    return {
        "title": kind,
        "description": " ".join((cls.__doc__ or "").split()),
        "type": "object",
        "required": sorted(required, key=names.index),
        "additionalProperties": False,
        "properties": properties,
    }


#: one closed schema per kind, by kind
EVENT_SCHEMAS: dict[str, dict[str, Any]] = {kind: _kind_schema(kind) for kind in KINDS}
#: the union of the kinds, discriminated on ``kind``
EVENT: dict[str, Any] = {
    "description": "a signed event: one of the kinds (docs/FORMAT.md section 2)",
    "oneOf": [{"$ref": REF + component_name(kind)} for kind in KINDS],
    "discriminator": {
        "propertyName": "kind",
        "mapping": {kind: REF + component_name(kind) for kind in KINDS},
    },
}
#: a write body: the event, the signer's key id and signature, and ``v`` for format 2
SIGNED_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "key", "sig"],
    "additionalProperties": False,
    "properties": {
        "event": {"$ref": REF + "Event"},
        "key": KEY_ID,
        "sig": b64(64),
        "v": {
            "type": "integer",
            "enum": [FORMAT_2],
            "description": "2: the signature names the log (format 2); absent: format 1",
        },
    },
}


def components() -> dict[str, dict[str, Any]]:
    """The schemas this module adds to the document's components, by name."""
    out = {component_name(kind): schema for kind, schema in EVENT_SCHEMAS.items()}
    out["Event"] = EVENT
    out["SignedEvent"] = SIGNED_EVENT
    return out
