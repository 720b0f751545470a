"""The replay's checkpoint checks: stored and trusted checkpoints against the recomputed
tree and map roots (step 6 of ledger.audit.replay)."""

from __future__ import annotations

from collections.abc import Sequence

from ledger import note
from ledger.audit.maproot import check_roots
from ledger.audit.report import AuditReport
from ledger.errors import LedgerError
from ledger.stored import StoredCheckpoint


def check_checkpoints(
    report: AuditReport,
    stored: Sequence[StoredCheckpoint],
    kept: Sequence[tuple[note.Checkpoint, str]],
    verifier: note.Verifier,
    roots: dict[int, bytes],
    verified: list[note.Checkpoint] | None = None,
) -> None:
    """(6) every stored checkpoint verifies and signs the recomputed root at its size, and
    so does every trusted one; the earliest range a disagreement implicates is kept as
    ``report.suspect_from``. ``verified``, when given, gets each stored checkpoint that
    verifies, in order (for `check_map_roots`, which then verifies none again)."""
    suspects = []
    good = 0  # the largest size up to which a checkpoint matched
    for cp in stored:
        try:
            signed = note.verify_checkpoint(cp.note, verifier)
        except LedgerError as e:
            report.add(
                "checkpoint-signature", f"checkpoint {cp.size} does not verify: {e}", size=cp.size
            )
            continue
        if verified is not None:
            verified.append(signed)
        if signed.size != cp.size or signed.root != cp.root:
            report.add(
                "checkpoint-columns",
                f"checkpoint {cp.size} columns differ from its note",
                size=cp.size,
            )
        if roots.get(cp.size) == signed.root:
            good = cp.size
        else:
            report.add(
                "checkpoint-root",
                f"the log does not match its checkpoint {cp.size}",
                size=cp.size,
                checkpoint=cp.note,
            )
            suspects.append(good)
    suspects.extend(_check_trusted(report, kept, roots))
    if suspects:
        report.suspect_from = min(suspects)


def check_map_roots(
    report: AuditReport,
    stored: Sequence[StoredCheckpoint],
    kept: Sequence[tuple[note.Checkpoint, str]],
    verifier: note.Verifier,
    roots: dict[int, bytes],
    verified: list[note.Checkpoint] | None = None,
) -> None:
    """(6) every map root a checkpoint signs, stored or kept outside the database (a
    trusted one a server showed a client), is the one the replay gives at its size.
    ``verified``: the stored checkpoints that verify, as `check_checkpoints` collected
    them from these very ``stored`` and ``verifier`` (None: verified here)."""
    signed = [cp for cp, _ in kept]
    if verified is not None:
        # an Ed25519 verification a checkpoint (~1.1 M instructions under cryptography)
        # is not made twice
        signed.extend(verified)
    else:
        for cp in stored:
            try:
                signed.append(note.verify_checkpoint(cp.note, verifier))
            except LedgerError:
                continue  # reported by check_checkpoints
    for code, size, message in check_roots(signed, roots):
        report.add(code, message, size=size)


def _check_trusted(
    report: AuditReport, kept: Sequence[tuple[note.Checkpoint, str]], roots: dict[int, bytes]
) -> list[int]:
    """Compare trusted checkpoints; return where each disagreement's range starts."""
    suspects, good = [], 0
    for cp, text in sorted(kept, key=lambda pair: pair[0].size):
        if cp.size not in roots:
            report.add(
                "truncated",
                f"the log is shorter than a trusted checkpoint of size {cp.size}",
                size=cp.size,
                checkpoint=text,
            )
            suspects.append(max(roots, default=0))
        elif roots[cp.size] != cp.root:
            report.add(
                "trusted-checkpoint",
                f"the log does not match a trusted checkpoint at size {cp.size}",
                size=cp.size,
                checkpoint=text,
                recomputed_root=roots[cp.size].hex(),
            )
            suspects.append(good)
        else:
            good = cp.size
    return suspects
