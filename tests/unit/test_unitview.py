"""ledger.verify.unitview.verify_unit_view: a served unit view as a client re-checks it.

A view built from a scripted log (leaves, proofs, a checkpoint signed by the log's key)
keeps its verdict; a changed leaf, a leaf with a recomputed hash, a checkpoint under
another key, a dropped or emptied proof, a dropped entry and an unknown signer each make
it ``invalid`` with the reason of the check that failed.
"""

from __future__ import annotations

import copy
from typing import Any

from ledger import codec, crypto, merkle, note
from ledger.entry import Leaf
from ledger.events import ActorRegister
from ledger.verify.unitview import signers_of, verify_unit_view
from tests.factories import GTIN, key
from tests.rules_factories import NOW, SERIAL, base

ORIGIN = "test.example/view-log"
LOG = note.Signer(ORIGIN, key(1))
LOG_KEY = LOG.verifier.to_text()
OTHER_LOG_KEY = note.Signer(ORIGIN, key(9)).verifier.to_text()


def _served() -> tuple[dict[str, Any], dict[str, str]]:
    """The view of SERIAL after a handoff and a receive, and the signers' keys."""
    world = base()
    world.accept(world.on_unit("handoff", "acme", to="ship-co"))
    world.accept(world.on_unit("receive", "ship-co"))
    leaves = [Leaf.build(s, NOW) for s in world.log]
    hashes = [leaf.hash for leaf in leaves]
    size = len(hashes)
    checkpoint = note.sign_checkpoint(note.Checkpoint(ORIGIN, size, merkle.root(hashes)), LOG)
    mine = [
        i
        for i, leaf in enumerate(leaves)
        if getattr(getattr(leaf.signed.event, "unit", None), "serial", None) == SERIAL
    ]
    entries = [
        {
            "index": i,
            "leaf": codec.b64url_encode(leaves[i].data),
            "leaf_hash": codec.b64url_encode(hashes[i]),
            "proof": [codec.b64url_encode(h) for h in merkle.inclusion_proof(hashes, i, size)],
            "event": leaves[i].signed.event.to_dict(),
        }
        for i in mine
    ]
    keys = {
        crypto.key_id(crypto.public_key_from_b64(k)): k
        for leaf in leaves
        if isinstance(leaf.signed.event, ActorRegister)
        for k in leaf.signed.event.keys
    }
    view = {
        "verdict": "genuine",
        "reasons": [
            {"code": "verified", "message": "every entry checks", "evidence": {}, "text": "ok"}
        ],
        "unit": {"gtin": GTIN, "serial": SERIAL},
        "entries": entries,
        "checkpoint": checkpoint.decode(),
    }
    return view, keys


VIEW, KEYS = _served()


def view() -> dict[str, Any]:
    """A fresh copy of the good view."""
    return copy.deepcopy(VIEW)


def codes(result: Any) -> set[str]:
    return {r["code"] for r in result.reasons}


def test_a_good_view_keeps_its_verdict_and_reasons() -> None:
    result = verify_unit_view(view(), LOG_KEY, KEYS)
    assert result.ok
    assert result.verdict == "genuine"
    assert result.checked == 3
    assert result.reasons == [{"code": "verified", "message": "every entry checks", "evidence": {}}]
    assert signers_of(VIEW) == {"acme", "ship-co"}


def test_an_unknown_unit_has_nothing_to_check() -> None:
    empty = {"verdict": "unknown", "reasons": [], "entries": [], "checkpoint": None}
    result = verify_unit_view(empty, LOG_KEY, {})
    assert (result.ok, result.verdict, result.checked) == (True, "unknown", 0)


def test_a_changed_leaf_is_invalid() -> None:
    tampered = view()
    leaf = bytearray(codec.b64url_decode(tampered["entries"][1]["leaf"]))
    leaf[-1] ^= 1
    tampered["entries"][1]["leaf"] = codec.b64url_encode(bytes(leaf))
    result = verify_unit_view(tampered, LOG_KEY, KEYS)
    assert (result.ok, result.verdict) == (False, "invalid")
    assert "leaf-hash-invalid" in codes(result)


def test_a_changed_leaf_with_its_hash_recomputed_is_not_proven() -> None:
    tampered = view()
    leaf = bytearray(codec.b64url_decode(tampered["entries"][1]["leaf"]))
    leaf[-1] ^= 1
    tampered["entries"][1]["leaf"] = codec.b64url_encode(bytes(leaf))
    tampered["entries"][1]["leaf_hash"] = codec.b64url_encode(merkle.leaf_hash(bytes(leaf)))
    result = verify_unit_view(tampered, LOG_KEY, KEYS)
    assert result.verdict == "invalid"
    assert "proof-invalid" in codes(result)


def test_a_checkpoint_under_another_key_is_invalid() -> None:
    result = verify_unit_view(view(), OTHER_LOG_KEY, KEYS)
    assert result.verdict == "invalid"
    assert codes(result) == {"checkpoint-invalid"}


def test_a_missing_checkpoint_is_invalid() -> None:
    tampered = view()
    tampered["checkpoint"] = None
    assert codes(verify_unit_view(tampered, LOG_KEY, KEYS)) == {"checkpoint-invalid"}


def test_an_emptied_or_dropped_proof_is_invalid() -> None:
    emptied = view()
    emptied["entries"][0]["proof"] = []
    result = verify_unit_view(emptied, LOG_KEY, KEYS)
    assert result.verdict == "invalid"
    assert "proof-invalid" in codes(result)
    dropped = view()
    del dropped["entries"][2]["proof"]
    result = verify_unit_view(dropped, LOG_KEY, KEYS)
    assert result.verdict == "invalid"
    assert codes(result) == {"proof-invalid"}
    assert result.reasons[0]["evidence"] == {"index": VIEW["entries"][2]["index"]}


def test_a_dropped_entry_breaks_the_chain() -> None:
    tampered = view()
    del tampered["entries"][1]
    result = verify_unit_view(tampered, LOG_KEY, KEYS)
    assert result.verdict == "invalid"
    assert codes(result) == {"chain-broken"}


def test_a_signer_the_client_does_not_trust_is_invalid() -> None:
    acme = Leaf.from_bytes(codec.b64url_decode(VIEW["entries"][0]["leaf"])).signed.key
    acme_only = {acme: KEYS[acme]}  # the receive is signed by ship-co
    result = verify_unit_view(view(), LOG_KEY, acme_only)
    assert result.verdict == "invalid"
    assert codes(result) == {"signature-invalid"}
