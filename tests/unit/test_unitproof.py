"""Offline unit proofs (ledger.verify.unitproof): a proof built from a scripted log verifies
with only the log's and a witness's keys; every changed byte makes it fail; a proof
missing the key registrations, or naming another log key, fails."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import crypto, merkle, note
from ledger.entry import Leaf, SignedEvent
from ledger.errors import LedgerError, ProofError, SignatureError
from ledger.events import format_time
from ledger.verify import unitproof
from tests.factories import GTIN, key, public_b64
from tests.profiles import examples
from tests.rules_factories import NOW, ORIGIN, SERIAL, World, base

LOG = note.Signer(ORIGIN, key(1))
WITNESS = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
OTHER_WITNESS = note.Signer("witness.example/w2", key(41), note.ALG_COSIGNATURE_V1)


def build(cosigners: tuple[note.Signer, ...] = (WITNESS,), drop: int | None = None) -> str:
    """A unit proof for SERIAL over the base world plus a handoff and a receive."""
    world = base()
    world.accept(world.on_unit("handoff", "acme", to="ship-co"))
    world.accept(world.on_unit("receive", "ship-co"))
    world.do("commission", "acme", unit={"gtin": GTIN, "serial": "OTHER-1"}, prev=None)
    leaves = [Leaf.build(s, NOW) for s in world.log]
    hashes = [leaf.hash for leaf in leaves]
    size = len(hashes)
    checkpoint = note.Checkpoint(ORIGIN, size, merkle.root(hashes))
    text = note.sign_checkpoint(checkpoint, LOG).decode()
    lines = [note.cosign_checkpoint(checkpoint, w, 1_764_000_000) for w in cosigners]
    text = note.with_cosignatures(text, lines) if lines else text
    wanted = {i for i, leaf in enumerate(leaves) if getattr(leaf.signed.event, "unit", None)}
    wanted = {i for i in wanted if leaves[i].signed.event.unit.serial == SERIAL}  # type: ignore[attr-defined]
    signers = {leaves[i].signed.event.actor for i in wanted}
    wanted |= {
        i
        for i, leaf in enumerate(leaves)
        if leaf.signed.event.kind == "actor.register"
        and getattr(leaf.signed.event, "subject", None) in signers | {"operator"}
    }
    wanted.discard(drop)  # type: ignore[arg-type]
    entries = [
        unitproof.ProvenEntry(i, leaves[i].data, tuple(merkle.inclusion_proof(hashes, i, size)))
        for i in wanted
    ]
    return unitproof.encode(GTIN, SERIAL, entries, text)


PROOF = build()
LOG_KEY = LOG.verifier.to_text()
WITNESS_KEY = WITNESS.verifier.to_text()


def test_a_proof_verifies_offline_with_the_chain_and_the_witnesses() -> None:
    result = unitproof.verify(PROOF, LOG_KEY, [WITNESS_KEY], min_witnesses=1)
    assert (result.gtin, result.serial) == (GTIN, SERIAL)
    assert [leaf.signed.event.kind for leaf in result.chain] == ["commission", "handoff", "receive"]
    assert result.witnesses == ("witness.example/w1",)
    assert PROOF.startswith(unitproof.HEADER + "\n")
    assert PROOF.count(unitproof.TLOG_PROOF + "\n") == len(result.chain) + 3  # + registrations


def test_each_section_is_a_standard_tlog_proof() -> None:
    parsed = unitproof.parse(PROOF)
    checkpoint = note.verify_checkpoint(parsed.checkpoint, LOG_KEY)
    for item in parsed.entries:
        merkle.verify_inclusion(
            merkle.leaf_hash(item.leaf), item.index, checkpoint.size, item.proof, checkpoint.root
        )


def test_witness_policy() -> None:
    with pytest.raises(SignatureError):
        unitproof.verify(PROOF, LOG_KEY, [WITNESS_KEY], min_witnesses=2)
    with pytest.raises(SignatureError):  # a witness we trust did not cosign
        unitproof.verify(PROOF, LOG_KEY, [OTHER_WITNESS.verifier.to_text()], min_witnesses=1)
    assert unitproof.verify(build(()), LOG_KEY).witnesses == ()


def test_another_log_key_or_a_missing_registration_fails() -> None:
    impostor = note.Signer(ORIGIN, key(2)).verifier.to_text()
    with pytest.raises(LedgerError):
        unitproof.verify(PROOF, impostor)
    with pytest.raises(SignatureError):  # the brand's registration (index 1) left out
        unitproof.verify(build(drop=1), LOG_KEY)
    with pytest.raises(SignatureError):  # the genesis left out: nobody vouches for keys
        unitproof.verify(build(drop=0), LOG_KEY)


def test_a_chain_with_a_hole_fails() -> None:
    parsed = unitproof.parse(PROOF)
    handoff = next(e for e in parsed.entries if b'"handoff"' in e.leaf)
    kept = [e for e in parsed.entries if e is not handoff]
    holed = unitproof.encode(GTIN, SERIAL, kept, parsed.checkpoint)
    with pytest.raises(ProofError):
        unitproof.verify(holed, LOG_KEY)


def test_every_single_byte_flip_fails() -> None:
    data = PROOF.encode()
    for position in range(len(data)):
        mutated = bytearray(data)
        mutated[position] ^= 0x01
        with pytest.raises(LedgerError):
            unitproof.verify(bytes(mutated), LOG_KEY, [WITNESS_KEY], min_witnesses=1)


@settings(max_examples=examples(300), deadline=None)
@given(st.data())
def test_any_changed_byte_fails(data: st.DataObject) -> None:
    raw = bytearray(PROOF.encode())
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    with pytest.raises(LedgerError):
        unitproof.verify(bytes(raw), LOG_KEY, [WITNESS_KEY], min_witnesses=1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "provenance-ledger/unit-proof@v2\nunit 09506000134352/A\n\n",
        "provenance-ledger/unit-proof@v1\nunit 123/A\n\n",
        "provenance-ledger/unit-proof@v1\nunit 09506000134352/A\n\n",
        "provenance-ledger/unit-proof@v1\nunit 09506000134352/A\n\nc2sp.org/tlog-proof@v1\nindex 0\n\n",
    ],
)
def test_malformed_proofs_are_refused(text: str) -> None:
    with pytest.raises(LedgerError):
        unitproof.verify(text, LOG_KEY)
    with pytest.raises(LedgerError):
        unitproof.verify(b"\xff" + text.encode(), LOG_KEY)


# --- key entries held to the log's key rules (a server that appends what the rules refuse) ---

DAY = timedelta(days=1)
KEY_KINDS = {"actor.register", "key.rotate", "key.recover", "key.recover.cancel"}


def forged_log_proof(extra: list[tuple[SignedEvent, datetime]], serial: str = "FORGED-1") -> str:
    """A proof for ``serial`` over the base world plus ``extra`` (signed events and their
    log times) appended without the rules, as a dishonest server would; it holds every
    key entry and the unit's entries, so only the key rules can refuse it."""
    world = base()
    timed = [(s, NOW) for s in world.log] + extra
    leaves = [Leaf.build(s, t) for s, t in timed]
    hashes = [leaf.hash for leaf in leaves]
    size = len(hashes)
    text = note.sign_checkpoint(note.Checkpoint(ORIGIN, size, merkle.root(hashes)), LOG).decode()
    wanted = [
        i
        for i, leaf in enumerate(leaves)
        if leaf.signed.event.kind in KEY_KINDS
        or getattr(getattr(leaf.signed.event, "unit", None), "serial", None) == serial
    ]
    entries = [
        unitproof.ProvenEntry(i, leaves[i].data, tuple(merkle.inclusion_proof(hashes, i, size)))
        for i in wanted
    ]
    return unitproof.encode(GTIN, serial, entries, text)


