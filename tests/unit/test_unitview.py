"""ledger.verify.unitview.verify_unit_view: a served unit view as a client re-checks it.

A view built from a scripted log (leaves, proofs, a checkpoint signed by the log's key)
gets its verdict recomputed from the proven chain (ledger.verify.recompute); a changed
leaf, a leaf with a recomputed hash, a checkpoint under another key, a dropped or
emptied proof, a dropped entry and an unknown signer each make it ``invalid`` with the
reason of the check that failed. A server that rewrites a sold unit's verdict to
``genuine`` is contradicted; a chain that breaks the rules is ``invalid``; signals stay
hints.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from ledger import codec, crypto, label, merkle, note
from ledger.entry import Leaf
from ledger.events import ActorRegister
from ledger.gs1 import UnitId
from ledger.rules.state import ActorRecord
from ledger.verify.recompute import Switch
from ledger.verify.unitview import signers_of, verify_unit_view
from tests.factories import GTIN, key, public_b64
from tests.rules_factories import NOW, ORIGIN, SERIAL, World, base

LOG = note.Signer(ORIGIN, key(1))
LOG_KEY = LOG.verifier.to_text()
OTHER_LOG_KEY = note.Signer(ORIGIN, key(9)).verifier.to_text()


def _served(
    world: World | None = None, verdict: str = "genuine"
) -> tuple[dict[str, Any], dict[str, str]]:
    """The view of SERIAL in ``world``'s log (default: after a handoff and a receive), as
    a server would serve it with ``verdict``, and the signers' keys."""
    if world is None:
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

    def proven(i: int) -> dict[str, Any]:
        return {
            "index": i,
            "leaf": codec.b64url_encode(leaves[i].data),
            "leaf_hash": codec.b64url_encode(hashes[i]),
            "proof": [codec.b64url_encode(h) for h in merkle.inclusion_proof(hashes, i, size)],
            "event": leaves[i].signed.event.to_dict(),
        }

    entries = [proven(i) for i in mine]
    # the log's switch: its genesis and its log.upgrade, if any, proven as the service does
    said = [i for i, leaf in enumerate(leaves) if i == 0 or leaf.signed.event.kind == "log.upgrade"]
    switch = Switch.from_entries([(i, leaves[i].signed.event) for i in said])
    keys = {
        crypto.key_id(crypto.public_key_from_b64(k)): k
        for leaf in leaves
        if isinstance(leaf.signed.event, ActorRegister)
        for k in leaf.signed.event.keys
    }
    view = {
        "verdict": verdict,
        "reasons": [
            {"code": "verified", "message": "every entry checks", "evidence": {}, "text": "ok"}
        ],
        "unit": {"gtin": GTIN, "serial": SERIAL},
        "entries": entries,
        "checkpoint": checkpoint.decode(),
        "versions": {
            "format_from": switch.format_from,
            "rules_from": switch.rules_from,
            "entries": [proven(i) for i in said],
        },
    }
    return view, keys


def facts(world: World) -> dict[str, ActorRecord]:
    """The actor facts a client would fetch (GET /v1/actors/{id}), from the world's state."""
    return dict(world.state.actors)


VIEW, KEYS = _served()


def view() -> dict[str, Any]:
    """A fresh copy of the good view."""
    return copy.deepcopy(VIEW)


def codes(result: Any) -> set[str]:
    return {r["code"] for r in result.reasons}


def test_a_good_view_gets_its_verdict_from_the_chain() -> None:
    result = verify_unit_view(view(), LOG_KEY, KEYS, facts(base()))
    assert result.ok
    assert result.verdict == "genuine" and result.disagreement is None
    assert result.checked == 3
    assert [r["code"] for r in result.reasons] == ["verified"]
    assert result.reasons[0]["message"] != "every entry checks"  # recomputed, not served
    assert signers_of(VIEW) == {"acme", "ship-co"}


def sold() -> World:
    """SERIAL handed to the shop, received and sold."""
    world = base()
    world.accept(world.on_unit("handoff", "acme", to="shop"))
    world.accept(world.on_unit("receive", "shop"))
    world.accept(world.on_unit("sell", "shop"))
    return world


def test_a_server_that_rewrites_a_sold_unit_to_genuine_is_contradicted() -> None:
    world = sold()
    lying, keys = _served(world, verdict="genuine")
    result = verify_unit_view(lying, LOG_KEY, keys, facts(world))
    assert result.ok and result.verdict == "caution"
    assert [r["code"] for r in result.reasons] == ["sold"]
    assert result.served_verdict == "genuine"
    assert result.disagreement == "server said genuine, the proven chain says caution"
    honest, _ = _served(world, verdict="caution")
    assert verify_unit_view(honest, LOG_KEY, keys, facts(world)).disagreement is None


def test_signals_are_hints_kept_apart() -> None:
    hinted = view()
    hinted["verdict"] = "caution"
    signal = {"code": "many-scanners", "message": "scanned by many", "evidence": {"n": 11}}
    hinted["reasons"] = [signal]
    result = verify_unit_view(hinted, LOG_KEY, KEYS, facts(base()))
    assert result.verdict == "genuine" and result.disagreement is None
    assert result.hints == ({**signal, "hint": True},)
    assert "many-scanners" not in codes(result)


