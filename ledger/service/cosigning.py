"""Witness cosignatures on the log's side: accept, store, serve and count them.

A witness (``provenance witness``, ledger.audit.witness) checks a checkpoint against the one
it cosigned last and posts its ``cosignature/v1`` line to the log in the shape of a C2SP
tlog-witness ``add-checkpoint`` request, the cosignature carried by the checkpoint note:

    old <size the witness cosigned last, 0 at first>\n
    [<base64 consistency proof hash>\n ...]\n
    \n
    <the log's checkpoint note, with the witness's cosignature line(s)>

`CosigningService.add_cosignature` accepts it when, in order: (1) the request parses; (2) the
checkpoint verifies under the log's key; (3) old <= size; (4) the log signed exactly
this checkpoint (its stored root at that size; another root under the log's own key is a
split view); (5) a proof, when sent, verifies old -> size; (6) at least one line is by a
configured witness (``LogConfig.witnesses``) and every such line verifies; (7) old is
the size recorded for that witness (else 409 with the recorded size), atomically with
the store. Service layer over ledger.store; no HTTP here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ledger import codec, merkle, note
from ledger.audit.witness import Evidence
from ledger.errors import SignatureError, SplitViewError, ValidationError
from ledger.events import format_time, parse_time
from ledger.shapes import CosignatureReceiptShape, WitnessSummaryShape
from ledger.store import Store

MAX_PROOF_LINES = 63  # tlog-witness: a client MUST NOT send more
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")
#: a witness behind the log for longer than this is lagging: one runs every few
#: minutes (docs/AUDIT.md), so a quarter of an hour is several missed runs
WITNESS_LAG_SECONDS = 15 * 60


class CosigningService:
    """The cosignatures of one log: its checkpoints verify under ``verifier_key``, and
    ``witnesses`` are the verifier keys (type 0x04) whose cosignatures it accepts."""

    def __init__(
        self, store: Store, log: int, verifier_key: str, witnesses: tuple[str, ...]
    ) -> None:
        self._store = store
        self._log = log
        self._verifier_key = verifier_key
        self.witnesses = witnesses

    def witness_keys(self) -> list[note.Verifier]:
        """The configured witness verifier keys (type 0x04).

        Raises:
            KeyFormatError: a configured key is malformed.
        """
        return note.parse_witness_keys(self.witnesses)

    def cosigned_checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint at ``size`` (default the latest) with its stored cosignatures.

        Raises:
            NotFoundError: no checkpoint at that size.
        """
        stored = self._store.checkpoint(self._log, size)
        lines = self._store.cosignatures.lines(self._log, stored.size)
        if not lines:
            return stored.note
        return note.with_cosignatures(stored.note, [note.NoteSignature.from_line(x) for x in lines])

    def best_size(self, needed: int) -> int | None:
        """The size of the checkpoint of at least ``needed`` entries with the most
        cosignatures, or None when no cosigned checkpoint covers them."""
        return self._store.cosignatures.best_size(self._log, needed)

    def witness_summary(self, needed: int) -> WitnessSummaryShape:
        """How many configured witnesses cosigned a checkpoint of at least ``needed`` entries.

        A witness cosigns only after checking consistency with what it cosigned before, so
        one whose latest cosigned size is ``>= needed`` vouched for the first ``needed``
        entries (a unit's whole chain, when ``needed`` is its last index + 1).
        """
        if not self.witnesses:
            return {"configured": 0, "vouched": 0}
        keys = {(w.name, w.key_hash) for w in self.witness_keys()}
        heads = self._store.cosignatures.heads(self._log)
        vouched = sum(1 for k, size in heads.items() if k in keys and size >= needed)
        return {"configured": len(keys), "vouched": vouched}

    def witness_status(self, size: int, now: datetime) -> list[dict[str, Any]]:
        """Each configured witness, by name: ``name``, ``key_hash``, ``cosigned`` (the
        latest size it cosigned, 0: never), ``at`` (its cosignature's time, or None),
        ``behind`` (entries of ``size`` it has not cosigned), ``behind_seconds`` (since
        the log first signed a checkpoint past what it cosigned; None when not behind)
        and ``lagging`` (behind for over `WITNESS_LAG_SECONDS`).

        Raises:
            KeyFormatError: a configured key is malformed.
        """
        heads = self._store.cosignatures.head_times(self._log)
        out = []
        for key in sorted(self.witness_keys(), key=lambda k: (k.name, k.key_hash)):
            cosigned, stamp = heads.get((key.name, key.key_hash), (0, None))
            behind = max(size - cosigned, 0)
            seconds = None
            if behind:
                since = self._store.cosignatures.first_signed_after(self._log, cosigned)
                if since is not None:
                    seconds = max(int((now - parse_time(since)).total_seconds()), 0)
            at = None if stamp is None else format_time(datetime.fromtimestamp(stamp, UTC))
            out.append(
                {
                    "name": key.name,
                    "key_hash": f"{key.key_hash:08x}",
                    "cosigned": cosigned,
                    "at": at,
                    "behind": behind,
                    "behind_seconds": seconds,
                    "lagging": seconds is not None and seconds > WITNESS_LAG_SECONDS,
                }
            )
        return out

    def add_cosignature(self, body: bytes, observed_at: str) -> CosignatureReceiptShape:
        """Accept a witness's cosigned checkpoint (module docstring, steps 1-7).

        Returns ``{size, cosigned_by: [witness names], witnesses: {configured, vouched}}``.

        Raises:
            ValidationError: a malformed request, or old > size (1, 3).
            NoteError, CheckpointSignatureError: the note or the log's signature (2, 6).
            NotFoundError: the log has no checkpoint of that size (4).
            SplitViewError: the log's key signed another root for that size (4).
            ProofError: the proof sent does not verify (5).
            SignatureError: no line by a configured witness (6).
            StaleCheckpointError: old is not the witness's recorded size (7).
        """
        old, proof, note_text = parse_request(body)  # (1)
        checkpoint = note.verify_checkpoint(note_text, self._verifier_key)  # (2)
        if old > checkpoint.size:  # (3)
            raise ValidationError(f"old size {old} exceeds the checkpoint's {checkpoint.size}")
        stored = self._store.checkpoint(self._log, checkpoint.size)  # (4)
        if stored.root != checkpoint.root:
            record = Evidence(
                "fork", self._verifier_key, stored.note, note_text, (), "two roots", observed_at
            )
            raise SplitViewError(
                f"this log signed another root for size {checkpoint.size}", record.to_dict()
            )
        if proof and old:  # (5)
            old_root = self._store.root(self._log, old)
            merkle.verify_consistency(old, checkpoint.size, old_root, checkpoint.root, proof)
        signed = note.Note.from_bytes(note_text)
        witnesses = note.cosigners(checkpoint, signed, self.witness_keys())  # (6)
        if not witnesses:
            raise SignatureError("no cosignature by a configured witness", field="signature")
        for witness in witnesses:  # (7)
            line = next(
                s
                for s in signed.signatures
                if (s.name, s.key_hash) == (witness.name, witness.key_hash)
            )
            timestamp = int.from_bytes(line.signature[:8], "big")
            self._store.cosignatures.add(
                self._log,
                (witness.name, witness.key_hash),
                old,
                checkpoint.size,
                timestamp,
                line.to_line().rstrip("\n"),
            )
        return {
            "size": checkpoint.size,
            "cosigned_by": [w.name for w in witnesses],
            "witnesses": self.witness_summary(checkpoint.size),
        }


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """Split an add-checkpoint style body into (old size, proof hashes, note text).

    Raises:
        ValidationError: not UTF-8, no ``old`` line, more than 63 proof lines, a proof
            line that is not a 32-byte hash, or no blank line before the note.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError(f"not UTF-8 at byte {e.start}", field="body") from e
    head, sep, note_text = text.partition("\n\n")
    if not sep or not note_text:
        raise ValidationError("expected 'old N', proof lines, a blank line, the note")
    first, *proof_lines = head.split("\n")
    match = _OLD.fullmatch(first)
    if match is None:
        raise ValidationError("the first line must be 'old <decimal size>'", field="old")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise ValidationError(f"more than {MAX_PROOF_LINES} proof lines", field="proof")
    proof = []
    for i, line in enumerate(proof_lines):
        raw = codec.b64_decode(line, field=f"proof[{i}]")
        if len(raw) != merkle.HASH_SIZE:
            raise ValidationError("a proof line must be a 32-byte hash", field=f"proof[{i}]")
        proof.append(raw)
    return int(match.group(1)), proof, note_text
