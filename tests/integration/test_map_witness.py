"""Witnesses check the map of heads (issue 18) on SQLite and PostgreSQL: the log's map
update proof (ledger.service.mapupdate) lets a witness (ledger.audit.witness.cosign_next)
cosign an honest checkpoint after units, new units, new actors and revocations moved;
a checkpoint signed by the log's key with a wrong, missing or malformed map root is
refused with ``map-update`` evidence that anyone re-checks; a malformed, incomplete or
tampered update proof is refused with ``bad-map-update``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from ledger import codec, note
from ledger.audit import witness
from ledger.errors import LedgerError, NotFoundError, ValidationError
from ledger.map import commit as map_commit
from ledger.map.updateproof import MapUpdateError, MapUpdateProofError, UpdateProof, check
from ledger.service.ledger import Ledger
from tests.factories import GTIN, key, public_b64
from tests.integration.world import LedgerWorld
from tests.rules_factories import WINDOW, event_hash

W1 = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
NOW = "2026-11-28T12:00:00.000Z"
STAMP = 1_764_000_000


def cosign(
    ledger: Ledger,
    previous: witness.WitnessState | None,
    text: str | None = None,
    update: UpdateProof | None = None,
) -> witness.WitnessState:
    """``cosign_next`` as the witness runs it, with the log's proofs (or ``update``)."""
    text = text or ledger.checkpoint()
    size = note.verify_checkpoint(text, ledger.verifier_key).size
    old = previous.seen.checkpoint.size if previous else 0
    proof = ledger.consistency_proof(old, size) if old and size > old else []
    if update is None and previous is not None and size > old:
        update = ledger.map_update_proof(old, size)
    state, _ = witness.cosign_next(
        previous, text, ledger.verifier_key, proof, W1, STAMP, NOW, update
    )
    return state


def grow(lw: LedgerWorld) -> None:
    """Entries that move every kind of key: a unit, a new unit, a new actor, an
    authorization granted and revoked in the span, one granted long before, a key
    rotation and an actor revocation."""
    w = lw.world
    lw.append(w.on_unit("handoff", "acme", to="ship-co"))
    unit = {"gtin": GTIN, "serial": "MAP-NEW-1"}
    lw.append(w.sign("commission", "acme", unit=unit, prev=None))
    w.seeds["newshop"] = 77
    fields = {"subject": "newshop", "role": "retailer", "name": "Newshop"}
    lw.append(w.sign("actor.register", "operator", keys=[public_b64(77)], **fields))
    lw.append(w.sign("authorization.revoke", "acme", authorization=w.auths["insp"]))
    grant = w.sign(
        "authorize", "acme", partner="newshop", role="retailer", gtins=[GTIN], prefixes=[], **WINDOW
    )
    lw.append(grant)
    lw.append(w.sign("authorization.revoke", "acme", authorization=event_hash(grant)))
    lw.append(w.sign("key.rotate", "acme", subject="acme", add=[public_b64(41)], remove=[]))
    lw.append(w.sign("actor.revoke", "operator", subject="customs", reason="test"))


def resigned(ledger: Ledger, text: str, extensions: tuple[str, ...]) -> str:
    """The checkpoint ``text`` with other extension lines, signed with the log's key."""
    checkpoint = note.verify_checkpoint(text, ledger.verifier_key)
    changed = dataclasses.replace(checkpoint, extensions=extensions)
    return note.sign_checkpoint(changed, ledger.signer).decode()


def test_an_honest_update_is_cosigned(world: LedgerWorld) -> None:
    ledger = world.ledger
    first = cosign(ledger, None)
    old = first.seen.checkpoint.size
    grow(world)
    size = ledger.head().size
    proof = ledger.map_update_proof(old, size)
    assert UpdateProof.from_dict(proof.to_dict()) == proof
    assert len(proof.entries) == size - old and len(proof.authorizations) == 1
    # the unit, the new unit, newshop, insp, acme, customs
    assert len(proof.map_proofs) == 6
    state = cosign(ledger, first, update=UpdateProof.from_dict(proof.to_dict()))
    assert state.seen.checkpoint.size == size
    # the same size again: nothing to update
    assert cosign(ledger, state).seen.checkpoint.size == size


def test_a_proof_to_an_older_checkpoint_undoes_later_entries(world: LedgerWorld) -> None:
    ledger = world.ledger
    first = cosign(ledger, None)
    old = first.seen.checkpoint.size
    grow(world)
    middle = old + 2
    text = ledger.checkpoint(middle)
    state = cosign(ledger, first, text)
    assert state.seen.checkpoint.size == middle
    unit = {"gtin": GTIN, "serial": "MAP-NEW-2"}
    world.append(world.world.sign("commission", "acme", unit=unit, prev=None))
    assert cosign(ledger, state).seen.checkpoint.size == ledger.head().size


def test_a_wrong_map_root_is_refused_with_evidence(world: LedgerWorld) -> None:
    ledger = world.ledger
    first = cosign(ledger, None)
    old = first.seen.checkpoint.size
    grow(world)
    size = ledger.head().size
    text = ledger.checkpoint()
    honest = note.verify_checkpoint(text, ledger.verifier_key)
    others = tuple(x for x in honest.extensions if not x.startswith(map_commit.PREFIX))
    wrong = map_commit.extension(bytes(31) + b"\x01")
    update = ledger.map_update_proof(old, size)
    for extensions in ((*others, wrong), others, (*others, "map/v1 !!")):
        forged = resigned(ledger, text, extensions)
        with pytest.raises(MapUpdateError) as caught:
            cosign(ledger, first, forged, update)
        assert caught.value.code == "map-update" and caught.value.status == 409
        evidence = caught.value.evidence
        assert evidence["kind"] == "map-update" and evidence["new_checkpoint"] == forged
        record = witness.verify_evidence(evidence, ledger.verifier_key)
        assert record.kind == "map-update"
    # the honest checkpoint is no evidence
    fake = dict(evidence, new_checkpoint=text, update=update.to_dict())
    with pytest.raises(ValidationError):
        witness.verify_evidence(fake, ledger.verifier_key)
    # another map root for the size already cosigned
    again = resigned(ledger, first.seen.note, (wrong,))
    with pytest.raises(MapUpdateError):
        cosign(ledger, first, again)


