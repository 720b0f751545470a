"""Audits of a log in this deployment's own store (the pure replay is ledger.audit.replay).

`audit_stored` is the local audit of ``provenance audit --db``: it opens an existing
database without creating or migrating anything, checks the log against the key the
auditor pinned (never one derived from a key file beside it), and against the checkpoint
kept from the previous run (ledger.audit.auditor.KeptCheckpoint), so that a database
restored from an old backup or rewritten is caught without ``--trusted``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ledger import note
from ledger.audit.auditor import KeptCheckpoint, check_kept
from ledger.audit.replay import AuditReport, Progress, audit_source
from ledger.audit.witness import Seen
from ledger.errors import NotFoundError
from ledger.merkle import Subtree
from ledger.rules.state import State
from ledger.store import Store
from ledger.store.queries import LOWEST_NODE_LEVEL
from ledger.stored import StoredCheckpoint, StoredEntry


@dataclass
class StoreSource:
    """A log in a `Store`."""

    store: Store
    log: int
    #: nodes below this level are not stored: the store computes them from the very
    #: leaves the audit reads, so the audit skips them (reading them re-read and
    #: re-hashed every leaf, ~10 % of an audit, for a comparison that cannot fail)
    node_levels_from: ClassVar[int] = LOWEST_NODE_LEVEL
    #: no leaf hash is stored (0014_slim_entries): each entry's is computed from the very
    #: leaf it comes with, so the audit takes it instead of hashing the leaf again
    leaf_hashes_from_leaves: ClassVar[bool] = True

    def head(self) -> tuple[int, bytes | None]:
        """The log row's size and chain."""
        head = self.store.head(self.log)
        return head.size, head.chain

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """Stored entries."""
        return self.store.entries(self.log, start, end)

    def replay_entries(self, start: int, end: int) -> list[StoredEntry]:
        """Stored entries as the replay reads them (`Store.replay_entries`: no event
        hash, key id or receive time, which the replay takes from the parsed leaf)."""
        return self.store.replay_entries(self.log, start, end)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Stored checkpoints."""
        return self.store.checkpoints(self.log)

    def nodes(self, wanted: list[Subtree]) -> dict[Subtree, bytes] | None:
        """Stored Merkle nodes."""
        return self.store.subtrees(self.log, wanted)

    def state(self) -> State | None:
        """Stored projections."""
        return self.store.load_state(self.log)

    def replay_state(self, heads: Mapping[int, str], origin: str) -> State | None:
        """Stored projections, each unit's head taken from ``heads`` (event hashes by
        log index that the replay of this snapshot computed for the log ``origin``)
        where its head index is there (`Store.load_state`): a unit's head is the event
        hash of its entry at that index for the log's origin, so its comparison could
        not fail there. When the log row names another origin (`audit_log` reports
        it), every head is read from its entry instead, as `state` does."""
        if self.store.head(self.log).origin != origin:
            return self.state()
        return self.store.load_state(self.log, heads)


def audit_log(
    store: Store,
    log: int,
    verifier_key: str,
    *,
    trusted: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit log ``log`` in ``store`` against the log's C2SP ``verifier_key``, as the
    database stood at the audit's first read (`Store.snapshot`): appends made meanwhile
    are neither seen nor reported.

    Args:
        trusted: checkpoint note texts an auditor kept outside the database.
        workers: threads for signature verification (default: one per core).
        progress: called with (entries done, total) after each chunk.
    """
    with store.snapshot() as held:  # a live log: head, entries and projections agree
        report = audit_source(
            StoreSource(held, log),
            verifier_key,
            trusted=trusted,
            workers=workers,
            progress=progress,
        )
        head = held.head(log)
        _entries_past_head(held, log, head.size, report)
        _check_origin(head.origin, verifier_key, report)
        return report


def _check_origin(stored: str, verifier_key: str, report: AuditReport) -> None:
    """Report an ``origin`` finding when the log row's origin is not the verifier key's
    name: format-2 event hashes name the log's origin, and a reader that takes the
    origin from the row (a read-only `Ledger`, every stored unit head) would compute
    every such hash, and so every unit head it serves, for another log; the replay
    itself reads against the verifier key's name. ``stored``: the row's origin."""
    expected = note.Verifier.from_text(verifier_key).name
    if stored != expected:
        report.add(
            "origin",
            f"the log row's origin {stored!r} is not the verifier key's name {expected!r}",
            stored=stored,
            expected=expected,
        )


def _entries_past_head(store: Store, log: int, size: int, report: AuditReport) -> None:
    """Report entry rows at or past the head's ``size`` (an ``entry-past-head`` finding):
    no append writes them, the replay (which reads up to the head) never sees them, and
    the append that reaches the first one fails on its primary key."""
    count, first = store.entries_past(log, size)
    if count:
        report.add(
            "entry-past-head",
            f"{count} stored entries at or past the head's size {size}, the first at "
            f"index {first}: no append wrote them",
            first,
            count=count,
            size=size,
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
    store = Store.open(url)  # the load generator's own database: migrating it is fine
    try:
        found = store.find_log(name)
        if found is None:
            return None
        return audit_log(
            store, found.id, verifier_key, trusted=trusted, workers=workers, progress=progress
        )
    finally:
        store.close()


@dataclass(frozen=True)
class StoredAudit:
    """What `audit_stored` found, the log's origin, and the checkpoint to keep when
    nothing was found (None: keep the old one)."""

    report: AuditReport
    origin: str
    kept: KeptCheckpoint | None


def audit_stored(
    url: str,
    name: str,
    log_key: str,
    kept_for: Callable[[str], KeptCheckpoint | None],
    observed_at: str,
    *,
    trusted: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> StoredAudit:
    """Audit the existing log ``name`` in the database at ``url`` against ``log_key``.

    Nothing is created or migrated (a mistyped database is refused, not made). Steps:
    (1) the latest stored checkpoint verifies under ``log_key``; (2) against the
    checkpoint kept for its origin (``kept_for(origin)``, None: none kept): consistent
    and not smaller (ledger.audit.auditor.check_kept: ``split-view`` or ``rollback``
    findings with their evidence), and the kept checkpoint joins ``trusted``; (3) the
    full audit (`audit_log`).

    Raises:
        StorageError: the database cannot be reached, or holds no provenance tables.
        NotFoundError: no log ``name`` in it, or the log has no checkpoint yet.
        NoteError, CheckpointSignatureError: the latest checkpoint does not verify.
        LedgerError: whatever ``kept_for`` raises (a state file kept for another key).
    """
    store = Store.open(url, create=False)
    try:
        found = store.find_log(name)
        if found is None:
            raise NotFoundError(f"no log named {name!r} in this database", field="log")
        latest = Seen.verified(store.checkpoint(found.id).note, log_key)  # (1)
        previous = kept_for(latest.checkpoint.origin)
        report = AuditReport()
        kept = list(trusted)
        if previous is not None:  # (2)
            old = previous.seen.checkpoint.size
            size = latest.checkpoint.size
            proof = store.consistency_proof(found.id, old, size) if 0 < old < size else None
            check_kept(report, previous.seen, latest.note, log_key, proof, observed_at)
            if old <= size:
                kept.append(previous.seen.note)
        full = audit_log(  # (3)
            store, found.id, log_key, trusted=kept, workers=workers, progress=progress
        )
    finally:
        store.close()
    full.findings[:0] = report.findings
    origin = latest.checkpoint.origin
    return StoredAudit(full, origin, KeptCheckpoint(log_key, latest) if full.ok else None)
