"""Split-view evidence: two signed checkpoints of one log that cannot both be honest.

`Evidence` is the publishable record (docs/FORMAT.md section 12) that a witness or an
auditor writes when it refuses a checkpoint (ledger.audit.witness): a ``fork``, an
``inconsistent`` pair, a ``rollback`` or a ``map-update``. `verify_evidence` lets anyone
holding the log's key re-check one. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from ledger import codec, merkle
from ledger.errors import LedgerError, ValidationError
from ledger.events import parse_time
from ledger.map.commit import root_of
from ledger.map.proof import MapProofError
from ledger.map.updateproof import UpdateProof, check
from ledger.note.checkpoint import Checkpoint, verify_checkpoint
from ledger.note.cosignature import parse_witness_keys, verify_cosignature
from ledger.note.signednote import Note, Verifier

EVIDENCE_FORMAT = "provenance-ledger/split-view-evidence@v1"
FORK, INCONSISTENT, ROLLBACK = "fork", "inconsistent", "rollback"
MAP_UPDATE = "map-update"
KINDS = (FORK, INCONSISTENT, ROLLBACK, MAP_UPDATE)


@dataclass(frozen=True)
class Evidence:
    """Two signed checkpoints of one log that cannot both be honest, and why."""

    kind: str
    log_key: str
    old: str
    new: str
    proof: tuple[bytes, ...]
    detail: str
    observed_at: str
    #: what `verify_evidence` established of a ``rollback`` (not part of the JSON): the
    #: trusted witnesses' cosignatures on the larger checkpoint, (name, UNIX time), all
    #: before ``observed_at``; and whether ``proof`` shows the smaller tree a prefix of
    #: the larger (the log signed the larger size on top of the smaller one)
    witnessed: tuple[tuple[str, int], ...] = ()
    prefix_proven: bool = False
    #: a ``map-update``: the log's map update proof (ledger.map.updateproof JSON form)
    update: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The publishable JSON form (docs/FORMAT.md)."""
        out: dict[str, Any] = {
            "format": EVIDENCE_FORMAT,
            "kind": self.kind,
            "log_key": self.log_key,
            "old_checkpoint": self.old,
            "new_checkpoint": self.new,
            "proof": [codec.b64_encode(h) for h in self.proof],
            "detail": self.detail,
            "observed_at": self.observed_at,
        }
        if self.update is not None:
            out["update"] = self.update
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Evidence:
        """Parse the JSON form (without checking it: see `verify_evidence`).

        Raises:
            ValidationError: a field is missing or of the wrong type.
        """
        if not isinstance(data, dict) or data.get("format") != EVIDENCE_FORMAT:
            raise ValidationError(f"not {EVIDENCE_FORMAT}", field="format")
        fields = ("kind", "log_key", "old_checkpoint", "new_checkpoint", "detail", "observed_at")
        for name in fields:
            if not isinstance(data.get(name), str):
                raise ValidationError("missing or not text", field=name)
        proof = data.get("proof")
        if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
            raise ValidationError("expected a list of base64 hashes", field="proof")
        update = data.get("update")
        if update is not None and not isinstance(update, dict):
            raise ValidationError("expected a map update proof", field="update")
        return cls(
            data["kind"],
            data["log_key"],
            data["old_checkpoint"],
            data["new_checkpoint"],
            tuple(codec.b64_decode(h, field="proof") for h in proof),
            data["detail"],
            data["observed_at"],
            update=update,
        )


