"""The outside auditor: audit an export bundle offline, or follow a server run after run.

`audit_bundle` replays a bundle (ledger.audit.bundle) with ledger.audit.replay's full replay and
also checks every witness cosignature in it.

`follow` is the incremental remote audit. The auditor keeps an `AuditorState` file: the
last checkpoint it verified (re-verified on load), the replayed projections, the running
chain hash and the right edge of the Merkle tree. Each run:

1. fetches the latest checkpoint and verifies it under the pinned log key;
2. checks it against the remembered one (`check_kept`: same size, same root; otherwise
   the server's consistency proof must verify, and the log must not have gone back); a
   failure is a ``split-view`` (or ``rollback``) finding whose evidence is both signed
   checkpoints and the proof;
3. replays only the new entries through the rules from the remembered state: leaf
   hashes, signatures, rules, and the recomputed root at the new size, which must be the
   checkpoint's;
4. returns the new state only when nothing was found (the caller saves it), so a
   failed run is repeated in full next time, never skipped.

The first run (no state) replays from genesis. Service layer: reads no files.

`KeptCheckpoint` is the smaller memory of the local audit (ledger.service.audit): the
last checkpoint it verified, per log, so that a database restored from an old backup (a
consistent rollback) or rewritten is caught without ``--trusted``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger import codec, merkle, note
from ledger.audit.bundle import Bundle
from ledger.audit.checkpoints import check_checkpoints
from ledger.audit.replay import (
    AuditReport,
    Progress,
    _check_log_key,
    _check_signatures,
    _expect_rows,
    _Replay,
    _replay_entry,
    audit_source,
)
from ledger.audit.sigpipe import SignaturePipeline
from ledger.audit.witness import ROLLBACK, Seen, check_consistent, refuse_rollback
from ledger.audit.workers import parse_leaves
from ledger.entry import Leaf
from ledger.errors import LedgerError, SplitViewError, ValidationError
from ledger.merkle import Subtree
from ledger.note.checkpoint import verify_checkpoint
from ledger.rules import state
from ledger.stored import EVENT_KEY_SIZE, StoredCheckpoint, StoredEntry

STATE_FORMAT = "provenance-ledger/audit-state@v1"
KEPT_FORMAT = "provenance-ledger/kept-checkpoint@v1"
CHUNK = 1000
_RECORDS: dict[str, type[Any]] = {
    "actor": state.ActorRecord,
    "key": state.KeyRecord,
    "authorization": state.AuthorizationRecord,
    "product": state.ProductRecord,
    "unit": state.UnitRecord,
}


def entry_from_leaf(index: int, leaf_bytes: bytes, origin: str | None = None) -> StoredEntry:
    """A `StoredEntry` whose columns are derived from the leaf bytes (no stored chain);
    ``origin`` is the log's, which a format-2 leaf's event hash names."""
    try:
        leaf = Leaf.from_bytes(leaf_bytes, origin)
        signed = leaf.signed
        unit = getattr(signed.event, "unit", None)
        columns = (signed.event.kind, signed.event.actor, signed.key, leaf.received, signed.hash)
        gtin, serial = (unit.gtin, unit.serial) if unit else (None, None)
    except LedgerError:  # reported by the replay, which parses the leaf again
        columns, gtin, serial = ("?", "?", "?", "?", b""), None, None
    kind, signer, key, received, event_hash = columns
    return StoredEntry(
        index=index,
        leaf=leaf_bytes,
        leaf_hash=merkle.leaf_hash(leaf_bytes),
        chain=None,
        event_hash=event_hash,
        kind=kind,
        gtin=gtin,
        serial=serial,
        signer=signer,
        key_id=key,
        received=received,
        event_key=event_hash[:EVENT_KEY_SIZE],
    )


@dataclass
class BundleSource:
    """An `ledger.audit.replay.AuditSource` over a parsed export bundle."""

    bundle: Bundle

    def head(self) -> tuple[int, bytes | None]:
        """The header's size and running chain hash."""
        return self.bundle.size, self.bundle.chain

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """The bundle's leaves with ``start <= index < end``."""
        stop = min(end, len(self.bundle.leaves))
        origin = self.bundle.origin
        return [entry_from_leaf(i, self.bundle.leaves[i], origin) for i in range(start, stop)]

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint in the bundle (parsed unverified: the audit verifies them)."""
        out = []
        for text in self.bundle.checkpoints:
            try:
                body = note.Checkpoint.from_body(note.Note.from_bytes(text).text)
                out.append(StoredCheckpoint(body.size, body.root, text, ""))
            except LedgerError:
                out.append(StoredCheckpoint(-1, b"", text, ""))  # the audit reports it
        return out

    def nodes(self, wanted: list[Subtree]) -> dict[Subtree, bytes] | None:
        """A bundle carries no tree nodes: the recomputed roots are checked instead."""
        return None

    def state(self) -> state.State | None:
        """A bundle carries no projections."""
        return None


def audit_bundle(
    bundle: Bundle,
    log_key: str,
    *,
    trusted: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit an export bundle offline against the pinned ``log_key``.

    The full replay of ledger.audit.replay, plus: every cosignature in a checkpoint by one of
    the bundle's witness keys must verify.
    """
    report = audit_source(
        BundleSource(bundle), log_key, trusted=trusted, workers=workers, progress=progress
    )
    try:
        witnesses = note.parse_witness_keys(bundle.witness_keys)
    except LedgerError as e:
        report.add("witness-key", f"a witness key in the bundle is malformed: {e}")
        return report
    for text in bundle.checkpoints:
        try:
            checkpoint = note.verify_checkpoint(text, log_key)
            note.cosigners(checkpoint, note.Note.from_bytes(text), witnesses)
        except LedgerError as e:
            report.add("cosignature", f"a checkpoint's cosignature does not verify: {e}")
    return report


