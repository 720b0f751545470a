"""JSON Schemas (draft 2020-12) of every ``provenance --json`` output, quoted in docs/CLI.md.

The CLI tests validate each command's ``--json`` output against these; docs/CLI.md
quotes them, so a change here is a change to the documented interface.
"""

from __future__ import annotations

from typing import Any

B64URL = "^[A-Za-z0-9_-]+$"
UNIT = "^[0-9]{14}/[!-~]{1,20}$"
VERDICTS = ["genuine", "caution", "unknown", "invalid"]
_NULLABLE_INDEX = {"type": ["integer", "null"], "minimum": 0}
_INDEX = {"type": "integer", "minimum": 0}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly ``properties``, all required."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


KEY = _object(
    {
        "file": {"type": "string"},
        "key_id": {"type": "string", "pattern": B64URL},
        "public_key": {"type": "string", "pattern": B64URL},
    }
)
"""``keys new``, ``keys show``."""

KEY_EXPORT = _object(
    {
        "public_key": {"type": "string", "pattern": B64URL},
        "key_id": {"type": "string", "pattern": B64URL},
    }
)
"""``keys export``."""

INIT = _object(
    {
        "database": {"type": "string"},
        "operator_key": {"type": "string"},
        "log_key": {"type": "string"},
        "verifier_key": {"type": "string", "pattern": r"^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$"},
        "size": {"type": "integer", "minimum": 1},
    }
)
"""``init``."""

RECEIPT = _object(
    {
        "receipts": {
            "type": "array",
            "minItems": 1,
            "items": _object(
                {
                    "index": _INDEX,
                    "leaf_hash": {"type": "string", "pattern": B64URL},
                    "event_hash": {"type": "string", "pattern": B64URL},
                    "duplicate": {"type": "boolean"},
                }
            ),
        },
        "size": {"type": "integer", "minimum": 1},
        "checkpoint": {
            "type": "string",
            "pattern": "^[^\\n]+\\n[0-9]+\\n[A-Za-z0-9+/=]+\\n([^\\n]+\\n)*\\n",
        },
    }
)
"""Every write: ``actor register|revoke``, ``authorize grant|revoke``, ``product register``,
``handoff``, ``receive``, ``inspect``, ``sell``, ``deliver``, ``return``, ``recall``,
``decommission``."""

ACTOR = _object(
    {
        "id": {"type": "string"},
        "role": {"type": "string"},
        "name": {"type": "string"},
        "prefixes": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]+$"}},
        "registered_index": _INDEX,
        "revoked_index": _NULLABLE_INDEX,
        "keys": {
            "type": "array",
            "items": _object(
                {
                    "key_id": {"type": "string", "pattern": B64URL},
                    "public_key": {"type": "string", "pattern": B64URL},
                    "added_index": _INDEX,
                    "removed_index": _NULLABLE_INDEX,
                    "scope": {"type": "array", "items": {"type": "string"}},
                    "recovered_index": _NULLABLE_INDEX,
                    "effective": {"type": ["string", "null"]},
                    "compromised_since": {"type": ["string", "null"]},
                }
            ),
        },
        "recoveries": {
            "type": "array",
            "items": _object(
                {
                    "key_id": {"type": "string", "pattern": B64URL},
                    "public_key": {"type": "string", "pattern": B64URL},
                    "recovered_index": _INDEX,
                    "effective": {"type": "string"},
                }
            ),
        },
        "registry": _object(
            {
                "checkpoint": {"type": "string"},
                "map_proof": {"type": ["string", "null"], "pattern": B64URL},
                "entries": {"type": "array", "items": {"type": "object"}},
            }
        ),
    }
)
"""``actor show``: the facts, and their proof (``registry``, docs/FORMAT.md 14)."""

MINT = _object(
    {
        "units": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": UNIT}},
        "files": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    }
)
"""``mint``: the units commissioned and the files written (the manifest first)."""

LABEL = _object(
    {
        "files": {"type": "array", "items": {"type": "string"}},
        "uris": {"type": "array", "items": {"type": "string", "pattern": "^https?://"}},
    }
)
"""``label``."""

REASON = _object(
    {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "evidence": {"type": "object"},
    }
)

