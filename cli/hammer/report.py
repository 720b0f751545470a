"""The hammer's report: the numbers, the one-line verdict, and whether the run failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cli.hammer.checks import AuditFacts, LogFacts
from cli.hammer.observe import Observations


@dataclass
class Report:
    """One run's outcome (docs/CLI.md, schema ``hammer``)."""

    acked: int
    lost: int
    duplicates: int
    forks: int
    inconsistent_checkpoints: int
    kills: int
    p50_ms: float
    p99_ms: float
    bad_proofs: int
    audit_ok: bool
    database: str
    workers: int
    seconds: float
    log_size: int
    conflicts: int
    refused: int
    retries: int
    in_doubt: int
    races: int
    reads: int
    consistency_proofs: int
    checkpoints_seen: int
    anomalies: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        obs: Observations,
        log: LogFacts,
        audit: AuditFacts,
        *,
        database: str,
        workers: int,
        seconds: float,
    ) -> Report:
        """Combine what the run saw, the final log and the audit."""
        c = obs.counts
        return cls(
            acked=len(obs.acked),
            lost=log.lost,
            duplicates=obs.duplicates + log.duplicates,
            forks=log.forks,
            inconsistent_checkpoints=obs.inconsistent + audit.inconsistent,
            kills=c["kills"],
            p50_ms=obs.percentile(50),
            p99_ms=obs.percentile(99),
            bad_proofs=obs.bad_proofs,
            audit_ok=audit.ok,
            database=database,
            workers=workers,
            seconds=round(seconds, 1),
            log_size=log.size,
            conflicts=c["conflicts"],
            refused=c["refused"],
            retries=c["retries"],
            in_doubt=c["in_doubt"],
            races=c["races"],
            reads=c["reads"],
            consistency_proofs=c["consistency_proofs"],
            checkpoints_seen=len(obs.checkpoints),
            anomalies=obs.anomalies + audit.findings,
        )

    @property
    def failed(self) -> bool:
        """True when a promise broke: loss, duplicate, fork, split view, bad proof, audit."""
        broken = self.lost + self.duplicates + self.forks + self.inconsistent_checkpoints
        return bool(broken or self.bad_proofs or not self.audit_ok)

    def verdict(self) -> str:
        """The one-line summary."""
        head = "hammer FAILED" if self.failed else "hammer passed"
        audit = "audit passed" if self.audit_ok else "audit FAILED"
        return (
            f"{head}: {self.acked} acked, {self.kills} kills survived on {self.database} "
            f"({self.workers} worker{'s' if self.workers > 1 else ''}, {self.seconds} s): "
            f"{self.lost} lost, "
            f"{self.duplicates} duplicates, {self.forks} forks, "
            f"{self.inconsistent_checkpoints} inconsistent checkpoints, "
            f"{self.bad_proofs} bad proofs; {audit}; "
            f"append p50 {self.p50_ms} ms, p99 {self.p99_ms} ms"
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` report."""
        return asdict(self)
