"""The offline proof carries each signer's and recipient's whole registry (issue 18;
docs/FORMAT.md section 11), on SQLite and PostgreSQL: with the brand's key rotated and
the courier revoked, the proof holds the rotations and the revocation, verifies offline
and judges with the revocation; cut a rotation, the revocation or an actor line, or
swap actor lines, and it is refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ledger.entry import Leaf
from ledger.errors import LedgerError, SignatureError
from ledger.map.proof import MapProofError
from ledger.service.ledger import Ledger
from ledger.verify import unitproof
from tests.factories import GTIN, public_b64
from tests.integration.world import LedgerWorld, clock, config
from tests.rules_factories import SERIAL


@pytest.fixture
def proof(db_url: str) -> Iterator[tuple[str, str, dict[str, int]]]:
    """(proof text, log key, index of each interesting entry): the base world, then acme
    rotates in a new key and signs the handoff with it, ship-co receives, acme adds one
    more key it never uses, and the operator revokes ship-co."""
    ledger = Ledger.open(db_url, config(f"p-{uuid.uuid4().hex[:10]}"), clock=clock)
    ledger.init(name="Registry")
    lw = LedgerWorld.base(ledger)
    w = lw.world
    at: dict[str, int] = {}
    at["rotate"] = (
        lw.append(w.sign("key.rotate", "acme", subject="acme", add=[public_b64(33)], remove=[]))
        .receipts[0]
        .index
    )
    w.seeds["acme"] = 33
    lw.append(w.on_unit("handoff", "acme", to="ship-co"))
    lw.append(w.on_unit("receive", "ship-co"))
    at["unused"] = (
        lw.append(w.sign("key.rotate", "acme", subject="acme", add=[public_b64(34)], remove=[]))
        .receipts[0]
        .index
    )
    at["revoke"] = (
        lw.append(w.sign("actor.revoke", "operator", subject="ship-co", reason="fraud"))
        .receipts[0]
        .index
    )
    yield ledger.exports.unit_proof(GTIN, SERIAL), ledger.verifier_key, at
    ledger.close()


def without(text: str, index: int) -> str:
    """The proof with the section of entry ``index`` cut out (the rest still proven)."""
    parsed = unitproof.parse(text)
    kept = [e for e in parsed.entries if e.index != index]
    assert len(kept) == len(parsed.entries) - 1
    actors = dict(parsed.actor_proofs)
    return unitproof.encode(
        parsed.gtin, parsed.serial, kept, parsed.checkpoint, parsed.map_proof, actors
    )


def test_the_proof_holds_every_rotation_and_the_revocation(
    proof: tuple[str, str, dict[str, int]],
) -> None:
    text, key, at = proof
    parsed = unitproof.parse(text)
    held = {e.index for e in parsed.entries}
    assert {at["rotate"], at["unused"], at["revoke"]} <= held
    assert {a for a, _ in parsed.actor_proofs} == {"operator", "acme", "ship-co"}
    kinds = {Leaf.from_bytes(e.leaf).signed.event.kind for e in parsed.entries}
    assert {"actor.register", "key.rotate", "actor.revoke", "authorize"} <= kinds
    result = unitproof.verify(text, key)
    assert result.complete
    assert "revoked-handler" in {r.code for r in result.reasons}  # judged with it


def test_a_cut_rotation_or_revocation_is_refused(proof: tuple[str, str, dict[str, int]]) -> None:
    text, key, at = proof
    with pytest.raises(MapProofError, match="acme's registry"):
        unitproof.verify(without(text, at["unused"]), key)  # a rotation no signature needs
    with pytest.raises(MapProofError, match="ship-co's registry"):
        unitproof.verify(without(text, at["revoke"]), key)  # a hidden revocation
    with pytest.raises(SignatureError):  # the rotation that brought the handoff's key
        unitproof.verify(without(text, at["rotate"]), key)


def test_actor_lines_are_required_and_bound(proof: tuple[str, str, dict[str, int]]) -> None:
    text, key, _ = proof
    parsed = unitproof.parse(text)
    actors = dict(parsed.actor_proofs)

    def again(changed: dict[str, bytes]) -> str:
        return unitproof.encode(
            parsed.gtin, parsed.serial, parsed.entries, parsed.checkpoint, parsed.map_proof, changed
        )

    with pytest.raises(MapProofError, match="no registry of ship-co"):
        unitproof.verify(again({a: p for a, p in actors.items() if a != "ship-co"}), key)
    swapped = {**actors, "acme": actors["ship-co"], "ship-co": actors["acme"]}
    with pytest.raises(LedgerError) as bad:
        unitproof.verify(again(swapped), key)
    assert bad.value.code == "bad-map-proof"
    with pytest.raises(MapProofError, match="no entry needs"):
        unitproof.verify(again({**actors, "other-brand": actors["acme"]}), key)
    lines = text.split("\n")
    unsorted = "\n".join([*lines[:3], lines[4], lines[3], *lines[5:]])
    with pytest.raises(LedgerError, match="increasing actor id"):
        unitproof.verify(unsorted, key)


def test_every_changed_character_of_the_actor_lines_is_refused(
    proof: tuple[str, str, dict[str, int]], db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the proof's bytes do not depend on the database; once is enough")
    text, key, _ = proof
    lines = text.split("\n")
    start = len("\n".join(lines[:3])) + 1  # the first actor line
    end = len("\n".join(lines[:6]))  # after the third
    assert [line.split(" ")[0] for line in lines[3:6]] == ["actor"] * 3
    for i in range(start, end):
        if text[i] in " \n":
            continue
        other = "B" if text[i] != "B" else "C"
        with pytest.raises(LedgerError):
            unitproof.verify(text[:i] + other + text[i + 1 :], key)
