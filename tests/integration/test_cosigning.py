"""The log's side of witnessing (ledger.service.cosigning) on SQLite and PostgreSQL: a configured
witness's cosignature is stored and served; stale old sizes (409), unknown or bad
cosignatures, checkpoints the log did not sign and malformed requests are refused and
write nothing; the unit view counts witnesses; the offline proof uses the cosigned
checkpoint."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from ledger import merkle, note
from ledger.audit import witness
from ledger.errors import (
    CheckpointSignatureError,
    NotFoundError,
    SignatureError,
    SplitViewError,
    StaleCheckpointError,
    ValidationError,
)
from ledger.service.ledger import Ledger
from ledger.verify import unitproof
from tests.factories import GTIN, key
from tests.integration.world import LedgerWorld, clock, config
from tests.rules_factories import SERIAL

W1 = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
W2 = note.Signer("witness.example/w2", key(41), note.ALG_COSIGNATURE_V1)
STRANGER = note.Signer("witness.example/w9", key(49), note.ALG_COSIGNATURE_V1)
NOW = "2026-11-28T12:00:00.000Z"


@pytest.fixture
def witnessed(db_url: str) -> Iterator[LedgerWorld]:
    """A base world in a log that trusts witnesses W1 and W2."""
    base = config(f"w-{uuid.uuid4().hex[:10]}")
    cfg = dataclasses.replace(base, witnesses=(W1.verifier.to_text(), W2.verifier.to_text()))
    ledger = Ledger.open(db_url, cfg, clock=clock)
    ledger.init(name="Registry")
    yield LedgerWorld.base(ledger)
    ledger.close()


def post(ledger: Ledger, signer: note.Signer, old: int, note_text: str | None = None) -> dict:
    """Cosign the latest (or the given) checkpoint as ``signer`` and post it with ``old``."""
    text = note_text or ledger.checkpoint()
    checkpoint = note.verify_checkpoint(text, ledger.verifier_key)
    line = note.cosign_checkpoint(checkpoint, signer, 1_764_000_000)
    proof = ledger.consistency_proof(old, checkpoint.size) if old else []
    body = witness.submission(old, proof, text, line)
    return ledger.cosigning.add_cosignature(body, NOW)


def test_a_configured_witness_cosigns_and_the_log_serves_and_counts_it(
    witnessed: LedgerWorld,
) -> None:
    ledger = witnessed.ledger
    size = ledger.head().size
    receipt = post(ledger, W1, 0)
    assert receipt == {
        "size": size,
        "cosigned_by": ["witness.example/w1"],
        "witnesses": {"configured": 2, "vouched": 1},
    }
    served = ledger.cosigning.cosigned_checkpoint()
    checkpoint = note.verify_checkpoint(served, ledger.verifier_key)
    assert [
        w.name for w in note.cosigners(checkpoint, note.Note.from_bytes(served), [W1.verifier])
    ] == ["witness.example/w1"]
    assert ledger.unit_view(GTIN, SERIAL)["witnesses"] == {"configured": 2, "vouched": 1}
    witnessed.append(witnessed.world.on_unit("handoff", "acme", to="ship-co"))
    assert post(ledger, W1, size)["witnesses"]["vouched"] == 1
    post(ledger, W2, 0)
    assert ledger.unit_view(GTIN, SERIAL)["witnesses"] == {"configured": 2, "vouched": 2}


def test_a_stale_old_size_is_409_and_writes_nothing(witnessed: LedgerWorld) -> None:
    ledger = witnessed.ledger
    size = ledger.head().size
    post(ledger, W1, 0)
    with pytest.raises(StaleCheckpointError) as caught:
        post(ledger, W1, 0)  # replayed: the log recorded `size` for W1
    assert caught.value.size == size and caught.value.status == 409
    with pytest.raises(StaleCheckpointError):
        post(ledger, W1, size - 1)
    assert len(ledger.store.cosignatures.lines(ledger.log, size)) == 1
    assert ledger.store.cosignatures.heads(ledger.log) == {
        ("witness.example/w1", W1.verifier.key_hash): size
    }


def test_refusals_write_nothing(witnessed: LedgerWorld) -> None:
    ledger = witnessed.ledger
    size = ledger.head().size
    with pytest.raises(SignatureError):  # not a configured witness
        post(ledger, STRANGER, 0)
    text = ledger.checkpoint()
    checkpoint = note.verify_checkpoint(text, ledger.verifier_key)
    line = note.cosign_checkpoint(checkpoint, W1, 5)
    # flip one bit: S < 2^253, so the last byte is 0x00 about one time in 16 already
    flipped = line.signature[:-1] + bytes([line.signature[-1] ^ 1])
    bad = note.NoteSignature(line.name, line.key_hash, flipped)
    with pytest.raises(CheckpointSignatureError):  # a configured witness's bad line
        ledger.cosigning.add_cosignature(witness.submission(0, [], text, bad), NOW)
    other_log = note.Signer(checkpoint.origin, key(7))
    foreign = note.sign_checkpoint(checkpoint, other_log).decode()
    with pytest.raises(CheckpointSignatureError):  # not signed by this log
        post(ledger, W1, 0, foreign)
    forged = note.sign_checkpoint(
        note.Checkpoint(checkpoint.origin, size, merkle.leaf_hash(b"x")),
        ledger.signer,  # type: ignore[arg-type]
    ).decode()
    with pytest.raises(SplitViewError):  # the log's key, another root: evidence
        post(ledger, W1, 0, forged)
    bigger = note.sign_checkpoint(
        note.Checkpoint(checkpoint.origin, size + 5, merkle.leaf_hash(b"x")),
        ledger.signer,  # type: ignore[arg-type]
    ).decode()
    with pytest.raises(NotFoundError):
        post(ledger, W1, 0, bigger)
    with pytest.raises(ValidationError):  # old > size
        ledger.cosigning.add_cosignature(witness.submission(size + 1, [], text, line), NOW)
    with pytest.raises(ValidationError):
        ledger.cosigning.add_cosignature(b"old x\n\n" + text.encode(), NOW)
    assert ledger.store.cosignatures.lines(ledger.log, size) == []
    assert ledger.store.cosignatures.heads(ledger.log) == {}


def test_the_offline_proof_is_at_the_latest_checkpoint_with_its_cosignatures(
    witnessed: LedgerWorld,
) -> None:
    # the map of heads is kept at the latest checkpoint only (docs/FORMAT.md 14), so the
    # proof is there: complete, and cosigned once the witnesses have cosigned it
    ledger = witnessed.ledger
    cosigned = post(ledger, W1, 0)["size"]
    later_unit = {"gtin": GTIN, "serial": "LATER-1"}
    witnessed.append(witnessed.world.sign("commission", "acme", unit=later_unit, prev=None))
    uncosigned = unitproof.verify(ledger.exports.unit_proof(GTIN, SERIAL), ledger.verifier_key)
    assert uncosigned.size == ledger.head().size and uncosigned.witnesses == ()
    assert uncosigned.complete
    post(ledger, W1, cosigned)
    text = ledger.exports.unit_proof(GTIN, SERIAL)
    result = unitproof.verify(text, ledger.verifier_key, [W1.verifier.to_text()], 1)
    assert result.size == ledger.head().size and result.witnesses == ("witness.example/w1",)
    later = unitproof.verify(ledger.exports.unit_proof(GTIN, "LATER-1"), ledger.verifier_key)
    assert later.size == ledger.head().size and later.complete
    with pytest.raises(NotFoundError):
        ledger.exports.unit_proof(GTIN, "NEVER-1")