#: the checkpoint's trusted time, its age and who dated it (null: not checked)
_DATED = {
    "checkpoint_time": {"type": ["integer", "null"], "minimum": 0},
    "checkpoint_age": {"type": ["integer", "null"], "minimum": 0},
    "dated_by": {"type": ["string", "null"]},
    # dated by the log's own time line alone: no evidence against a dishonest log
    "self_dated": {"type": ["boolean", "null"]},
}

VERIFY = _object(
    {
        "unit": {"type": "string", "pattern": UNIT},
        "verdict": {"enum": VERDICTS},
        "reasons": {"type": "array", "items": REASON},
        "checked_locally": {"type": "integer", "minimum": 0},
        "complete_at": {"type": ["integer", "null"], "minimum": 0},
        **_DATED,
        "served_verdict": {"type": "string"},
        "disagreement": {"type": ["string", "null"]},
        "hints": {"type": "array", "items": {"type": "object"}},
        "versions": {
            "oneOf": [
                {"type": "null"},
                _object({"format_from": _NULLABLE_INDEX, "rules_from": _NULLABLE_INDEX}),
            ]
        },
        "entries": {
            "type": "array",
            "items": _object(
                {
                    "index": _INDEX,
                    "kind": {"type": "string"},
                    "actor": {"type": "string"},
                    "time": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$"},
                }
            ),
        },
    }
)
"""``verify``."""

AUDIT = _object(
    {
        "ok": {"type": "boolean"},
        "entries": {"type": "integer", "minimum": 0},
        "checkpoints": {"type": "integer", "minimum": 0},
        "first_bad_index": _NULLABLE_INDEX,
        "findings": {
            "type": "array",
            "items": _object(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "index": _NULLABLE_INDEX,
                    "evidence": {"type": "object"},
                }
            ),
        },
    }
)
"""``audit``: ``ok`` is true exactly when ``findings`` is empty."""

DEMO = _object(
    {
        "stories": {
            "type": "array",
            "minItems": 1,
            "items": _object(
                {"story": {"type": "string"}, "url": {"type": "string", "pattern": "^https?://"}}
            ),
        },
        "database": {"type": "string"},
        "labels": {"type": "string"},
        "console": {
            "type": "array",
            "minItems": 2,
            "items": _object(
                {
                    "url": {"type": "string", "pattern": "^https?://.*/console/$"},
                    "user": {"type": "string"},
                    "password": {"type": "string", "minLength": 12},
                }
            ),
        },
    }
)
"""``demo``."""

EXPORT_EPCIS = _object({"file": {"type": "string"}, "events": {"type": "integer", "minimum": 0}})
"""``export epcis --out FILE``."""

_COUNT = {"type": "integer", "minimum": 0}
_MS = {"type": "number", "minimum": 0}

