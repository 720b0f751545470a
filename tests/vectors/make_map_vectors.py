"""Regenerate tests/vectors/map.json, the map of heads' worked example (docs/FORMAT.md 14).

Three units and one actor with fixed heads; the root, and a membership proof and an
absence proof with every intermediate hash, so that an independent client can check its
own implementation byte for byte. Run by ``make vectors``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.map import proof
from ledger.map.trie import Head, Trie, actor_key, leaf_hash, unit_key

HERE = Path(__file__).resolve().parent
GTIN = "09506000134352"
UNITS = ("SN-000001", "SN-000002", "SN-000003")


def _entry_hash(index: int) -> bytes:
    return hashlib.sha256(b"entry %d" % index).digest()


def vectors() -> dict[str, Any]:
    """The worked example, as written to map.json."""
    trie = Trie()
    rows = []
    for index, serial in enumerate(UNITS, start=1):
        key = unit_key(GTIN, serial)
        head = Head(index * 10, _entry_hash(index * 10))
        trie.set(key, head)
        rows.append({"unit": f"{GTIN}/{serial}", "key_hex": key.hex(), "head": head})
    actor = actor_key("acme")
    trie.set(actor, Head(1, _entry_hash(1)))
    rows.append({"actor": "acme", "key_hex": actor.hex(), "head": Head(1, _entry_hash(1))})
    absent = unit_key(GTIN, "SN-999999")
    member = unit_key(GTIN, UNITS[0])
    return {
        "note": "ledger/map/trie.py; docs/FORMAT.md section 14",
        "leaves": [
            {
                **{k: v for k, v in row.items() if k != "head"},
                "index": row["head"].index,
                "entry_hash_hex": row["head"].entry_hash.hex(),
                "leaf_hash_hex": leaf_hash(bytes.fromhex(row["key_hex"]), row["head"]).hex(),
            }
            for row in rows
        ],
        "root_hex": trie.root().hex(),
        "membership": {
            "unit": f"{GTIN}/{UNITS[0]}",
            "key_hex": member.hex(),
            "proof_hex": proof.encode(trie.path(member)).hex(),
        },
        "absence": {
            "unit": f"{GTIN}/SN-999999",
            "key_hex": absent.hex(),
            "proof_hex": proof.encode(trie.path(absent)).hex(),
        },
    }


def main() -> None:
    """Write map.json."""
    (HERE / "map.json").write_text(json.dumps(vectors(), indent=2) + "\n")


if __name__ == "__main__":
    main()
