"""Small factories for tests: fixed keys, valid events of every kind."""

from __future__ import annotations

from typing import Any

from ledger import codec, crypto

GTIN = "09506000134352"
HASH = codec.b64url_encode(bytes(range(32)))
TIME = "2026-11-28T12:00:00Z"


def key(seed_byte: int) -> crypto.Ed25519PrivateKey:
    """A deterministic private key from a one-byte seed."""
    return crypto.private_key_from_seed(bytes([seed_byte]) * 32)


#: the seed of the test logs' log key (it signs their checkpoints; the operator, seed 1,
#: signs the genesis and claims): no actor of the tests uses it
LOG_SEED = 250


def tampered(token: str) -> str:
    """``token`` (base64url: a MAC, a signature) with its last two characters changed,
    always to a different, still canonical value (a fixed "AA" equals the original about
    once in a thousand draws)."""
    return token[:-2] + ("QA" if token.endswith("AA") else "AA")


def public_b64(seed_byte: int) -> str:
    """The base64url public key of `key(seed_byte)`."""
    return crypto.public_key_to_b64(key(seed_byte).public_key())


def unit(serial: str = "SN-0001") -> dict[str, str]:
    """A unit reference under the test GTIN."""
    return {"gtin": GTIN, "serial": serial}


def valid_events() -> dict[str, dict[str, Any]]:
    """One valid event dict per kind, with every optional field present."""
    on_unit = {"unit": unit(), "prev": HASH, "place": "Shanghai DC 3"}
    base = {"actor": "acme", "time": TIME}
    raw: dict[str, dict[str, Any]] = {
        "actor.register": {
            **base,
            "actor": "operator",
            "subject": "acme",
            "role": "brand",
            "name": "Acme Ltd",
            "keys": [public_b64(2)],
            "prefixes": ["9506000"],
            "documents": HASH,
        },
        "log.upgrade": {**base, "actor": "operator", "format": 2, "rules": 2},
        "actor.revoke": {
            **base,
            "actor": "operator",
            "subject": "acme",
            "reason": "licence lapsed",
        },
        "key.rotate": {
            **base,
            "subject": "acme",
            "add": [public_b64(3)],
            "remove": ["A" * 22],
            "scope": ["mint", "flag"],
            "compromised_since": "2026-11-27T12:00:00Z",
        },
        "key.recover": {
            **base,
            "actor": "operator",
            "subject": "acme",
            "key": public_b64(3),
            "effective": "2026-12-05T12:00:00Z",
            "reason": "lost every key; identity checked in person",
        },
        "key.recover.cancel": {**base, "subject": "acme", "key": "A" * 22, "reason": "not us"},
        "authorize": {
            **base,
            "partner": "ship-co",
            "role": "courier",
            "gtins": [GTIN],
            "prefixes": ["9506000"],
            "not_before": TIME,
            "not_after": "2027-11-28T12:00:00.000Z",
        },
        "authorization.revoke": {**base, "authorization": HASH, "reason": "contract ended"},
        "product.register": {**base, "gtin": GTIN, "name": "Acme Sneaker 42"},
        "commission": {
            **base,
            "unit": unit(),
            "prev": None,
            "lot": "LOT-7",
            "expiry": "271231",
            "claim": {"salt": codec.b64url_encode(bytes(16)), "hash": HASH},
        },
        "handoff": {**base, **on_unit, "to": "ship-co"},
        "receive": {**base, **on_unit, "actor": "ship-co"},
        "inspect": {**base, **on_unit, "result": "pass", "note": "seal intact"},
        "sell": {**base, **on_unit},
        "deliver": {**base, **on_unit},
        "claim": {
            **base,
            **on_unit,
            "actor": "registry",
            "code": "ABCD-EFGH-JKMN-PQRS-T",
            "owner": HASH,
        },
        "return": {**base, **on_unit, "to": "acme", "reason": "wrong size"},
        "recall": {**base, **on_unit, "reason": "battery fault"},
        "decommission": {**base, **on_unit, "reason": "destroyed"},
        "flag": {**base, **on_unit, "code": "suspected-counterfeit", "note": "seen twice"},
        "consume": {
            **base,
            **on_unit,
            "actor": "registry",
            "owner_token": codec.b64url_encode(bytes(range(16))),
        },
        "pack": {
            **base,
            **on_unit,
            "container": "095060000000000022",
            "inner": "095060000000000015",
        },
        "unpack": {**base, **on_unit, "container": "095060000000000022"},
    }
    return {kind: {"kind": kind, **fields} for kind, fields in raw.items()}
