"""What a witness or an auditor remembers of a log, and the evidence when the log lies.

A log proves that it only appends by serving, between any two of its signed
checkpoints, an RFC 9162 consistency proof. Whoever keeps the last checkpoint it
verified (`Seen`) can check each new one against it (`check_consistent`):

1. the new checkpoint verifies under the pinned log key, with the same origin;
2. same size: the roots must be equal (two roots for one size is a fork);
3. larger size: the consistency proof old -> new must verify (RFC 9162 2.1.4.2);
4. smaller size: the log went back; the proof new -> old must verify, and the
   caller refuses to move backwards (`refuse_rollback`: it keeps its larger checkpoint).

A failure in (2) to (4) raises `SplitViewError` with an `Evidence`: both signed
checkpoints and the proof that failed, publishable as JSON (docs/FORMAT.md, "Split-view
evidence"). A log that went back consistently (it serves as its latest a prefix of a
tree it signed before) is refused too, with ``rollback`` evidence: both signed
checkpoints, the smaller one served after the larger. Anyone holding the log's key
re-checks any of them with `verify_evidence` (both live in ledger.audit.evidence).

A witness also checks the map of heads a checkpoint signs (`check_map`): its root
must follow from the remembered one plus the new entries, shown by the log's map update
proof (ledger.map.updateproof); one that does not is refused with ``map-update``
evidence carrying that proof.

Pure: no I/O (callers fetch proofs and write files), no clock (times are arguments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import codec, merkle
from ledger.audit.evidence import EVIDENCE_FORMAT as EVIDENCE_FORMAT
from ledger.audit.evidence import FORK as FORK
from ledger.audit.evidence import INCONSISTENT as INCONSISTENT
from ledger.audit.evidence import KINDS as KINDS
from ledger.audit.evidence import MAP_UPDATE as MAP_UPDATE
from ledger.audit.evidence import ROLLBACK as ROLLBACK
from ledger.audit.evidence import Evidence as Evidence
from ledger.audit.evidence import verify_evidence as verify_evidence
from ledger.errors import (
    LedgerError,
    ProofError,
    SplitViewError,
    ValidationError,
)
from ledger.map.commit import root_of
from ledger.map.proof import MapProofError
from ledger.map.updateproof import MapUpdateError, MapUpdateProofError, UpdateProof, check
from ledger.note.checkpoint import Checkpoint, as_verifier, verify_checkpoint
from ledger.note.cosignature import cosign_checkpoint
from ledger.note.signednote import ALG_ED25519, Note, NoteSignature, Signer

STATE_FORMAT = "provenance-ledger/witness-state@v1"


@dataclass(frozen=True)
class Seen:
    """The last checkpoint a witness cosigned or an auditor verified (signed note text)."""

    note: str
    checkpoint: Checkpoint

    @classmethod
    def verified(cls, note: str, log_key: str) -> Seen:
        """Verify ``note`` under ``log_key`` and remember it.

        Raises:
            NoteError, CheckpointSignatureError, KeyFormatError: it does not verify.
        """
        return cls(note, verify_checkpoint(note, log_key))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in state files."""
        return {"size": self.checkpoint.size, "checkpoint": self.note}

    @classmethod
    def from_dict(cls, data: Any, log_key: str) -> Seen:
        """Load and re-verify a remembered checkpoint (a state file is not trusted blindly).

        Raises:
            ValidationError: the data is not a remembered checkpoint.
            NoteError, CheckpointSignatureError: its checkpoint does not verify.
        """
        if not isinstance(data, dict) or not isinstance(data.get("checkpoint"), str):
            raise ValidationError("expected {size, checkpoint}", field="checkpoint")
        seen = cls.verified(data["checkpoint"], log_key)
        if data.get("size") != seen.checkpoint.size:
            raise ValidationError("size differs from its checkpoint", field="size")
        return seen


def check_consistent(
    seen: Seen, note: str, log_key: str, proof: Sequence[bytes], observed_at: str
) -> Checkpoint:
    """Check a newly served checkpoint against the remembered one (module docstring).

    ``proof`` is the log's consistency proof from the smaller to the larger size
    (ignored when the sizes are equal). Returns the new checkpoint.

    Raises:
        NoteError, CheckpointSignatureError: the new checkpoint does not verify (1).
        SplitViewError: a fork (2) or a failed consistency proof (3, 4).
    """
    new = verify_checkpoint(note, log_key, origin=seen.checkpoint.origin)  # (1)
    old = seen.checkpoint

    def evidence(kind: str, detail: str) -> SplitViewError:
        record = Evidence(kind, log_key, seen.note, note, tuple(proof), detail, observed_at)
        return SplitViewError(detail, record.to_dict())

    if new.size == old.size:  # (2)
        if new.root != old.root:
            raise evidence(FORK, f"two different roots signed for size {new.size}")
        return new
    small, large = (old, new) if new.size > old.size else (new, old)  # (3), (4)
    try:
        merkle.verify_consistency(small.size, large.size, small.root, large.root, proof)
    except ProofError as e:
        raise evidence(
            INCONSISTENT, f"checkpoint {small.size} is not a prefix of {large.size}: {e}"
        ) from None
    return new