@dataclass
class AuditorState:
    """What the auditor remembers between runs (see the module docstring)."""

    log_key: str
    seen: Seen
    chain: bytes
    frontier: dict[Subtree, bytes]
    records: list[state.Record] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the state file (docs/FORMAT.md, "Auditor state")."""
        return {
            "format": STATE_FORMAT,
            "log_key": self.log_key,
            "seen": self.seen.to_dict(),
            "chain": codec.b64url_encode(self.chain),
            "frontier": [
                [s.level, s.start, codec.b64url_encode(h)] for s, h in self.frontier.items()
            ],
            "records": [_record_json(r) for r in self.records],
        }

    @classmethod
    def from_dict(cls, data: Any, log_key: str) -> AuditorState:
        """Load a state file kept for the log with ``log_key``; re-verify its checkpoint.

        Raises:
            ValidationError: not a state file, or one kept for another log key.
            NoteError, CheckpointSignatureError: its checkpoint does not verify.
        """
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValidationError(f"not a {STATE_FORMAT} file", field="state")
        if data.get("log_key") != log_key:
            raise ValidationError("the state file was kept for another log key", field="state")
        try:
            frontier = {
                Subtree(int(level), int(start)): codec.b64url_decode(h, size=32)
                for level, start, h in data["frontier"]
            }
            records = [_record_from_json(r) for r in data["records"]]
            chain = codec.b64url_decode(data["chain"], field="chain", size=32)
        except (KeyError, TypeError, ValueError) as e:
            raise ValidationError(f"malformed state file: {e}", field="state") from e
        return cls(log_key, Seen.from_dict(data.get("seen"), log_key), chain, frontier, records)


def _record_json(record: state.Record) -> dict[str, Any]:
    return {"table": record.key[0], **dataclasses.asdict(record)}


def _record_from_json(data: dict[str, Any]) -> state.Record:
    fields = dict(data)
    kind = _RECORDS[fields.pop("table")]
    if kind is state.UnitRecord and "holders" not in fields:
        # kept before units had a custody history: it cannot be rebuilt from the file
        raise KeyError("a unit without holders (kept before migration 0008_custody)")
    for name in ("prefixes", "gtins", "holders", "containers"):
        if name in fields:
            fields[name] = tuple(fields[name])
    record: state.Record = kind(**fields)
    return record


class FollowSource(Protocol):
    """What `follow` needs from a server."""

    def latest_checkpoint(self) -> str:
        """The latest signed checkpoint note."""

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The RFC 9162 consistency proof between two sizes."""

    def entries_at(self, start: int, end: int, size: int) -> list[StoredEntry]:
        """Entries ``start <= index < end`` of the tree of ``size``."""