def mint(seed: int, serial: str = "FORGED-1") -> SignedEvent:
    """acme's commission of ``serial``, signed with ``key(seed)``."""
    unit = {"gtin": GTIN, "serial": serial}
    return base().sign("commission", "acme", seed=seed, unit=unit, prev=None)


def test_an_operator_signed_rotation_for_a_brand_is_refused() -> None:
    world = base()
    rotate = world.sign("key.rotate", "operator", subject="acme", add=[public_b64(99)], remove=[])
    forged = forged_log_proof([(rotate, NOW), (mint(99), NOW)])
    with pytest.raises(SignatureError, match="only the subject"):
        unitproof.verify(forged, LOG_KEY)
    # the same rotation signed by acme itself is the brand's own key
    own = world.sign("key.rotate", "acme", subject="acme", add=[public_b64(99)], remove=[])
    result = unitproof.verify(forged_log_proof([(own, NOW), (mint(99), NOW)]), LOG_KEY)
    assert [leaf.signed.event.kind for leaf in result.chain] == ["commission"]


def test_a_rule_set_1_log_keeps_its_operator_rotations() -> None:
    """Before rule set 2 an operator rotated anyone's keys: such a log still verifies."""
    world = World.base(rules=None)
    rotate = world.sign("key.rotate", "operator", subject="acme", add=[public_b64(99)], remove=[])
    world.accept(rotate)
    world.accept(mint(99))
    leaves = [Leaf.build(s, NOW) for s in world.log]
    hashes = [leaf.hash for leaf in leaves]
    text = note.sign_checkpoint(note.Checkpoint(ORIGIN, len(hashes), merkle.root(hashes)), LOG)
    wanted = [
        i for i, lf in enumerate(leaves) if lf.signed.event.kind in {*KEY_KINDS, "commission"}
    ]
    wanted = [i for i in wanted if getattr(leaves[i].signed.event, "unit", None) is None] + [
        len(leaves) - 1
    ]
    entries = [
        unitproof.ProvenEntry(
            i, leaves[i].data, tuple(merkle.inclusion_proof(hashes, i, len(hashes)))
        )
        for i in wanted
    ]
    proof = unitproof.encode(GTIN, "FORGED-1", entries, text.decode())
    assert unitproof.verify(proof, LOG_KEY).chain[0].signed.key == world.log[-1].key


