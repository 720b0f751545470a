"""The end-of-run checks: the final log against everything the run saw, then the audit.

1. Read the final signed checkpoint and every entry of its tree.
2. lost: an acknowledged event whose index is beyond the tree or holds another leaf.
3. duplicates: one event at two indices of the log (on top of the contradictions
   cli.hammer.observe flagged during the run: an index with two leaves, an event
   acknowledged at two indices, a re-sent request appended again).
4. forks: a unit head with two successors, i.e. two entries of one unit naming the
   same ``prev`` (two commissions of one unit count too).
5. The full audit (ledger.audit.replay) replays the log with every checkpoint the run saw as
   a *trusted* checkpoint: one that the log does not reproduce at its size (or that is
   beyond the log) is an inconsistent checkpoint; any other finding fails the audit.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from cli.hammer.observe import Observations
from ledger import codec, merkle, note
from ledger.audit.replay import AuditReport
from ledger.entry import Leaf
from ledger.errors import LedgerError
from ledger.events import UnitEvent

#: audit findings that mean a checkpoint someone was given is not the log's history
CHECKPOINT_FINDINGS = {"trusted-checkpoint", "truncated", "trusted-checkpoint-invalid"}


@dataclass
class LogFacts:
    """What the final log says."""

    size: int = 0
    lost: int = 0
    duplicates: int = 0
    forks: int = 0


@dataclass
class AuditFacts:
    """What the audit says."""

    ok: bool = True
    inconsistent: int = 0
    findings: list[str] = field(default_factory=list)


async def read_log(client: httpx.AsyncClient, obs: Observations, timeout: float = 120) -> LogFacts:
    """Steps 1-4 against the server (waiting up to ``timeout`` s for it to answer).

    Raises:
        httpx.HTTPError: the server did not answer.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = await client.get("/v1/checkpoint", timeout=30)
            response.raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    checkpoint = obs.checkpoint(response.text)  # (1)
    if checkpoint is None:
        return LogFacts()
    leaves = await _leaves(client, checkpoint, obs)
    facts = log_facts(leaves, obs.acked.values())
    if facts.lost:
        obs.note(f"{facts.lost} acknowledged entries are not in the final log")
    return facts


def log_facts(leaves: Sequence[Leaf], acked: Iterable[tuple[int, bytes]]) -> LogFacts:
    """Steps 2-4 on the final log's leaves (index order) and the (index, leaf hash) acks."""
    facts = LogFacts(size=len(leaves))
    for index, leaf_hash in acked:  # (2)
        if index >= len(leaves) or leaves[index].hash != leaf_hash:
            facts.lost += 1
    events = Counter(leaf.signed.hash for leaf in leaves)  # (3)
    facts.duplicates = sum(n - 1 for n in events.values())
    heads: Counter[tuple[str, str, str | None]] = Counter()  # (4)
    for leaf in leaves:
        event = leaf.signed.event
        unit = getattr(event, "unit", None)
        if unit is not None:
            prev = event.prev if isinstance(event, UnitEvent) else None
            heads[(unit.gtin, unit.serial, prev)] += 1
    facts.forks = sum(n - 1 for n in heads.values())
    return facts


async def _leaves(
    client: httpx.AsyncClient, checkpoint: note.Checkpoint, obs: Observations
) -> list[Leaf]:
    """Every leaf of the checkpoint's tree, in index order, each hash checked."""
    out: list[Leaf] = []
    while len(out) < checkpoint.size:
        params = {"start": len(out), "end": len(out) + 1000, "size": checkpoint.size}
        response = await client.get("/v1/entries", params=params, timeout=120)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["entries"]
        if not items:
            break
        for item in items:
            leaf_bytes = codec.b64url_decode(item["leaf"], field="leaf")
            claimed = codec.b64url_decode(item["leaf_hash"], field="leaf_hash")
            if int(item["index"]) != len(out) or merkle.leaf_hash(leaf_bytes) != claimed:
                obs.bad_proofs += 1
                obs.note(f"entry {item['index']} does not hash to its leaf hash or is out of place")
            try:
                out.append(Leaf.from_bytes(leaf_bytes, checkpoint.origin))
            except LedgerError as e:
                obs.bad_proofs += 1
                obs.note(f"entry {item['index']} is malformed: {e}")
                return out
            obs.leaf(len(out) - 1, claimed)
    return out


def judge_audit(report: AuditReport) -> AuditFacts:
    """Step 5: split the audit's findings into inconsistent checkpoints and the rest."""
    facts = AuditFacts()
    for finding in report.findings:
        if finding.code in CHECKPOINT_FINDINGS:
            facts.inconsistent += 1
        else:
            facts.ok = False
        if len(facts.findings) < 10:
            where = "" if finding.index is None else f" at {finding.index}"
            facts.findings.append(f"{finding.code}{where}: {finding.message}")
    return facts


def trusted_checkpoints(obs: Observations) -> list[str]:
    """One signed checkpoint text per size the run saw, smallest first."""
    return [text for _, (_, text) in sorted(obs.checkpoints.items())]
