"""Golden vectors in tests/vectors/: reproducible, and checkable without ledger code."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.vectors import make_vectors

VECTORS = Path(make_vectors.__file__).resolve().parent


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_regenerating_reproduces_the_files() -> None:
    for name, data in make_vectors.build().items():
        assert (VECTORS / name).read_bytes() == data, f"{name} differs; run make vectors"


def test_golden_bytes_check_out_with_plain_hashlib_and_cryptography() -> None:
    """Re-derive every hash and signature from docs/FORMAT.md, without ledger imports."""
    golden = json.loads((VECTORS / "golden.json").read_text())
    keys = {name: _b64url(k["public"]) for name, k in golden["keys"].items()}
    chain = bytes(32)
    leaf_hashes = []
    for item in golden["entries"]:
        leaf = json.loads(item["leaf"])
        event_bytes = item["event_canonical"].encode()
        assert json.loads(event_bytes) == leaf["event"]
        assert leaf["v"] == 2  # format 2: the message names the log (FORMAT.md section 3)
        origin = golden["origin"].encode()
        message = b"provenance-ledger/v2 event\n" + origin + b"\n" + event_bytes
        assert message.hex() == item["signed_message_hex"]
        signer = "operator" if leaf["event"]["actor"] == "operator" else "acme"
        Ed25519PublicKey.from_public_bytes(keys[signer]).verify(_b64url(leaf["sig"]), message)
        assert (
            base64.urlsafe_b64encode(hashlib.sha256(keys[signer]).digest()[:16])
            .rstrip(b"=")
            .decode()
            == leaf["key"]
        )
        event_hash = hashlib.sha256(message).digest()
        assert _b64url(item["event_hash"]) == event_hash
        leaf_hash = hashlib.sha256(b"\x00" + item["leaf"].encode()).digest()
        assert leaf_hash.hex() == item["leaf_hash_hex"]
        chain = hashlib.sha256(chain + leaf_hash).digest()
        assert chain.hex() == item["chain_hex"]
        leaf_hashes.append(leaf_hash)
    handoff = json.loads(golden["entries"][3]["event_canonical"])
    assert handoff["prev"] == golden["entries"][2]["event_hash"]

    def node(a: bytes, b: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + a + b).digest()

    l0, l1, l2, l3 = leaf_hashes
    root = node(node(l0, l1), node(l2, l3))
    assert root.hex() == golden["root_hex"]
    assert golden["inclusion_proof_3_of_4"] == [l2.hex(), node(l0, l1).hex()]
    assert golden["consistency_proof_2_to_4"] == [node(l2, l3).hex()]
    body, _, signature_line = golden["checkpoint"].partition("\n\n")
    assert body.split("\n") == [golden["origin"], "4", base64.b64encode(root).decode()]
    assert golden["origin"] == "provenance.example/log"
    name, blob = signature_line.removeprefix("\u2014 ").strip().split(" ")
    raw = base64.b64decode(blob)
    log = keys["log"]  # the log key signs checkpoints, never the operator's registry key
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + log).digest()[:4]
    Ed25519PublicKey.from_public_bytes(log).verify(raw[4:], (body + "\n").encode())