def test_a_scoped_key_neither_rotates_nor_signs_outside_its_scope() -> None:
    world = base()
    console = world.sign(
        "key.rotate", "acme", subject="acme", add=[public_b64(98)], remove=[], scope=["console"]
    )
    escalate = world.sign(
        "key.rotate", "acme", seed=98, subject="acme", add=[public_b64(99)], remove=[]
    )
    with pytest.raises(SignatureError, match="scoped"):
        unitproof.verify(
            forged_log_proof([(console, NOW), (escalate, NOW), (mint(99), NOW)]), LOG_KEY
        )
    with pytest.raises(SignatureError, match="scoped"):  # console does not mint
        unitproof.verify(forged_log_proof([(console, NOW), (mint(98), NOW)]), LOG_KEY)
    minting = world.sign(
        "key.rotate", "acme", subject="acme", add=[public_b64(98)], remove=[], scope=["mint"]
    )
    assert unitproof.verify(forged_log_proof([(minting, NOW), (mint(98), NOW)]), LOG_KEY).chain


def test_recoveries_follow_the_rules() -> None:
    world = base()
    week = NOW + 7 * DAY
    recover = world.sign(
        "key.recover", "operator", subject="acme", key=public_b64(99), effective=format_time(week)
    )
    # good: minted after the waiting period
    assert unitproof.verify(forged_log_proof([(recover, NOW), (mint(99), week)]), LOG_KEY).chain
    # minted before it took effect
    with pytest.raises(SignatureError, match="before it took effect"):
        unitproof.verify(forged_log_proof([(recover, NOW), (mint(99), week - DAY)]), LOG_KEY)
    # an effective time sooner than the log's recovery wait
    soon = world.sign(
        "key.recover",
        "operator",
        subject="acme",
        key=public_b64(99),
        effective=format_time(NOW + DAY),
    )
    with pytest.raises(SignatureError, match="recovery wait"):
        unitproof.verify(forged_log_proof([(soon, NOW), (mint(99), week)]), LOG_KEY)
    # signed by a brand, not an operator
    by_brand = world.sign(
        "key.recover",
        "other-brand",
        subject="acme",
        key=public_b64(99),
        effective=format_time(week),
    )
    with pytest.raises(SignatureError, match="only an operator"):
        unitproof.verify(forged_log_proof([(by_brand, NOW), (mint(99), week)]), LOG_KEY)
    # cancelled by the brand: the key never signs
    cancel = world.sign(
        "key.recover.cancel", "acme", subject="acme", key=crypto.key_id(key(99).public_key())
    )
    with pytest.raises(SignatureError, match="no earlier entry"):
        unitproof.verify(
            forged_log_proof([(recover, NOW), (cancel, NOW + DAY), (mint(99), week)]), LOG_KEY
        )
