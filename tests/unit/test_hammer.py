"""The hammer's detectors fire: on a lost, duplicated or forked entry in the final log,
on an index or event answered two ways during the run, on a checkpoint that does not
verify or disagrees with another, and the report fails for each. (The end-to-end runs
are in tests/e2e/test_hammer.py.)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from cli.hammer.checks import AuditFacts, LogFacts, judge_audit, log_facts
from cli.hammer.observe import Observations
from cli.hammer.report import Report
from ledger import codec, note
from ledger.audit.replay import AuditReport
from ledger.entry import Leaf
from tests.factories import key
from tests.rules_factories import NOW, base

ORIGIN = "hammer.test/log"
SIGNER = note.Signer(ORIGIN, key(1))


def leaves_of_a_walk() -> list[Leaf]:
    """The base world's log plus a handoff and its receive, as leaves."""
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    world.unit_do("receive", "ship-co")
    return [Leaf.build(signed, NOW) for signed in world.log]


def acks(leaves: list[Leaf]) -> list[tuple[int, bytes]]:
    return [(i, leaf.hash) for i, leaf in enumerate(leaves)]


def test_an_intact_log_has_nothing_lost_duplicated_or_forked() -> None:
    leaves = leaves_of_a_walk()
    assert log_facts(leaves, acks(leaves)) == LogFacts(size=len(leaves))


def test_a_missing_tail_or_a_replaced_leaf_is_lost() -> None:
    leaves = leaves_of_a_walk()
    assert log_facts(leaves[:-2], acks(leaves)).lost == 2
    replaced = [*leaves[:-1], Leaf.build(leaves[-1].signed, datetime(2026, 1, 1, tzinfo=UTC))]
    assert log_facts(replaced, acks(leaves)).lost == 1


def test_an_event_at_two_indices_is_a_duplicate() -> None:
    leaves = leaves_of_a_walk()
    assert log_facts([*leaves, leaves[-1]], acks(leaves)).duplicates == 1


def test_two_successors_of_one_head_are_a_fork() -> None:
    world = base()
    head_world = world.copy()
    world.unit_do("inspect", "insp", result="pass")
    rival = head_world.on_unit("inspect", "customs", result="pass")  # the same prev
    leaves = [Leaf.build(s, NOW) for s in [*world.log, rival]]
    assert log_facts(leaves, []).forks == 1
    commissioned_twice = [*leaves[:-1], leaves[len(base().log) - 1]]
    assert log_facts(commissioned_twice, []).forks >= 1


def observations() -> Observations:
    return Observations(SIGNER.verifier.to_text())


def checkpoint(size: int, root: bytes) -> str:
    return note.sign_checkpoint(note.Checkpoint(ORIGIN, size, root), SIGNER).decode()


def receipt(index: int, event: bytes, leaf: bytes, size: int) -> dict[str, object]:
    return {
        "receipts": [
            {
                "index": index,
                "event_hash": codec.b64url_encode(event),
                "leaf_hash": codec.b64url_encode(leaf),
                "duplicate": False,
            }
        ],
        "checkpoint": checkpoint(size, bytes(32)),
    }


def test_an_event_acknowledged_at_two_indices_is_a_duplicate() -> None:
    obs = observations()
    obs.ack(receipt(3, b"e" * 32, b"l" * 32, 4), 1.0)
    obs.ack(receipt(3, b"e" * 32, b"l" * 32, 4), 1.0)  # a retry: same answer
    assert obs.duplicates == 0
    obs.ack(receipt(5, b"e" * 32, b"m" * 32, 6), 1.0)  # the same event, another index
    assert obs.duplicates == 1
    assert obs.acked[b"e" * 32] == (3, b"l" * 32)


def test_an_index_answered_with_two_leaves_is_a_duplicate() -> None:
    obs = observations()
    obs.leaf(7, b"a" * 32)
    obs.leaf(7, b"a" * 32)
    assert obs.duplicates == 0
    obs.leaf(7, b"b" * 32)
    assert obs.duplicates == 1 and obs.anomalies


def test_checkpoints_must_verify_and_agree_per_size() -> None:
    obs = observations()
    assert obs.checkpoint(checkpoint(3, bytes(32))) is not None
    assert obs.checkpoint(checkpoint(3, bytes(32))) is not None
    assert obs.inconsistent == 0
    obs.checkpoint(checkpoint(3, b"\x01" * 32))  # a second history of size 3
    assert obs.inconsistent == 1
    other = note.Signer(ORIGIN, key(2))
    forged = note.sign_checkpoint(note.Checkpoint(ORIGIN, 4, bytes(32)), other).decode()
    assert obs.checkpoint(forged) is None
    assert obs.inconsistent == 2
    assert 4 not in obs.checkpoints


def test_percentiles_are_nearest_rank() -> None:
    obs = observations()
    assert obs.percentile(50) == 0.0
    obs.latencies_ms.extend(float(n) for n in range(1, 101))
    assert (obs.percentile(50), obs.percentile(99), obs.percentile(100)) == (50.0, 99.0, 100.0)


def test_checkpoint_findings_are_inconsistencies_the_rest_fail_the_audit() -> None:
    report = AuditReport()
    report.add("trusted-checkpoint", "the log does not match a trusted checkpoint")
    facts = judge_audit(report)
    assert (facts.ok, facts.inconsistent) == (True, 1)
    report.add("chain", "running chain hash does not match", 3)
    facts = judge_audit(report)
    assert (facts.ok, facts.inconsistent) == (False, 1) and len(facts.findings) == 2


@pytest.mark.parametrize(
    "broken", ["lost", "duplicates", "forks", "inconsistent", "bad_proofs", "audit"]
)
def test_the_report_fails_on_each_broken_promise(broken: str) -> None:
    obs, log, audit = observations(), LogFacts(size=10), AuditFacts()
    report = Report.build(obs, log, audit, database="sqlite", workers=1, seconds=1.0)
    assert not report.failed and report.verdict().startswith("hammer passed")
    if broken in ("lost", "duplicates", "forks"):
        setattr(log, broken, 1)
    elif broken == "inconsistent":
        audit.inconsistent = 1
    elif broken == "bad_proofs":
        obs.bad_proofs = 1
    else:
        audit.ok = False
    report = Report.build(obs, log, audit, database="sqlite", workers=1, seconds=1.0)
    assert report.failed and report.verdict().startswith("hammer FAILED")


def test_kill_points_fall_one_per_slot_inside_the_run() -> None:
    from cli.hammer.chaos import kill_points

    class _Run:
        rng = random.Random(1)

    for kills in (1, 3, 10):
        points = kill_points(_Run(), kills)  # type: ignore[arg-type]
        assert len(points) == kills and points == sorted(points)
        assert all(0.10 <= p <= 0.85 for p in points)
        width = 0.75 / kills
        assert all(0.10 + k * width <= p <= 0.10 + (k + 1) * width for k, p in enumerate(points))