def verify_evidence(
    data: Any, log_key: str, witness_keys: Iterable[Verifier | str] = (), min_witnesses: int = 0
) -> Evidence:
    """Check published evidence: it proves the log behind ``log_key`` misbehaved.

    Steps: (1) parse; (2) both checkpoints verify under ``log_key``, same origin;
    (3) a ``fork``: same size, different roots; (4) a ``rollback``: the checkpoint
    served later (``new``) is smaller than the one signed before (``old``): an
    append-only log never signs a larger tree and then serves a smaller one as its
    latest. The order rests on what the file carries: (4a) a ``proof``, when present,
    must show the smaller tree a prefix of the larger (consistency from ``new`` to
    ``old``): the log signed the larger size on top of the smaller one, so serving the
    smaller afterwards is going back, not another history (that would be a fork);
    (4b) cosignatures on ``old`` by the trusted ``witness_keys`` (at least
    ``min_witnesses``) each verify and are dated no later than ``observed_at``: third
    parties signed that the log had shown the larger size before the smaller one was
    observed (`Evidence.witnessed`). What is left is the observer's word that the
    smaller was served as the latest at ``observed_at``, which anyone confirms by
    fetching the log's latest checkpoint (below ``old``'s size, the log went back) or
    asking for a consistency proof to ``old``'s size (a log that went back has none);
    (5) ``inconsistent``: the proof from the smaller to the larger must fail (a proof
    that verifies voids the evidence; a third party may also ask the log for a fresh
    proof between the two signed sizes: none exists); (6) ``map-update``: ``new`` is not
    smaller than ``old``, which signs a map root, and ``new`` signs none, a malformed
    one, another one for the same size, or one that the update proof the file carries
    (ledger.map.updateproof, `check`) does not give.

    Raises:
        ValidationError: the evidence does not show misbehaviour (a rollback: a proof
            that does not chain the two, too few witnesses, or a cosignature dated after
            the observation).
        NoteError, CheckpointSignatureError, KeyFormatError: a checkpoint, a trusted
            witness's cosignature, or a key does not verify.
    """
    record = Evidence.from_dict(data)  # (1)
    if record.kind not in KINDS:
        raise ValidationError(f"unknown kind; expected one of {', '.join(KINDS)}", field="kind")
    old = verify_checkpoint(record.old, log_key)  # (2)
    new = verify_checkpoint(record.new, log_key, origin=old.origin)
    if record.kind == MAP_UPDATE:  # (6)
        if _map_update_wrong(record, old, new):
            return record
        raise ValidationError("the new map root follows from the old one", field="update")
    if old.size == new.size:  # (3)
        if old.root == new.root:
            raise ValidationError("same size and same root: no fork", field="new_checkpoint")
        return record
    if record.kind == ROLLBACK:  # (4)
        if new.size > old.size:
            raise ValidationError("the later checkpoint is larger: no rollback", field="kind")
        proven = False
        if record.proof:  # (4a)
            try:
                merkle.verify_consistency(new.size, old.size, new.root, old.root, record.proof)
            except LedgerError as e:
                raise ValidationError(
                    f"the proof does not show the smaller tree a prefix of the larger: {e}",
                    field="proof",
                ) from None
            proven = True
        witnessed = _witnessed(record, old, witness_keys, min_witnesses)  # (4b)
        return replace(record, witnessed=witnessed, prefix_proven=proven)
    small, large = (old, new) if old.size < new.size else (new, old)
    try:  # (4)
        merkle.verify_consistency(small.size, large.size, small.root, large.root, record.proof)
    except LedgerError:
        return record
    raise ValidationError("the consistency proof verifies: no split view", field="proof")


def _map_update_wrong(record: Evidence, old: Checkpoint, new: Checkpoint) -> bool:
    """Step (6) of `verify_evidence`: True when ``new``'s map root does not follow.

    Raises:
        ValidationError: the evidence cannot show it (sizes, no old map root).
        MapUpdateProofError: the update proof it carries is malformed or does not bind.
    """
    old_map = root_of(old.extensions)
    if old_map is None or new.size < old.size:
        raise ValidationError("no map root to follow from", field="old_checkpoint")
    try:
        new_map = root_of(new.extensions)
    except MapProofError:
        return True
    if new_map is None:
        return True
    if new.size == old.size:
        return new_map != old_map
    return check(UpdateProof.from_dict(record.update), old, new, old_map) != new_map


def _witnessed(
    record: Evidence,
    old: Checkpoint,
    witness_keys: Iterable[Verifier | str],
    min_witnesses: int,
) -> tuple[tuple[str, int], ...]:
    """Step (4b) of `verify_evidence`: the trusted witnesses' dated cosignatures on the
    larger checkpoint, each no later than the observation."""
    trusted = {(w.name, w.key_hash): w for w in parse_witness_keys(witness_keys)}
    try:
        observed = int(parse_time(record.observed_at, "observed_at").timestamp())
    except LedgerError as e:
        raise ValidationError(f"observed_at: {e.message}", field="observed_at") from None
    found: dict[str, int] = {}
    for line in Note.from_bytes(record.old).signatures:
        witness = trusted.get((line.name, line.key_hash))
        if witness is None:
            continue
        stamp = verify_cosignature(old, line, witness)
        if stamp > observed:
            raise ValidationError(
                f"{witness.name} cosigned the larger checkpoint at {stamp}, after the "
                "observation: the order is not shown",
                field="old_checkpoint",
            )
        found[witness.name] = min(stamp, found.get(witness.name, stamp))
    if len(found) < min_witnesses:
        raise ValidationError(
            f"{len(found)} of the required {min_witnesses} witnesses cosigned the larger "
            "checkpoint",
            field="old_checkpoint",
        )
    return tuple(sorted(found.items()))