def test_a_chain_that_breaks_the_rules_is_invalid() -> None:
    world = base()
    world.accept(world.on_unit("handoff", "acme", to="ship-co"))
    # The shop sells a unit it never held: signed with its real key, never accepted by
    # the rules, served by a lying log as if it had been.
    world.log.append(world.on_unit("sell", "shop"))
    lying, keys = _served(world, verdict="genuine")
    result = verify_unit_view(lying, LOG_KEY, keys, facts(world))
    assert result.verdict == "invalid" and codes(result) == {"chain-broken"}
    assert "not-custodian" in result.reasons[0]["message"]


def test_a_revoked_handler_and_a_label_are_judged_here() -> None:
    world = base()
    world.accept(world.on_unit("handoff", "acme", to="ship-co"))
    world.accept(world.on_unit("receive", "ship-co"))
    shown, keys = _served(world)
    revoked = facts(world)
    revoked["ship-co"] = replace(revoked["ship-co"], revoked_index=99)
    result = verify_unit_view(shown, LOG_KEY, keys, revoked)
    assert result.verdict == "caution" and "revoked-handler" in codes(result)
    brand_key = public_b64(2)
    good = label.sign_label(UnitId(GTIN, SERIAL), key(2))
    ok = verify_unit_view(shown, LOG_KEY, keys, facts(world), good, [brand_key])
    assert ok.verdict == "genuine"
    forged = verify_unit_view(shown, LOG_KEY, keys, facts(world), "A" * 86, [brand_key])
    assert forged.verdict == "invalid" and codes(forged) == {"label-invalid"}


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


# --- the log's switch: each entry judged by the rule set of its index -------------------------


def _upgraded() -> tuple[World, int]:
    """A log from before (format 1, rule set 1) in which a retailer that never held the
    delivered unit returned it to itself (rule set 1 let that through), then the
    operator's log.upgrade at index N, then that retailer's receive, signed for the log."""
    world = World.base(None, rules=None)
    world.register("shop-2", "retailer", 20)
    world.authorize("shop-2", "retailer")
    for kind, actor, fields in (
        ("handoff", "acme", {"to": "shop"}),
        ("receive", "shop", {}),
        ("sell", "shop", {}),
        ("deliver", "shop", {}),
    ):
        world.unit_do(kind, actor, **fields)
    world.unit_do("return", "shop-2", to="shop-2")
    upgrade = world.index
    world.do("log.upgrade", "operator", format=2, rules=2)
    world.origin = ORIGIN  # from here on, signers name the log
    world.unit_do("receive", "shop-2")
    return world, upgrade


def test_a_unit_across_the_upgrade_is_judged_by_rule_set_1_before_and_2_after() -> None:
    world, n = _upgraded()
    shown, keys = _served(world, verdict="genuine")
    result = verify_unit_view(shown, LOG_KEY, keys, facts(world))
    assert result.ok, result.reasons
    assert result.switch == Switch(n + 1, n + 1)
    indices = [e["index"] for e in shown["entries"]]
    assert [result.switch.at(i)[1] for i in indices] == [1] * (len(indices) - 1) + [2]
    # the same return, after the switch, by another retailer that never held the unit:
    # a lying log writes it anyway; rule set 2 (read from the log) refuses it
    world.unit_do("sell", "shop-2")
    world.register("shop-3", "retailer", 21)
    world.authorize("shop-3", "retailer")
    world.log.append(world.on_unit("return", "shop-3", to="shop-3"))
    lying, keys = _served(world, verdict="genuine")
    judged = verify_unit_view(lying, LOG_KEY, keys, facts(world))
    assert judged.verdict == "invalid" and codes(judged) == {"chain-broken"}
    assert "not-retailer-of-record" in judged.reasons[0]["message"]


def _lie(view: dict[str, Any], how: str) -> dict[str, Any]:
    lied = copy.deepcopy(view)
    versions = lied["versions"]
    if how == "later":
        versions["rules_from"] += 5  # says rule set 1 held for 5 more entries
    elif how == "never":
        versions["format_from"] = versions["rules_from"] = None
    elif how == "dropped":
        versions["entries"] = versions["entries"][:1]  # the upgrade hidden, its index kept
    elif how == "moved":
        versions["entries"][1]["index"] += 1  # the upgrade's entry shown at another index
    elif how == "no-genesis":
        versions["entries"] = versions["entries"][1:]
    elif how == "not-an-upgrade":
        versions["entries"][1] = view["entries"][0]  # a unit entry passed off as the switch
    elif how == "absent":
        del lied["versions"]
    return lied


@pytest.mark.parametrize(
    "how", ["later", "never", "dropped", "moved", "no-genesis", "not-an-upgrade", "absent"]
)
def test_a_view_that_lies_about_the_switch_is_refused(how: str) -> None:
    world, _ = _upgraded()
    shown, keys = _served(world)
    result = verify_unit_view(_lie(shown, how), LOG_KEY, keys, facts(world))
    assert (result.ok, result.verdict, result.switch) == (False, "invalid", None)
    assert codes(result) == {"proof-invalid"}
    assert "format and rule set are not proven" in result.reasons[0]["message"]


def test_a_new_log_proves_its_versions_with_the_genesis_alone() -> None:
    assert [e["index"] for e in VIEW["versions"]["entries"]] == [0]
    assert verify_unit_view(view(), LOG_KEY, KEYS, facts(base())).switch == Switch(0, 0)