def follow(
    source: FollowSource,
    log_key: str,
    previous: AuditorState | None,
    observed_at: str,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> tuple[AuditReport, AuditorState | None]:
    """Run the incremental audit (module docstring); the new state when nothing was found."""
    report = AuditReport()
    seen = Seen.verified(source.latest_checkpoint(), log_key)  # (1)
    new = seen.checkpoint
    replay = _Replay(origin=new.origin, signatures=SignaturePipeline(0, workers))
    if previous is not None:
        old = previous.seen.checkpoint
        proof = _proof_between(source, old.size, new.size)
        if not check_kept(report, previous.seen, seen.note, log_key, proof, observed_at):  # (2)
            return report, None
        replay.state.apply(previous.records)
        replay.chain, replay.size = previous.chain, old.size
        replay.frontier = {(s.level, s.start): h for s, h in previous.frontier.items()}
    _replay_new(report, replay, source, new.size, progress)  # (3)
    if replay.size == new.size and new.size not in replay.roots:  # nothing new to replay
        pieces = merkle.range_subtrees(0, new.size)
        replay.roots[new.size] = merkle.range_root([replay.frontier[p] for p in pieces])
    _check_signatures(report, replay.signatures)
    _check_log_key(report, replay.state, note.Verifier.from_text(log_key))
    stored = [StoredCheckpoint(new.size, new.root, seen.note, "")] if new.size else []
    check_checkpoints(report, stored, [], note.Verifier.from_text(log_key), replay.roots)
    report.entries = replay.size - (previous.seen.checkpoint.size if previous else 0)
    report.checkpoints = 1
    if not report.ok:  # (4)
        return report, None
    # the replay keys its frontier by plain (level, start) tuples: the state names them
    frontier = {Subtree(level, start): h for (level, start), h in replay.frontier.items()}
    return report, AuditorState(log_key, seen, replay.chain, frontier, replay.state.records())


def _replay_new(
    report: AuditReport,
    replay: _Replay,
    source: FollowSource,
    size: int,
    progress: Progress | None,
) -> None:
    start = replay.size
    while start < size:
        end = min(size, start + CHUNK)
        rows = source.entries_at(start, end, size)
        _expect_rows(report, rows, start, end)
        for row, leaf in zip(
            rows, parse_leaves([r.leaf for r in rows], replay.origin), strict=True
        ):
            _replay_entry(report, replay, row, leaf, None, {size})
        if progress:
            progress(end, size)
        if replay.size != end:
            return  # a gap: reported; the rest cannot be replayed
        start = end


def check_kept(
    report: AuditReport,
    seen: Seen,
    note_text: str,
    log_key: str,
    proof: Sequence[bytes] | None,
    observed_at: str,
) -> bool:
    """Check the log's latest checkpoint against the one kept from a previous run.

    ``proof`` is the log's consistency proof between the two sizes (None: the log cannot
    give one, as a truncated database cannot prove its way to a size it no longer has).
    Adds a ``split-view`` finding (a fork, or a failed proof) or a ``rollback`` one (the
    latest is smaller than the kept one), each with the evidence
    (ledger.audit.witness.Evidence) that `verify_evidence` accepts; returns True when the
    latest checkpoint continues the kept one.

    Raises:
        NoteError, CheckpointSignatureError: the latest checkpoint does not verify under
            ``log_key`` with the kept checkpoint's origin.
    """
    new = verify_checkpoint(note_text, log_key, origin=seen.checkpoint.origin)
    try:
        if proof is not None or new.size >= seen.checkpoint.size:
            check_consistent(seen, note_text, log_key, proof or [], observed_at)
        refuse_rollback(seen, note_text, new, log_key, proof or [], observed_at)
    except SplitViewError as e:
        code = "rollback" if e.evidence.get("kind") == ROLLBACK else "split-view"
        report.add(code, e.message, evidence=e.evidence)
        return False
    return True


@dataclass(frozen=True)
class KeptCheckpoint:
    """The local audit's memory of one log: its pinned key and the checkpoint it verified."""

    log_key: str
    seen: Seen

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the state file (docs/AUDIT.md, "State files")."""
        return {"format": KEPT_FORMAT, "log_key": self.log_key, "seen": self.seen.to_dict()}

    @classmethod
    def from_dict(cls, data: Any, log_key: str) -> KeptCheckpoint:
        """Load a state file kept for the log with ``log_key``; re-verify its checkpoint.

        Raises:
            ValidationError: not such a state file, or one kept for another log key.
            NoteError, CheckpointSignatureError: its checkpoint does not verify.
        """
        if not isinstance(data, dict) or data.get("format") != KEPT_FORMAT:
            raise ValidationError(f"not a {KEPT_FORMAT} file", field="state")
        if data.get("log_key") != log_key:
            raise ValidationError("the state file was kept for another log key", field="state")
        return cls(log_key, Seen.from_dict(data.get("seen"), log_key))


class KeptSource(FollowSource, Protocol):
    """A source `audit_kept` can replay in full and check against a kept checkpoint."""

    def head(self) -> tuple[int, bytes | None]:
        """The size of the tree the audit covers (the latest checkpoint's)."""

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """Entries ``start <= index < end`` of that tree."""

    def checkpoints(self) -> list[StoredCheckpoint]:
        """The checkpoints to check (the latest)."""

    def nodes(self, wanted: list[Subtree]) -> dict[Subtree, bytes] | None:
        """Stored tree nodes, if any."""

    def state(self) -> state.State | None:
        """Stored projections, if any."""


def audit_kept(
    source: KeptSource,
    log_key: str,
    previous: KeptCheckpoint | None,
    observed_at: str,
    *,
    trusted: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> tuple[AuditReport, KeptCheckpoint | None]:
    """The full audit of a served log, checked against the checkpoint kept last time.

    Steps: (1) the latest checkpoint verifies under ``log_key``; (2) against
    ``previous``: `check_kept` (the log's consistency proof between the two sizes;
    ``split-view`` or ``rollback`` findings with evidence), and the kept checkpoint
    joins ``trusted``; (3) the full replay (ledger.audit.replay.audit_source) of that
    same tree. Returns the report and the checkpoint to keep (None when something was
    found: the caller keeps the old one).

    Raises:
        NoteError, CheckpointSignatureError: the latest checkpoint does not verify.
    """
    latest = Seen.verified(source.latest_checkpoint(), log_key)  # (1)
    found = AuditReport()
    kept = list(trusted)
    if previous is not None:  # (2)
        old, size = previous.seen.checkpoint.size, latest.checkpoint.size
        proof = _proof_between(source, old, size)
        check_kept(found, previous.seen, latest.note, log_key, proof, observed_at)
        if old <= size:
            kept.append(previous.seen.note)
    report = audit_source(source, log_key, trusted=kept, workers=workers, progress=progress)
    report.findings[:0] = found.findings
    return report, KeptCheckpoint(log_key, latest) if report.ok else None


def _proof_between(source: FollowSource, old: int, size: int) -> list[bytes] | None:
    """The log's consistency proof between the kept and the latest size; a log that
    refuses one for a larger tree gets an empty proof (which then fails), one that went
    back and cannot prove its way to the kept size gets None (`check_kept`)."""
    if old == size:
        return []
    try:
        return source.consistency_proof(min(old, size), max(old, size))
    except LedgerError:
        return [] if size > old else None