def refuse_rollback(
    seen: Seen, note: str, new: Checkpoint, log_key: str, proof: Sequence[bytes], observed_at: str
) -> None:
    """Refuse a log that serves, as its latest, a smaller tree than one it signed before.

    Call after `check_consistent` returned ``new`` for ``note``: a consistent rollback
    (``new`` is a prefix of the remembered tree) is still a log going back, which an
    append-only log never does (a restored backup, or a view shown to this client only).

    Raises:
        SplitViewError: ``new`` is smaller than the remembered checkpoint; its evidence
            is of kind ``rollback``: the remembered (larger) checkpoint as ``old``, with
            the witnesses' cosignatures it was kept with (their dates order it before
            the observation: `verify_evidence`), the served one as ``new``, and
            ``proof`` when it shows ``new`` a prefix of ``old`` (else none: a log that
            went back rarely can prove its way to the size it lost).
    """
    old = seen.checkpoint
    if new.size >= old.size:
        return
    detail = f"the log went back from size {old.size} to {new.size}"
    try:
        merkle.verify_consistency(new.size, old.size, new.root, old.root, proof)
        chained = tuple(proof)
    except LedgerError:
        chained = ()
    record = Evidence(ROLLBACK, log_key, seen.note, note, chained, detail, observed_at)
    raise SplitViewError(detail, record.to_dict())


def check_map(
    seen: Seen,
    note: str,
    new: Checkpoint,
    log_key: str,
    update: UpdateProof | None,
    observed_at: str,
) -> None:
    """Check that ``new``'s map root follows from the remembered checkpoint's (issue 18).

    Nothing to check when the remembered checkpoint signs no map root (a log from before
    maps, or a witness's first run trusts its first map like its first tree), or when
    ``new`` is smaller (`refuse_rollback` refuses it). Otherwise ``new`` must sign a
    well-formed map root; for the same size the same one; for a larger size the one
    `ledger.map.updateproof.check` computes from ``update``.

    Raises:
        MapUpdateError: the map root does not follow (evidence of kind ``map-update``,
            carrying the update proof).
        MapUpdateProofError: ``update`` is missing, malformed, or does not bind.
    """
    old = seen.checkpoint
    old_map = root_of(old.extensions)
    if old_map is None or new.size < old.size:
        return

    def evidence(detail: str, proof: UpdateProof | None = None) -> MapUpdateError:
        body = None if proof is None else proof.to_dict()
        record = Evidence(
            MAP_UPDATE, log_key, seen.note, note, (), detail, observed_at, update=body
        )
        return MapUpdateError(detail, record.to_dict())

    try:
        new_map = root_of(new.extensions)
    except MapProofError as e:
        raise evidence(f"checkpoint {new.size}: {e.message}") from None
    if new_map is None:
        raise evidence(f"checkpoint {new.size} signs no map root after one that did")
    if new.size == old.size:
        if new_map != old_map:
            raise evidence(f"two map roots signed for size {new.size}")
        return
    if update is None:
        raise MapUpdateProofError("the log served no map update proof", field="update")
    if check(update, old, new, old_map) != new_map:
        raise evidence(
            f"the map root signed at size {new.size} does not follow from the one at "
            f"{old.size} plus the entries between",
            update,
        )


