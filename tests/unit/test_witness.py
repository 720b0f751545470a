"""Witness and auditor memory (ledger.audit.witness): consistent growth is accepted; a fork, a
failed proof and a rollback are refused; the evidence re-checks for anyone holding the
log's key and is void when it shows nothing; the add-checkpoint body round-trips."""

from __future__ import annotations

import pytest

from ledger import merkle, note
from ledger.audit import witness
from ledger.errors import LedgerError, SplitViewError, ValidationError
from ledger.service import cosigning
from tests.factories import key

ORIGIN = "test.example/witnessed"
LOG = note.Signer(ORIGIN, key(1))
LOG_KEY = LOG.verifier.to_text()
W1 = note.Signer("witness.example/w1", key(40), note.ALG_COSIGNATURE_V1)
NOW = "2026-11-28T12:00:00.000Z"
HONEST = [bytes([i]) * 8 for i in range(40)]
FORKED = [*HONEST[:20], *(b"forged" + bytes([i]) for i in range(20))]


def signed(leaves: list[bytes], size: int) -> str:
    """The log's signed checkpoint over the first ``size`` leaves."""
    hashes = [merkle.leaf_hash(x) for x in leaves[:size]]
    return note.sign_checkpoint(note.Checkpoint(ORIGIN, size, merkle.root(hashes)), LOG).decode()


def proof(leaves: list[bytes], old: int, new: int) -> list[bytes]:
    """The consistency proof over ``leaves``."""
    return merkle.consistency_proof([merkle.leaf_hash(x) for x in leaves[:new]], old, new)


def seen(size: int, leaves: list[bytes] = HONEST) -> witness.Seen:
    """A remembered checkpoint."""
    return witness.Seen.verified(signed(leaves, size), LOG_KEY)


def test_growth_with_a_valid_proof_is_accepted() -> None:
    new = witness.check_consistent(
        seen(10), signed(HONEST, 30), LOG_KEY, proof(HONEST, 10, 30), NOW
    )
    assert new.size == 30
    same = witness.check_consistent(seen(30), signed(HONEST, 30), LOG_KEY, [], NOW)
    assert same.size == 30


def test_a_fork_is_refused_with_evidence() -> None:
    with pytest.raises(SplitViewError) as caught:
        witness.check_consistent(seen(30), signed(FORKED, 30), LOG_KEY, [], NOW)
    evidence = caught.value.evidence
    assert evidence["kind"] == "fork" and evidence["format"] == witness.EVIDENCE_FORMAT
    record = witness.verify_evidence(evidence, LOG_KEY)
    assert record.old == signed(HONEST, 30) and record.new == signed(FORKED, 30)


def test_an_inconsistent_checkpoint_is_refused_with_evidence() -> None:
    served = proof(FORKED, 25, 40)  # the forked log's own proof cannot link to the old root
    with pytest.raises(SplitViewError) as caught:
        witness.check_consistent(seen(25), signed(FORKED, 40), LOG_KEY, served, NOW)
    assert caught.value.evidence["kind"] == "inconsistent"
    witness.verify_evidence(caught.value.evidence, LOG_KEY)


def test_evidence_that_shows_nothing_is_void() -> None:
    honest = witness.Evidence(
        "inconsistent",
        LOG_KEY,
        signed(HONEST, 10),
        signed(HONEST, 30),
        tuple(proof(HONEST, 10, 30)),
        "",
        NOW,
    ).to_dict()
    with pytest.raises(ValidationError):
        witness.verify_evidence(honest, LOG_KEY)
    same = witness.Evidence("fork", LOG_KEY, signed(HONEST, 9), signed(HONEST, 9), (), "", NOW)
    with pytest.raises(ValidationError):
        witness.verify_evidence(same.to_dict(), LOG_KEY)
    forged = dict(honest, new_checkpoint=signed(FORKED, 30).replace("\n30\n", "\n31\n"))
    with pytest.raises(LedgerError):
        witness.verify_evidence(forged, LOG_KEY)
    impostor = note.Signer(ORIGIN, key(3)).verifier.to_text()
    fork = witness.Evidence("fork", LOG_KEY, signed(HONEST, 30), signed(FORKED, 30), (), "", NOW)
    with pytest.raises(LedgerError):  # checkpoints signed by someone else prove nothing
        witness.verify_evidence(fork.to_dict(), impostor)
    with pytest.raises(ValidationError):
        witness.Evidence.from_dict({"format": "other"})


