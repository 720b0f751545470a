"""The auditor's memory (ledger.audit.auditor): `check_kept`, `audit_kept`, `follow`.

A log built from the scripted base world, served by an in-memory source at any size:
a log that grows passes and moves the kept checkpoint; the same log served smaller (a
consistent rollback) or rewritten is refused with evidence that `verify_evidence`
accepts, and nothing is kept; a state file kept for another key is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ledger import merkle, note
from ledger.audit.auditor import (
    AuditorState,
    KeptCheckpoint,
    audit_kept,
    entry_from_leaf,
    follow,
)
from ledger.audit.witness import verify_evidence
from ledger.entry import Leaf
from ledger.errors import ValidationError
from ledger.merkle import Subtree
from ledger.rules.state import State
from ledger.stored import StoredCheckpoint, StoredEntry
from tests.factories import key
from tests.rules_factories import NOW, ORIGIN, base

LOG = note.Signer(ORIGIN, key(1))
LOG_KEY = LOG.verifier.to_text()
WHEN = "2026-11-28T12:00:00Z"


def leaves(extra: int, tag: str = "K") -> list[bytes]:
    """The base world's log plus ``extra`` commissions, as leaf bytes."""
    world = base()
    for i in range(extra):
        world.commission(serial=f"{tag}-{i}")
    return [Leaf.build(s, NOW).data for s in world.log]


@dataclass
class Source:
    """A log served at ``size`` (a `KeptSource` and a `FollowSource`)."""

    data: list[bytes]
    size: int

    def _hashes(self) -> list[bytes]:
        return [merkle.leaf_hash(b) for b in self.data]

    def latest_checkpoint(self) -> str:
        checkpoint = note.Checkpoint(ORIGIN, self.size, merkle.root(self._hashes()[: self.size]))
        return note.sign_checkpoint(checkpoint, LOG).decode()

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        if new > self.size:
            raise ValidationError("beyond the tree", field="new")
        return merkle.consistency_proof(self._hashes(), old, new)

    def entries_at(self, start: int, end: int, size: int) -> list[StoredEntry]:
        return [entry_from_leaf(i, self.data[i], ORIGIN) for i in range(start, min(end, size))]

    def head(self) -> tuple[int, bytes | None]:
        return self.size, None

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        return self.entries_at(start, end, self.size)

    def checkpoints(self) -> list[StoredCheckpoint]:
        text = self.latest_checkpoint()
        root = merkle.root(self._hashes()[: self.size])
        return [StoredCheckpoint(self.size, root, text, "")]

    def nodes(self, wanted: list[Subtree]) -> dict[Subtree, bytes] | None:
        return None

    def state(self) -> State | None:
        return None


def test_a_growing_log_passes_and_a_rollback_or_rewrite_is_refused_with_evidence() -> None:
    data = leaves(4)
    small = len(data) - 3
    report, kept = audit_kept(Source(data, small), LOG_KEY, None, WHEN)
    assert report.ok and kept is not None and kept.seen.checkpoint.size == small
    grown, later = audit_kept(Source(data, len(data)), LOG_KEY, kept, WHEN)
    assert grown.ok and later is not None and later.seen.checkpoint.size == len(data)

    back, none = audit_kept(Source(data, small), LOG_KEY, later, WHEN)  # consistent, smaller
    assert none is None and back.findings[0].code == "rollback"
    verify_evidence(back.findings[0].evidence["evidence"], LOG_KEY)

    rewritten = leaves(4, tag="R")  # same prefix, another history after it
    forked, none = audit_kept(Source(rewritten, len(rewritten)), LOG_KEY, later, WHEN)
    assert none is None and forked.findings[0].code == "split-view"
    assert forked.findings[0].evidence["evidence"]["kind"] == "fork"
    verify_evidence(forked.findings[0].evidence["evidence"], LOG_KEY)

    loaded = KeptCheckpoint.from_dict(later.to_dict(), LOG_KEY)
    assert loaded == later
    with pytest.raises(ValidationError):
        KeptCheckpoint.from_dict(later.to_dict(), note.Signer(ORIGIN, key(3)).verifier.to_text())


def test_the_incremental_auditor_refuses_a_rollback_with_evidence() -> None:
    data = leaves(3)
    report, state = follow(Source(data, len(data)), LOG_KEY, None, WHEN)
    assert report.ok and isinstance(state, AuditorState)
    back, none = follow(Source(data, len(data) - 2), LOG_KEY, state, WHEN)
    assert none is None and back.findings[0].code == "rollback"
    evidence = back.findings[0].evidence["evidence"]
    assert evidence["kind"] == "rollback"
    verify_evidence(evidence, LOG_KEY)