HAMMER = _object(
    {
        "acked": _COUNT,
        "lost": _COUNT,
        "duplicates": _COUNT,
        "forks": _COUNT,
        "inconsistent_checkpoints": _COUNT,
        "kills": _COUNT,
        "p50_ms": _MS,
        "p99_ms": _MS,
        "bad_proofs": _COUNT,
        "audit_ok": {"type": "boolean"},
        "database": {"enum": ["sqlite", "postgresql", "server"]},
        "workers": {"type": "integer", "minimum": 1},
        "seconds": _MS,
        "log_size": _COUNT,
        "conflicts": _COUNT,
        "refused": _COUNT,
        "retries": _COUNT,
        "in_doubt": _COUNT,
        "races": _COUNT,
        "reads": _COUNT,
        "consistency_proofs": _COUNT,
        "checkpoints_seen": _COUNT,
        "anomalies": {"type": "array", "items": {"type": "string"}},
    }
)
"""``hammer``: the first eight fields are the promise; exit 1 when lost, duplicates,
forks, inconsistent_checkpoints or bad_proofs is not 0, or audit_ok is false."""
_TIME = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$"}
_NULLABLE_TIME = {"type": ["string", "null"], "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_NULLABLE_SECONDS = {"type": ["integer", "null"], "minimum": 0}
_UNIT_REF = _object(
    {
        "gtin": {"type": "string", "pattern": "^[0-9]{14}$"},
        "serial": {"type": "string"},
        "path": {"type": "string", "pattern": "^/01/[0-9]{14}/21/"},
    }
)

CLAIM = _object(
    {
        "unit": {"type": "string", "pattern": UNIT},
        "index": _INDEX,
        "checkpoint": {"type": "string"},
        "transfer_code": {"type": "string", "pattern": "^([0-9A-Z]{4}-){4}[0-9A-Z]$"},
        "owner_token": {"type": "string", "pattern": B64URL},
        "resale": {"type": "boolean"},
    }
)
"""``claim``: the transfer code and owner token are shown this once."""

REPORT = _object(
    {
        "id": {"type": "integer", "minimum": 1},
        "unit": _UNIT_REF,
        "brand": _NULLABLE_TEXT,
        "reason": {
            "enum": [
                "counterfeit",
                "already-claimed",
                "label-mismatch",
                "damaged",
                "seller",
                "other",
            ]
        },
        "text": _NULLABLE_TEXT,
        "where": _NULLABLE_TEXT,
        "photo": {"type": "boolean"},
        "created_at": _TIME,
        "status": {"enum": ["open", "closed", "flagged"]},
        "first_response_at": _NULLABLE_TIME,
        "resolved_at": _NULLABLE_TIME,
        "resolved_by": _NULLABLE_TEXT,
        "note": _NULLABLE_TEXT,
        "flag_index": _NULLABLE_INDEX,
    }
)
"""``alerts --resolve``: the answered report."""

ALERTS = _object(
    {
        "brand": {"type": "string"},
        "generated": _TIME,
        "signals": {
            "type": "array",
            "items": _object(
                {
                    "unit": {"anyOf": [_UNIT_REF, {"type": "null"}]},
                    "code": {
                        "enum": [
                            "post-claim-scans",
                            "impossible-travel",
                            "many-scanners",
                            "serial-probing",
                        ]
                    },
                    "evidence": {"type": "object"},
                }
            ),
        },
        "reports": {"type": "array", "items": REPORT},
        "response": _object(
            {
                "open": {"type": "integer", "minimum": 0},
                "answered": {"type": "integer", "minimum": 0},
                "median_seconds": _NULLABLE_SECONDS,
                "max_seconds": _NULLABLE_SECONDS,
            }
        ),
    }
)
"""``alerts``: the brand's clone signals (``unit`` null for probing of a GTIN), reports
(open first), and how fast reports were first answered."""

EXPORT_BUNDLE = _object(
    {
        "file": {"type": "string"},
        "size": {"type": "integer", "minimum": 0},
        "checkpoints": {"type": "integer", "minimum": 0},
        "bytes": {"type": "integer", "minimum": 1},
    }
)
"""``export bundle``: the file written, its entries, checkpoints and bytes."""

_WITNESS_COUNTS = _object(
    {"configured": {"type": "integer", "minimum": 0}, "vouched": {"type": "integer", "minimum": 0}}
)

WITNESS_NEW = _object(
    {
        "file": {"type": "string"},
        "verifier_key": {"type": "string", "pattern": r"^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$"},
    }
)
"""``witness --new NAME``: the key file and the verifier key to give the log operator."""

WITNESS = _object(
    {
        "size": {"type": "integer", "minimum": 1},
        "old": {"type": "integer", "minimum": 0},
        "witness": {"type": "string"},
        "cosigned_by": {"type": "array", "items": {"type": "string"}},
        "witnesses": _WITNESS_COUNTS,
    }
)
"""``witness``: the size cosigned, the size it was checked against, the log's receipt."""

VERIFY_PROOF = _object(
    {
        "unit": {"type": "string", "pattern": UNIT},
        "verified": {"const": True},
        "size": {"type": "integer", "minimum": 1},
        "witnesses": {"type": "array", "items": {"type": "string"}},
        "entries": VERIFY["properties"]["entries"],
        "verdict": {"enum": VERDICTS},
        "reasons": {"type": "array", "items": REASON},
        "complete": {"type": "boolean"},
        **_DATED,
    }
)
"""``verify --proof FILE``: what the offline proof establishes (a failure exits 1)."""

_COUNT = {"type": "integer", "minimum": 0}
RETENTION = _object(
    {
        "deleted": _object(
            {
                kind: _COUNT
                for kind in (
                    "scans",
                    "owner_clients",
                    "photos",
                    "contacts",
                    "claim_attempts",
                    "report_quotas",
                    "salts",
                )
            }
        )
    }
)
"""``retention run``: rows deleted (or, for report fields, emptied) per kind."""

_LINE_OUTCOME = {"enum": ["appended", "duplicate", "refused"]}

SCAN_LIST = _object(
    {
        "kind": {"enum": ["handoff", "receive"]},
        "actor": {"type": "string"},
        "to": {"type": ["string", "null"]},
        "appended": {"type": "integer", "minimum": 0},
        "duplicates": {"type": "integer", "minimum": 0},
        "refused": {"type": "integer", "minimum": 0},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "line": {"type": "integer", "minimum": 1},
                    "text": {"type": "string"},
                    "unit": {"type": ["string", "null"]},
                    "outcome": _LINE_OUTCOME,
                    "index": _NULLABLE_INDEX,
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["line", "text", "unit", "outcome", "index"],
                "additionalProperties": False,
            },
        },
        "size": {"type": ["integer", "null"]},
        "checkpoint": {"type": ["string", "null"]},
    }
)
"""``handoff --from-file``, ``receive --from-file``: each line's outcome (``code`` and
``message`` only on refused lines), the counts, the log after the last batch (null when
nothing was sent)."""