def test_the_map_can_be_checked_only_from_a_map_root(world: LedgerWorld) -> None:
    ledger = world.ledger
    first = cosign(ledger, None)
    old = first.seen.checkpoint.size
    with pytest.raises(ValidationError):
        ledger.map_update_proof(old, old)
    with pytest.raises(NotFoundError):
        ledger.map_update_proof(old, old + 5)


Tamper = Callable[[dict[str, Any]], None]


def _drop_proof(d: dict[str, Any]) -> None:
    d["map_proofs"].pop(0)


def _duplicate_proof(d: dict[str, Any]) -> None:
    d["map_proofs"].insert(0, d["map_proofs"][0])


def _reorder(d: dict[str, Any]) -> None:
    d["map_proofs"].reverse()


def _flip_proof_byte(d: dict[str, Any]) -> None:
    raw = bytearray(codec.b64url_decode(d["map_proofs"][0]["proof"]))
    raw[-1] ^= 1
    d["map_proofs"][0]["proof"] = codec.b64url_encode(bytes(raw))


def _flip_entry_byte(d: dict[str, Any]) -> None:
    raw = bytearray(codec.b64url_decode(d["entries"][0]))
    raw[len(raw) // 2] ^= 1
    d["entries"][0] = codec.b64url_encode(bytes(raw))


def _drop_entry(d: dict[str, Any]) -> None:
    d["entries"].pop()


def _drop_authorization(d: dict[str, Any]) -> None:
    d["authorizations"] = []


def _bad_compact(d: dict[str, Any]) -> None:
    d["compact"][0] = codec.b64url_encode(bytes(32))


def _other_sizes(d: dict[str, Any]) -> None:
    d["old"] -= 1


def _wrong_format(d: dict[str, Any]) -> None:
    d["format"] = "something-else"


def _not_a_list(d: dict[str, Any]) -> None:
    d["map_proofs"] = "x"


def _short_key(d: dict[str, Any]) -> None:
    d["map_proofs"][0]["key"] = codec.b64url_encode(bytes(31))


@pytest.mark.parametrize(
    "tamper",
    [
        _drop_proof,
        _duplicate_proof,
        _reorder,
        _flip_proof_byte,
        _flip_entry_byte,
        _drop_entry,
        _drop_authorization,
        _bad_compact,
        _other_sizes,
        _wrong_format,
        _not_a_list,
        _short_key,
    ],
)
def test_a_malformed_update_proof_is_refused(world: LedgerWorld, tamper: Tamper) -> None:
    ledger = world.ledger
    first = cosign(ledger, None)
    old = first.seen.checkpoint.size
    grow(world)
    data = ledger.map_update_proof(old, ledger.head().size).to_dict()
    tamper(data)
    with pytest.raises(MapUpdateProofError) as caught:
        cosign(ledger, first, update=UpdateProof.from_dict(data))
    assert caught.value.code == "bad-map-update"


def test_no_update_proof_is_refused(world: LedgerWorld) -> None:
    ledger = world.ledger
    first = cosign(ledger, None)
    grow(world)
    text = ledger.checkpoint()
    size = note.verify_checkpoint(text, ledger.verifier_key).size
    proof = ledger.consistency_proof(first.seen.checkpoint.size, size)
    with pytest.raises(LedgerError) as caught:
        witness.cosign_next(first, text, ledger.verifier_key, proof, W1, STAMP, NOW, None)
    assert caught.value.code == "bad-map-update"


def test_every_flipped_byte_of_a_proof_or_hash_is_refused(world: LedgerWorld) -> None:
    """Each byte of every old-map proof, compact hash and authorization, flipped in turn."""
    ledger = world.ledger
    first = cosign(ledger, None)
    old = first.seen.checkpoint.size
    grow(world)
    text = ledger.checkpoint()
    new = note.verify_checkpoint(text, ledger.verifier_key)
    old_map = map_commit.root_of(first.seen.checkpoint.extensions)
    assert old_map is not None
    honest = ledger.map_update_proof(old, new.size)
    assert check(honest, first.seen.checkpoint, new, old_map) == map_commit.root_of(new.extensions)

    def flips(blob: bytes) -> list[bytes]:
        return [blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :] for i in range(len(blob))]

    variants: list[UpdateProof] = []
    for n, (k, proof) in enumerate(honest.map_proofs):
        for bad in flips(proof):
            proofs = list(honest.map_proofs)
            proofs[n] = (k, bad)
            variants.append(dataclasses.replace(honest, map_proofs=tuple(proofs)))
    for n, value in enumerate(honest.compact):
        for bad in flips(value):
            compact = list(honest.compact)
            compact[n] = bad
            variants.append(dataclasses.replace(honest, compact=tuple(compact)))
    grant = honest.authorizations[0]
    for bad in flips(grant.leaf):
        changed = dataclasses.replace(grant, leaf=bad)
        variants.append(dataclasses.replace(honest, authorizations=(changed,)))
    assert len(variants) > 500
    for variant in variants:
        with pytest.raises(MapUpdateProofError):
            check(variant, first.seen.checkpoint, new, old_map)
