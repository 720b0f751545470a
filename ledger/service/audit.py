"""Audits of a log in this deployment's own store (the pure replay is ledger.audit.replay)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.audit.replay import AuditReport, Progress, audit_source
from ledger.merkle import Subtree
from ledger.rules.state import State
from ledger.store import Store
from ledger.stored import StoredCheckpoint, StoredEntry


@dataclass
class StoreSource:
    """A log in a `Store`."""

    store: Store
    log: int

    def head(self) -> tuple[int, bytes | None]:
        """The log row's size and chain."""
        head = self.store.head(self.log)
        return head.size, head.chain

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """Stored entries."""
        return self.store.entries(self.log, start, end)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Stored checkpoints."""
        return self.store.checkpoints(self.log)

    def nodes(self, wanted: list[Subtree]) -> dict[Subtree, bytes] | None:
        """Stored Merkle nodes."""
        return self.store.subtrees(self.log, wanted)

    def state(self) -> State | None:
        """Stored projections."""
        return self.store.load_state(self.log)


def audit_log(
    store: Store,
    log: int,
    verifier_key: str,
    *,
    trusted: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit log ``log`` in ``store`` against the log's C2SP ``verifier_key``.

    Args:
        trusted: checkpoint note texts an auditor kept outside the database.
        workers: threads for signature verification (default: one per core).
        progress: called with (entries done, total) after each chunk.
    """
    return audit_source(
        StoreSource(store, log), verifier_key, trusted=trusted, workers=workers, progress=progress
    )


def audit_database(
    url: str,
    name: str,
    verifier_key: str,
    *,
    trusted: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> AuditReport | None:
    """Audit the log called ``name`` in the database at ``url`` (`audit_log`), opening
    and closing the store; None when the database holds no such log.

    Raises:
        StorageError: the database cannot be reached or migrated.
    """
    store = Store.open(url)
    try:
        found = store.find_log(name)
        if found is None:
            return None
        return audit_log(
            store, found.id, verifier_key, trusted=trusted, workers=workers, progress=progress
        )
    finally:
        store.close()