def _units_of_actor(extra: str, *more: str) -> dict[str, Any]:
    """``{actor, units: [...]}`` whose units carry ``extra`` (another actor, or null)
    and the nullable strings ``more``."""
    item = {
        "gtin": {"type": "string", "pattern": "^[0-9]{14}$"},
        "serial": {"type": "string"},
        "lot": {"type": ["string", "null"]},
        "expiry": {"type": ["string", "null"]},
        extra: {"type": ["string", "null"]},
        "index": _INDEX,
        **{name: {"type": ["string", "null"]} for name in more},
    }
    return _object(
        {"actor": {"type": "string"}, "units": {"type": "array", "items": _object(item)}}
    )


INBOX = _units_of_actor("counterpart", "container")
"""``inbox``: each unit on its way to the actor; ``counterpart`` is its sender;
``container`` the SSCC of the outermost carton or pallet it is packed in (null: loose)."""

HOLDINGS = _units_of_actor("pending", "container")
"""``holdings``: each unit the actor holds; ``pending``: the recipient of its open transfer;
``container``: the SSCC of the outermost carton or pallet it is packed in (null: loose)."""

ACTOR_LIST = _object(
    {
        "actors": {
            "type": "array",
            "items": _object(
                {
                    "id": {"type": "string"},
                    "role": {"type": "string"},
                    "name": {"type": "string"},
                    "revoked": {"type": "boolean"},
                }
            ),
        }
    }
)
"""``actor list``."""

CONTAINER = _object(
    {
        "kind": {"enum": ["pack", "unpack", "handoff", "receive", "inspect"]},
        "container": {"type": "string", "pattern": "^[0-9]{18}$"},
        "actor": {"type": "string"},
        "to": {"type": ["string", "null"]},
        "appended": {"type": "integer", "minimum": 0},
        "duplicates": {"type": "integer", "minimum": 0},
        "duplicate": {"type": "boolean"},
        "units": {
            "type": "array",
            "items": _object(
                {
                    "unit": {"type": "string", "pattern": UNIT},
                    "index": _INDEX,
                    "duplicate": {"type": "boolean"},
                }
            ),
        },
        "receipts": RECEIPT["properties"]["receipts"] | {"minItems": 0},
        "size": {"type": ["integer", "null"], "minimum": 1},
        "checkpoint": {"type": ["string", "null"]},
    }
)
"""``pack``, ``unpack``, and ``handoff``/``receive``/``inspect`` of an SSCC: one entry
per unit, one batch (``duplicate``: nothing appended, every unit already done)."""

SCHEMAS: dict[str, dict[str, Any]] = {
    "keys": KEY,
    "keys export": KEY_EXPORT,
    "init": INIT,
    "receipt": RECEIPT,
    "actor show": ACTOR,
    "mint": MINT,
    "label": LABEL,
    "verify": VERIFY,
    "audit": AUDIT,
    "demo": DEMO,
    "export epcis": EXPORT_EPCIS,
    "hammer": HAMMER,
    "claim": CLAIM,
    "alerts": ALERTS,
    "report": REPORT,
    "export bundle": EXPORT_BUNDLE,
    "witness new": WITNESS_NEW,
    "witness": WITNESS,
    "verify proof": VERIFY_PROOF,
    "retention run": RETENTION,
    "scan list": SCAN_LIST,
    "inbox": INBOX,
    "holdings": HOLDINGS,
    "actor list": ACTOR_LIST,
    "container": CONTAINER,
}
"""Every schema by the name docs/CLI.md gives it."""
