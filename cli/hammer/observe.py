"""What the hammer's tasks saw: acknowledgements, leaves, checkpoints, timings, anomalies.

One `Observations` is shared by every task of a run (one asyncio loop, so no locks).
It records facts and flags contradictions the moment they appear: an index answered
with two different leaves, an event acknowledged at two indices, two checkpoints of
one size with different roots, a checkpoint whose signature does not verify.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ledger import codec, note
from ledger.errors import LedgerError


@dataclass
class Observations:
    """Facts gathered during a run, checked against the final log by cli.hammer.checks."""

    verifier_key: str
    #: event hash -> (index, leaf hash) of every acknowledged event
    acked: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)
    #: index -> leaf hash, from acknowledgements and reads
    leaves: dict[int, bytes] = field(default_factory=dict)
    #: size -> (root, signed note text) of every checkpoint seen
    checkpoints: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    duplicates: int = 0
    inconsistent: int = 0
    bad_proofs: int = 0
    forks_seen: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    anomalies: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        """Keep the first few anomaly descriptions for the report."""
        if len(self.anomalies) < 20:
            self.anomalies.append(problem)

    def ack(self, body: dict[str, Any], elapsed_ms: float) -> None:
        """Record a receipt (docs/API.md): every event in it, and its checkpoint."""
        self.latencies_ms.append(elapsed_ms)
        for r in body["receipts"]:
            event_hash = codec.b64url_decode(r["event_hash"], field="event_hash")
            leaf_hash = codec.b64url_decode(r["leaf_hash"], field="leaf_hash")
            index = int(r["index"])
            before = self.acked.get(event_hash)
            if before is not None and before[0] != index:
                self.duplicates += 1
                self.note(f"event acknowledged at {before[0]} and at {index}")
            self.acked.setdefault(event_hash, (index, leaf_hash))
            self.leaf(index, leaf_hash)
        self.checkpoint(body["checkpoint"])

    def leaf(self, index: int, leaf_hash: bytes) -> None:
        """Record that ``index`` holds ``leaf_hash``; two different ones is a duplicate."""
        before = self.leaves.setdefault(index, leaf_hash)
        if before != leaf_hash:
            self.duplicates += 1
            self.note(f"index {index} answered with two different leaves")

    def checkpoint(self, text: str) -> note.Checkpoint | None:
        """Verify a signed checkpoint and record it; None (counted) if it does not verify."""
        try:
            checkpoint = note.verify_checkpoint(text, self.verifier_key)
        except LedgerError as e:
            self.inconsistent += 1
            self.note(f"checkpoint does not verify: {e}")
            return None
        before = self.checkpoints.setdefault(checkpoint.size, (checkpoint.root, text))
        if before[0] != checkpoint.root:
            self.inconsistent += 1
            self.note(f"two checkpoints of size {checkpoint.size} with different roots")
        return checkpoint

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of append latencies in ms (nearest rank), 0 if none."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return round(ordered[rank], 1)
