"""What an audit found: `Finding`s gathered in an `AuditReport` (ledger.audit.replay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One thing that does not check out: a stable code, a message, where and why."""

    code: str
    message: str
    index: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as plain JSON-ready data."""
        return {
            "code": self.code,
            "message": self.message,
            "index": self.index,
            "evidence": self.evidence,
        }


@dataclass
class AuditReport:
    """Everything the audit found; truthy when the log checks out."""

    entries: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)
    #: first index of the earliest range that disagreeing checkpoint roots implicate
    suspect_from: int | None = None

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings

    def __bool__(self) -> bool:
        return self.ok

    @property
    def first_bad_index(self) -> int | None:
        """The lowest index a finding names (see the module docstring)."""
        exact = [f.index for f in self.findings if f.index is not None]
        return min(exact) if exact else self.suspect_from

    def add(self, code: str, message: str, index: int | None = None, **evidence: Any) -> None:
        """Record a finding."""
        self.findings.append(Finding(code, message, index, evidence))

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "first_bad_index": self.first_bad_index,
            "findings": [f.to_dict() for f in self.findings],
        }