def test_cosign_next_remembers_and_refuses_rollback() -> None:
    state, line = witness.cosign_next(None, signed(HONEST, 10), LOG_KEY, [], W1, 7, NOW)
    checkpoint = note.verify_checkpoint(signed(HONEST, 10), LOG_KEY)
    assert note.verify_cosignature(checkpoint, line, W1.verifier) == 7
    loaded = witness.WitnessState.from_dict(state.to_dict(), LOG_KEY)
    assert loaded.seen.checkpoint.size == 10
    grown, _ = witness.cosign_next(
        loaded, signed(HONEST, 20), LOG_KEY, proof(HONEST, 10, 20), W1, 8, NOW
    )
    with pytest.raises(SplitViewError) as caught:  # a consistent rollback, refused
        witness.cosign_next(grown, signed(HONEST, 10), LOG_KEY, proof(HONEST, 10, 20), W1, 9, NOW)
    evidence = caught.value.evidence
    assert evidence["kind"] == "rollback" and evidence["new_checkpoint"] == signed(HONEST, 10)
    witness.verify_evidence(evidence, LOG_KEY)  # publishable
    grew = dict(
        evidence, old_checkpoint=evidence["new_checkpoint"], new_checkpoint=signed(HONEST, 20)
    )
    with pytest.raises(ValidationError):  # growing is no rollback
        witness.verify_evidence(grew, LOG_KEY)
    with pytest.raises(ValidationError):  # a kind the format does not know
        witness.verify_evidence(dict(evidence, kind="other"), LOG_KEY)
    with pytest.raises(ValidationError):
        witness.WitnessState.from_dict(
            state.to_dict(), note.Signer(ORIGIN, key(3)).verifier.to_text()
        )


def test_submission_round_trips_through_the_log_side_parser() -> None:
    state, line = witness.cosign_next(None, signed(HONEST, 20), LOG_KEY, [], W1, 7, NOW)
    hashes = proof(HONEST, 10, 20)
    body = witness.submission(10, hashes, state.seen.note, line)
    old, parsed_proof, text = cosigning.parse_request(body)
    assert (old, parsed_proof) == (10, hashes)
    checkpoint = note.verify_checkpoint(text, LOG_KEY)
    assert [
        w.name for w in note.cosigners(checkpoint, note.Note.from_bytes(text), [W1.verifier])
    ] == ["witness.example/w1"]


@pytest.mark.parametrize(
    "body",
    [
        b"\xff",
        b"old 1\n",
        b"new 1\n\nx\n",
        b"old 01\n\nx\n",
        b"old 1\nnot-base64!\n\nx\n",
        b"old 1\nAAAA\n\nx\n",
        b"old 1\n" + b"AAAA\n" * 64 + b"\nx\n",
    ],
)
def test_malformed_submissions_are_refused(body: bytes) -> None:
    with pytest.raises(LedgerError):
        cosigning.parse_request(body)


def _rolled_back(stamp: int = 8) -> dict[str, object]:
    """A witness that cosigned sizes 10 and 20 (the latter at ``stamp``) is then shown
    size 10 again: the rollback evidence it writes."""
    state, _ = witness.cosign_next(None, signed(HONEST, 10), LOG_KEY, [], W1, 7, NOW)
    grown, _ = witness.cosign_next(
        state, signed(HONEST, 20), LOG_KEY, proof(HONEST, 10, 20), W1, stamp, NOW
    )
    kept = witness.WitnessState.from_dict(grown.to_dict(), LOG_KEY)  # the line survives
    with pytest.raises(SplitViewError) as caught:
        witness.cosign_next(kept, signed(HONEST, 10), LOG_KEY, proof(HONEST, 10, 20), W1, 9, NOW)
    return caught.value.evidence


def test_rollback_evidence_shows_the_log_signed_the_larger_size_first() -> None:
    evidence = _rolled_back()
    checked = witness.verify_evidence(evidence, LOG_KEY, [W1.verifier], min_witnesses=1)
    # the witness dated the larger checkpoint before the observation, and the proof
    # shows the smaller tree a prefix of the larger: the log signed 20 on top of 10
    assert checked.witnessed == (("witness.example/w1", 8),)
    assert checked.prefix_proven
    # without trusted witnesses the file still shows the two sizes and the chain
    assert witness.verify_evidence(evidence, LOG_KEY).prefix_proven


def test_rollback_evidence_that_does_not_show_the_order_is_refused() -> None:
    evidence = _rolled_back()
    with pytest.raises(ValidationError, match="witnesses"):  # too few trusted witnesses
        witness.verify_evidence(evidence, LOG_KEY, [W1.verifier], min_witnesses=2)
    late = _rolled_back(stamp=2_000_000_000)  # dated after the observation (2026)
    with pytest.raises(ValidationError, match="after the observation"):
        witness.verify_evidence(late, LOG_KEY, [W1.verifier])
    unchained = dict(evidence, proof=[note_b64(bytes(32))])
    with pytest.raises(ValidationError, match="prefix"):
        witness.verify_evidence(unchained, LOG_KEY)
    # a forged witness line on the larger checkpoint is not taken as a date
    old = str(evidence["old_checkpoint"])
    head, _, last = old.rstrip("\n").rpartition("\n")
    forged = head + "\n" + last[:-4] + ("AAAA" if not last.endswith("AAAA") else "BBBB") + "\n"
    with pytest.raises(LedgerError):
        witness.verify_evidence(dict(evidence, old_checkpoint=forged), LOG_KEY, [W1.verifier])
    # the observer's order reversed (the smaller kept first) is no rollback
    reversed_ = dict(
        evidence, old_checkpoint=evidence["new_checkpoint"], new_checkpoint=signed(HONEST, 20)
    )
    with pytest.raises(ValidationError):
        witness.verify_evidence(reversed_, LOG_KEY)


def note_b64(raw: bytes) -> str:
    """Standard base64, as evidence files carry hashes."""
    import base64

    return base64.b64encode(raw).decode()
