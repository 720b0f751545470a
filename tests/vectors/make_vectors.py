"""Regenerate the golden vectors in this folder from fixed seeds.

Run ``make vectors`` (or ``python tests/vectors/make_vectors.py``) after a deliberate
format change; ``tests/unit/test_vectors.py`` fails whenever the files and this script
disagree. docs/FORMAT.md quotes these bytes in its worked example.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger import claimcode, codec, crypto, entry, events, merkle, note

HERE = Path(__file__).resolve().parent
ORIGIN = "provenance.example/log"
GTIN = "09506000134352"


def seed(name: str) -> bytes:
    """A fixed 32-byte seed: SHA-256 of a name."""
    return hashlib.sha256(f"provenance-ledger test vector {name}".encode()).digest()


def _events(operator: str, brand_key: str, claim_hash: str, salt: str) -> list[dict[str, Any]]:
    t = "2026-11-28T09:00:00Z"
    unit = {"gtin": GTIN, "serial": "A/B%&+?1"}
    return [
        {
            "kind": "actor.register",
            "actor": operator,
            "time": t,
            "subject": "acme",
            "role": "brand",
            "name": "Acme Footwear Ltd",
            "keys": [brand_key],
            "prefixes": ["9506000"],
            "documents": codec.b64url_encode(seed("licence")),
        },
        {"kind": "product.register", "actor": "acme", "time": t, "gtin": GTIN, "name": "Runner 42"},
        {
            "kind": "commission",
            "actor": "acme",
            "time": t,
            "unit": unit,
            "prev": None,
            "lot": "L2026-11",
            "expiry": "281130",
            "claim": {"salt": salt, "hash": claim_hash},
        },
        {"kind": "handoff", "actor": "acme", "time": t, "unit": unit, "prev": "", "to": "ship-co"},
    ]


def build() -> dict[str, bytes]:
    """Return {file name: exact bytes} of every golden vector file."""
    operator_key = crypto.private_key_from_seed(seed("operator"))
    log_key = crypto.private_key_from_seed(seed("log"))  # signs checkpoints only
    brand_key = crypto.private_key_from_seed(seed("brand"))
    salt = seed("claim salt")[:16]
    claim_code = claimcode.encode_claim_code(seed("claim code")[:10])
    claim_hash = hashlib.sha256(salt + claim_code.encode()).digest()
    raw = _events(
        "operator",
        crypto.public_key_to_b64(brand_key.public_key()),
        codec.b64url_encode(claim_hash),
        codec.b64url_encode(salt),
    )
    signers = [operator_key, brand_key, brand_key, brand_key]
    entries: list[dict[str, Any]] = []
    leaf_hashes: list[bytes] = []
    chain = entry.ZERO_HASH
    previous_event: bytes | None = None
    for i, (data, signer) in enumerate(zip(raw, signers, strict=True)):
        if data.get("prev") == "":
            data["prev"] = codec.b64url_encode(previous_event or b"")
        # format 2: every event is signed for this log (its checkpoint origin)
        signed = entry.sign_event(events.event_from_dict(data), signer, log=ORIGIN)
        previous_event = signed.hash
        leaf = entry.Leaf.build(signed, datetime(2026, 11, 28, 9, 0, i + 1, tzinfo=UTC))
        chain = entry.chain_hash(chain, leaf.hash)
        leaf_hashes.append(leaf.hash)
        entries.append(
            {
                "index": i,
                "event_canonical": signed.event_bytes.decode(),
                "signed_message_hex": signed.message.hex(),
                "event_hash": codec.b64url_encode(signed.hash),
                "leaf": leaf.data.decode(),
                "leaf_hash_hex": leaf.hash.hex(),
                "chain_hex": chain.hex(),
            }
        )
    size = len(leaf_hashes)
    tree_root = merkle.root(leaf_hashes)
    signer = note.Signer(ORIGIN, log_key)
    checkpoint = note.sign_checkpoint(note.Checkpoint(ORIGIN, size, tree_root), signer)
    golden = {
        "seeds_hex": {n: seed(n).hex() for n in ("operator", "brand", "log")},
        "keys": {
            "operator": {
                "public": crypto.public_key_to_b64(operator_key.public_key()),
                "key_id": crypto.key_id(operator_key.public_key()),
            },
            "log": {
                "public": crypto.public_key_to_b64(log_key.public_key()),
                "key_id": crypto.key_id(log_key.public_key()),
                "verifier_key": signer.verifier.to_text(),
            },
            "acme": {
                "public": crypto.public_key_to_b64(brand_key.public_key()),
                "key_id": crypto.key_id(brand_key.public_key()),
            },
        },
        "claim": {"code": claim_code, "salt": codec.b64url_encode(salt)},
        "origin": ORIGIN,
        "entries": entries,
        "root_hex": tree_root.hex(),
        "inclusion_proof_3_of_4": [h.hex() for h in merkle.inclusion_proof(leaf_hashes, 3, size)],
        "consistency_proof_2_to_4": [h.hex() for h in merkle.consistency_proof(leaf_hashes, 2, 4)],
        "checkpoint": checkpoint.decode(),
    }
    text = json.dumps(golden, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return {"golden.json": text.encode(), "checkpoint.txt": checkpoint}


def main() -> None:
    """Write the vector files next to this script."""
    for name, data in build().items():
        (HERE / name).write_bytes(data)
        print(f"wrote {HERE / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
