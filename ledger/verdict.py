"""What a shopper is told about a unit: the verdict and the reasons for it.

Verdicts (DESIGN section 4): ``genuine``; ``caution`` (already claimed or sold,
recalled, flagged, decommissioned, handled by a revoked actor); ``unknown`` (no such
unit: likely counterfeit); ``invalid`` (a hash, proof or signature does not check:
never expected). `check_unit_chain` performs the cryptographic checks on what the log
serves; `judge` turns the unit's state and those checks into the verdict.

Reason codes are stable (the page translates them); messages are English. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger import codec, crypto, entry, merkle, note
from ledger.errors import LedgerError
from ledger.state import ActorRecord, UnitRecord

GENUINE, CAUTION, UNKNOWN, INVALID = "genuine", "caution", "unknown", "invalid"


@dataclass(frozen=True)
class Reason:
    """Why the verdict is what it is: a stable code, an English message, evidence."""

    code: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the reason as JSON-ready data."""
        return {"code": self.code, "message": self.message, "evidence": self.evidence}


@dataclass(frozen=True)
class ServedEntry:
    """One entry as the log serves it: index, leaf bytes, leaf hash, inclusion proof."""

    index: int
    leaf: bytes
    leaf_hash: bytes
    proof: Sequence[bytes]


def check_unit_chain(
    entries: Sequence[ServedEntry],
    checkpoint_text: str,
    verifier_key: str,
    public_keys: Mapping[str, str],
) -> list[Reason]:
    """Check what the log serves about a unit; return a reason per failed check.

    Steps: (1) the checkpoint is signed by the log's key; (2) every leaf hashes to its
    leaf hash and (3) is included in the checkpoint; (4) every event is signed by the
    key it names (``public_keys``: key id -> base64url public key); (5) each event's
    ``prev`` is the previous event's hash.
    """
    try:  # (1)
        checkpoint = note.verify_checkpoint(checkpoint_text, verifier_key)
    except LedgerError as e:
        return [Reason("checkpoint-invalid", f"the log's checkpoint does not verify: {e}")]
    reasons: list[Reason] = []
    previous: bytes | None = None
    for served in entries:
        evidence = {"index": served.index}
        if merkle.leaf_hash(served.leaf) != served.leaf_hash:  # (2)
            reasons.append(Reason("leaf-hash-invalid", "an entry's hash does not match", evidence))
        try:  # (3)
            merkle.verify_inclusion(
                served.leaf_hash, served.index, checkpoint.size, served.proof, checkpoint.root
            )
            leaf = entry.Leaf.from_bytes(served.leaf)
        except LedgerError as e:
            reasons.append(
                Reason("proof-invalid", f"an entry is not proven in the log: {e}", evidence)
            )
            continue
        reasons.extend(_check_signature(leaf, public_keys, evidence))  # (4)
        prev = getattr(leaf.signed.event, "prev", None)  # (5)
        expected = None if previous is None else codec.b64url_encode(previous)
        if prev != expected:
            reasons.append(
                Reason("chain-broken", "the unit's history has a gap or a fork", evidence)
            )
        previous = leaf.signed.hash
    return reasons


def _check_signature(
    leaf: entry.Leaf, public_keys: Mapping[str, str], evidence: dict[str, Any]
) -> list[Reason]:
    public = public_keys.get(leaf.signed.key)
    if public is None:
        return [Reason("signature-invalid", "an entry is signed by an unknown key", evidence)]
    try:
        entry.verify_event(leaf.signed, crypto.public_key_from_b64(public))
    except LedgerError:
        return [Reason("signature-invalid", "an entry's signature does not verify", evidence)]
    return []


def judge(
    unit: UnitRecord | None,
    signers: Mapping[str, ActorRecord],
    failures: Sequence[Reason],
    label: str = "absent",
    inspections: Sequence[str] = (),
) -> tuple[str, list[Reason]]:
    """Return (verdict, reasons) for a unit.

    Args:
        unit: the unit's record, None when the log has no such unit.
        signers: the actors that signed the unit's events, by id.
        failures: what `check_unit_chain` found.
        label: ``valid``, ``invalid`` or ``absent``: the brand signature on the scanned label.
        inspections: the results (``pass``/``fail``) of the unit's inspections, in order;
            a unit whose latest inspection failed is a caution.
    """
    if failures:
        return INVALID, list(failures)
    if unit is None:
        return UNKNOWN, [Reason("not-found", "this code is not in the ledger: likely counterfeit")]
    if label == "invalid":
        return INVALID, [
            Reason("label-invalid", "the label's brand signature is wrong: the label is forged")
        ]
    reasons = _cautions(unit, signers)
    if inspections and inspections[-1] == "fail":
        reasons.append(Reason("inspection-failed", "the unit's latest inspection failed"))
    if reasons:
        return CAUTION, reasons
    return GENUINE, [Reason("verified", "every entry of this unit is signed and proven in the log")]


def _cautions(unit: UnitRecord, signers: Mapping[str, ActorRecord]) -> list[Reason]:
    reasons = []
    if unit.recalled:
        reasons.append(Reason("recalled", "the brand has recalled this unit"))
    if unit.decommissioned:
        reasons.append(Reason("decommissioned", "this unit was taken out of circulation"))
    if unit.claimed:
        reasons.append(Reason("claimed", "this unit was already claimed by a buyer"))
    elif unit.sold or unit.delivered:
        reasons.append(Reason("sold", "this unit was already sold"))
    if unit.flags:
        reasons.append(
            Reason("flagged", "the brand or the platform flagged this unit", {"flags": unit.flags})
        )
    revoked = sorted(a.id for a in signers.values() if a.revoked_index is not None)
    if revoked:
        reasons.append(
            Reason(
                "revoked-handler",
                "an actor that handled this unit has been revoked",
                {"actors": revoked},
            )
        )
    return reasons
