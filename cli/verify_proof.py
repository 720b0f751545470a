"""``provenance verify --proof FILE``: check an offline unit proof with no network at all.

Needs the log's verifier key pinned (``--log-key`` or ``PROVENANCE_LOG_KEY``): a proof
that brought its own key would prove nothing. The verdict shown is computed here from
the proven chain (ledger.verify.recompute), never read from a server.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import UsageError, emit, safe

if TYPE_CHECKING:  # the offline verifier loads with --proof only, not with every verify
    from ledger.verify.freshness import Freshness


def verify_proof_file(
    path: Path,
    log_key: str | None,
    witnesses: list[str],
    min_witnesses: int,
    now: int,
    max_age: int,
) -> None:
    """Verify the proof in ``path`` (ledger.verify.unitproof.verify) and print what it shows;
    its checkpoint must be dated at most ``max_age`` seconds before ``now``
    (ledger.verify.freshness; ``--at`` judges an old proof as of its own time).

    Raises:
        UsageError: no log key pinned.
        LedgerError: the proof does not verify (one line, exit 1).
    """
    from rich.table import Table

    from ledger.verify import unitproof

    pinned = log_key or os.environ.get("PROVENANCE_LOG_KEY")
    if not pinned:
        raise UsageError("an offline proof needs the log's key: --log-key or PROVENANCE_LOG_KEY")
    result = unitproof.verify(
        path.read_bytes(), pinned.strip(), witnesses, min_witnesses, now=now, max_age=max_age
    )
    entries = [
        {
            "index": i,
            "kind": leaf.signed.event.kind,
            "actor": leaf.signed.event.actor,
            "time": leaf.signed.event.time,
        }
        for i, leaf in zip(result.chain_indices, result.chain, strict=True)
    ]
    table = Table(title=safe(f"{result.gtin}/{result.serial}"))
    for column in ("index", "event", "by", "time"):
        table.add_column(column)
    for e in entries:
        table.add_row(str(e["index"]), safe(e["kind"]), safe(e["actor"]), safe(e["time"]))
    emit(
        {
            "unit": f"{result.gtin}/{result.serial}",
            "verified": True,
            "size": result.size,
            "witnesses": list(result.witnesses),
            "entries": entries,
            "verdict": result.verdict,
            "reasons": [r.to_dict() for r in result.reasons],
            "complete": result.complete,
            "checkpoint_time": None if result.fresh is None else result.fresh.time,
            "checkpoint_age": None if result.fresh is None else result.fresh.age,
            "dated_by": None if result.fresh is None else result.fresh.source,
            "self_dated": None if result.fresh is None else result.fresh.self_dated,
        },
        f"[bold green]PROVEN[/] {len(entries)} entries in the log's checkpoint of size "
        f"{result.size}, cosigned by {len(result.witnesses)} trusted witnesses; "
        "checked with no network",
        f"the proven chain says [bold]{safe(result.verdict.upper())}[/]: "
        + "; ".join(safe(r.message) for r in result.reasons),
        "the log's map of heads proves this is the unit's whole chain at that size"
        if result.complete
        else "completeness not proven: the checkpoint commits to no map of heads",
        *dated_line(result.fresh),
        "not covered offline: a later revocation of a signer or holder, or a key reported "
        "compromised; `provenance verify GTIN/SERIAL` checks those online",
        table,
    )


def dated_line(fresh: Freshness | None) -> list[str]:
    """One line: the checkpoint's age and who dated it (none when it was not checked)."""
    if fresh is None:
        return []
    when = datetime.fromtimestamp(fresh.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    said = f"checked against the log as of {when} ({fresh.age} s before), dated by {fresh.source}"
    if fresh.self_dated:  # the log dating itself is no evidence against the log
        said += " itself: no evidence against a dishonest log (trust witnesses: --witness KEY)"
    return [safe(said)]
