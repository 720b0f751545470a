"""The map of heads' worked example (tests/vectors/map.json, docs/FORMAT.md section 14),
checked the way an independent client would: plain hashlib from the written definition,
without ledger.map; and the file is what make_map_vectors.py writes today."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ledger.map import proof
from tests.vectors import make_map_vectors

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "map.json").read_text())


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def bit(key: bytes, i: int) -> int:
    return (key[i // 8] >> (7 - i % 8)) & 1


def test_keys_and_leaves_from_the_definition() -> None:
    for leaf in VECTORS["leaves"]:
        if "unit" in leaf:
            gtin, serial = leaf["unit"].split("/")
            key = sha(
                b"provenance-ledger/map/unit/v1\x00" + gtin.encode() + b"\x00" + serial.encode()
            )
        else:
            key = sha(b"provenance-ledger/map/actor/v1\x00" + leaf["actor"].encode())
        assert key.hex() == leaf["key_hex"]
        value = leaf["index"].to_bytes(8, "big") + bytes.fromhex(leaf["entry_hash_hex"])
        assert sha(b"\x00" + key + value).hex() == leaf["leaf_hash_hex"]


def _root(leaves: list[tuple[bytes, bytes]], depth: int = 0) -> bytes:
    if not leaves:
        return bytes(32)
    if len(leaves) == 1:
        return leaves[0][1]
    left = [x for x in leaves if not bit(x[0], depth)]
    right = [x for x in leaves if bit(x[0], depth)]
    return sha(b"\x01" + _root(left, depth + 1) + _root(right, depth + 1))


def test_the_root_from_the_definition() -> None:
    leaves = [
        (bytes.fromhex(x["key_hex"]), bytes.fromhex(x["leaf_hash_hex"])) for x in VECTORS["leaves"]
    ]
    assert _root(leaves).hex() == VECTORS["root_hex"]


def _fold(key: bytes, data: bytes) -> tuple[bytes, bytes | None]:
    """(root, leaf key or None) by reading the proof bytes by hand."""
    assert data[0] == 1
    depth = int.from_bytes(data[2:4], "big")
    at = 4 + (depth + 7) // 8
    bitmap = data[4:at]
    siblings = []
    for i in range(depth):
        if bitmap[i // 8] & (0x80 >> (i % 8)):
            siblings.append(data[at : at + 32])
            at += 32
        else:
            siblings.append(bytes(32))
    leaf_key = None
    running = bytes(32)
    if data[1] == 1:
        leaf_key = data[at : at + 32]
        running = sha(b"\x00" + data[at : at + 72])
    for i in reversed(range(depth)):
        pair = siblings[i] + running if bit(key, i) else running + siblings[i]
        running = sha(b"\x01" + pair)
    return running, leaf_key


def test_the_two_proofs_by_hand_and_by_the_verifier() -> None:
    root = bytes.fromhex(VECTORS["root_hex"])
    member = VECTORS["membership"]
    key = bytes.fromhex(member["key_hex"])
    data = bytes.fromhex(member["proof_hex"])
    assert _fold(key, data) == (root, key)
    head = proof.verify(root, key, data)
    assert head is not None and head.index == 10
    absent = VECTORS["absence"]
    key = bytes.fromhex(absent["key_hex"])
    data = bytes.fromhex(absent["proof_hex"])
    assert _fold(key, data) == (root, None)
    assert proof.verify(root, key, data) is None


def test_the_file_is_what_the_script_writes() -> None:
    assert json.loads(json.dumps(make_map_vectors.vectors(), indent=2)) == VECTORS