@dataclass(frozen=True)
class WitnessState:
    """A witness's memory of one log: its pinned key, the checkpoint it cosigned last (the
    log's signature only) and its own dated cosignature line on it (None: a state kept
    before the line was), which a rollback's evidence carries to date the larger size."""

    log_key: str
    seen: Seen
    cosignature: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the witness's state file (docs/FORMAT.md)."""
        out: dict[str, Any] = {
            "format": STATE_FORMAT,
            "log_key": self.log_key,
            "seen": self.seen.to_dict(),
        }
        if self.cosignature is not None:
            out["cosignature"] = self.cosignature
        return out

    def cosigned_note(self) -> str:
        """The remembered checkpoint with the witness's own cosignature line, if kept."""
        if self.cosignature is None:
            return self.seen.note
        line = NoteSignature.from_line(self.cosignature, where="cosignature")
        parsed = Note.from_bytes(self.seen.note)
        return Note(parsed.text, [*parsed.signatures, line]).to_bytes().decode()

    @classmethod
    def from_dict(cls, data: Any, log_key: str | None = None) -> WitnessState:
        """Load a state file, re-verifying its checkpoint; ``log_key`` must match if given.

        Raises:
            ValidationError: not a witness state file, or kept for another key.
            NoteError, CheckpointSignatureError: its checkpoint does not verify.
        """
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValidationError(f"not a {STATE_FORMAT} file", field="state")
        key = data.get("log_key")
        if not isinstance(key, str) or (log_key is not None and key != log_key):
            raise ValidationError("the state file was kept for another log key", field="state")
        line = data.get("cosignature")
        if line is not None and not isinstance(line, str):
            raise ValidationError("cosignature must be a signature line", field="cosignature")
        if line is not None:
            NoteSignature.from_line(line, where="cosignature")  # well formed, or refused
        return cls(key, Seen.from_dict(data.get("seen"), key), line)


def cosign_next(
    previous: WitnessState | None,
    note: str,
    log_key: str,
    proof: Sequence[bytes],
    witness: Signer,
    timestamp: int,
    observed_at: str,
    update: UpdateProof | None = None,
) -> tuple[WitnessState, NoteSignature]:
    """Decide whether to cosign ``note``; return the new state and the cosignature.

    Steps (C2SP tlog-witness, "add-checkpoint", from the witness's side):
        (1) the checkpoint verifies under the pinned log key;
        (2) against the last cosigned checkpoint: `check_consistent` (a fork or a
            failed proof raises `SplitViewError` with the evidence);
        (3) never cosign a smaller tree than before;
        (3b) the map root follows from the last cosigned one (`check_map`, with the
            log's map ``update`` proof from the last cosigned size to this one);
        (4) cosign (``cosignature/v1`` at ``timestamp``). The caller must persist the
            new state before it hands the cosignature to anyone.

    Raises:
        NoteError, CheckpointSignatureError: the checkpoint does not verify.
        SplitViewError: (2) failed.
        SplitViewError: (2) failed, or (3) the log served a smaller tree than the one
            cosigned (``rollback`` evidence, `refuse_rollback`).
        MapUpdateError: (3b) failed (evidence of kind ``map-update``).
        MapUpdateProofError: (3b) the update proof is missing, malformed or not bound.
        KeyFormatError: ``witness`` is not a 0x04 key.
    """
    if previous is None:
        checkpoint = verify_checkpoint(note, log_key)  # (1)
    else:
        seen = previous.seen
        checkpoint = verify_checkpoint(note, log_key, origin=seen.checkpoint.origin)  # (1)
        # the evidence of a rollback carries the witness's own dated line on the larger
        dated = Seen(previous.cosigned_note(), seen.checkpoint)
        refuse_rollback(dated, note, checkpoint, log_key, proof, observed_at)  # (3)
        check_consistent(seen, note, log_key, proof, observed_at)  # (2)
        check_map(seen, note, checkpoint, log_key, update, observed_at)  # (3b)
    line = cosign_checkpoint(checkpoint, witness, timestamp)  # (4)
    kept = Seen(log_only(note, log_key), checkpoint)
    return WitnessState(log_key, kept, line.to_line().rstrip("\n")), line


def log_only(note: str, log_key: str) -> str:
    """The note with only the log's own signature lines (others' cosignatures dropped).

    Raises:
        NoteError: the note is malformed or holds no line by the log's key.
    """
    verifier = as_verifier(log_key, ALG_ED25519)
    parsed = Note.from_bytes(note)
    own = [
        s for s in parsed.signatures if (s.name, s.key_hash) == (verifier.name, verifier.key_hash)
    ]
    return Note(parsed.text, own).to_bytes().decode()


def submission(old: int, proof: Sequence[bytes], note: str, line: NoteSignature) -> bytes:
    """The body a witness posts to ``POST /v1/checkpoint/cosignatures``.

    C2SP tlog-witness "add-checkpoint" shape: ``old <size>``, the proof lines, a blank
    line, then the checkpoint (with the log's signature only) and the cosignature line.
    """
    parsed = Note.from_bytes(note)
    cosigned = Note(parsed.text, [*parsed.signatures, line]).to_bytes().decode()
    lines = [f"old {old}", *(codec.b64_encode(h) for h in proof)]
    return ("\n".join(lines) + "\n\n" + cosigned).encode()
