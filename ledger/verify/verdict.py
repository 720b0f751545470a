"""What a shopper is told about a unit: the verdict and the reasons for it.

Verdicts (docs/ARCHITECTURE.md section 6): ``genuine``; ``caution`` (already claimed or sold,
recalled, flagged, decommissioned, handled by a revoked actor); ``unknown`` (no such
unit: likely counterfeit); ``invalid`` (a hash, proof or signature does not check:
never expected). `check_unit_chain` performs the cryptographic checks on what the log
serves; `judge` turns the unit's state and those checks into the verdict.

Reason codes are stable (the page translates them); messages are English. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ledger import codec, crypto, entry, merkle, note
from ledger.errors import LedgerError
from ledger.events import parse_time
from ledger.rules.state import ActorRecord, KeyRecord, UnitRecord
from ledger.shapes import ReasonShape
from ledger.signals.compute import Signal
from ledger.signals.reports import ReportFinding
from ledger.vocab import InspectResult, LabelState, ReasonCode, SignalCode, Verdict

# the names this module always exported
GENUINE, CAUTION, UNKNOWN, INVALID = (
    Verdict.GENUINE,
    Verdict.CAUTION,
    Verdict.UNKNOWN,
    Verdict.INVALID,
)


@dataclass(frozen=True)
class Reason:
    """Why the verdict is what it is: a stable code, an English message, evidence."""

    code: ReasonCode | SignalCode
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> ReasonShape:
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
        return [Reason(ReasonCode.CHECKPOINT_INVALID, f"the log's checkpoint does not verify: {e}")]
    reasons: list[Reason] = []
    previous: bytes | None = None
    for served in entries:
        evidence = {"index": served.index}
        if merkle.leaf_hash(served.leaf) != served.leaf_hash:  # (2)
            reasons.append(
                Reason(ReasonCode.LEAF_HASH_INVALID, "an entry's hash does not match", evidence)
            )
        try:  # (3)
            merkle.verify_inclusion(
                served.leaf_hash, served.index, checkpoint.size, served.proof, checkpoint.root
            )
            leaf = entry.Leaf.from_bytes(served.leaf, checkpoint.origin)
        except LedgerError as e:
            reasons.append(
                Reason(
                    ReasonCode.PROOF_INVALID, f"an entry is not proven in the log: {e}", evidence
                )
            )
            continue
        reasons.extend(_check_signature(leaf, public_keys, evidence))  # (4)
        prev = getattr(leaf.signed.event, "prev", None)  # (5)
        expected = None if previous is None else codec.b64url_encode(previous)
        if prev != expected:
            reasons.append(
                Reason(ReasonCode.CHAIN_BROKEN, "the unit's history has a gap or a fork", evidence)
            )
        previous = leaf.signed.hash
    return reasons


def _check_signature(
    leaf: entry.Leaf, public_keys: Mapping[str, str], evidence: dict[str, Any]
) -> list[Reason]:
    public = public_keys.get(leaf.signed.key)
    if public is None:
        return [
            Reason(ReasonCode.SIGNATURE_INVALID, "an entry is signed by an unknown key", evidence)
        ]
    try:
        entry.verify_event(leaf.signed, crypto.public_key_from_b64(public))
    except LedgerError:
        return [
            Reason(ReasonCode.SIGNATURE_INVALID, "an entry's signature does not verify", evidence)
        ]
    return []


def judge(
    unit: UnitRecord | None,
    signers: Mapping[str, ActorRecord],
    failures: Sequence[Reason],
    label: str = LabelState.ABSENT,
    inspections: Sequence[str] = (),
    handled: Sequence[tuple[str, str]] = (),
    key_reasons: Sequence[Reason] = (),
    label_evidence: Mapping[str, Any] | None = None,
) -> tuple[Verdict, list[Reason]]:
    """Return (verdict, reasons) for a unit.

    Args:
        unit: the unit's record, None when the log has no such unit.
        signers: the actors that signed the unit's events, by id.
        failures: what `check_unit_chain` found.
        label: the scanned label (`LabelState`): ``valid`` or ``invalid`` (its brand
            signature), ``mismatch`` (a lot or expiry that is not the commission's: an
            ``invalid`` verdict, ``label-mismatch``), ``unsigned`` (scanned at the
            resolver without a signature: a ``caution``, ``label-unsigned``), ``absent``
            (no label: an API query about the unit).
        inspections: the results (``pass``/``fail``) of the unit's inspections, in order;
            a unit whose latest inspection failed is a caution.
        handled: (actor, log receive time) of each of the unit's entries, whatever its
            kind: a revoked actor whose revocation names ``since`` taints only the units
            it handled from then on, by the log's clock (an actor signs its event's own
            ``time`` and could backdate it; the receive time it cannot).
        key_reasons: what `signing_key_reasons` found about the keys that signed the
            unit's events (a recovered key, a key reported compromised): cautions.
        label_evidence: what a ``mismatch`` or ``unsigned`` label showed (its reason's
            evidence).
    """
    if failures:
        return INVALID, list(failures)
    if unit is None:
        return UNKNOWN, [
            Reason(ReasonCode.NOT_FOUND, "this code is not in the ledger: likely counterfeit")
        ]
    if label == LabelState.INVALID:
        return INVALID, [
            Reason(
                ReasonCode.LABEL_INVALID,
                "the label's brand signature is wrong: the label is forged",
            )
        ]
    if label == LabelState.MISMATCH:
        return INVALID, [
            Reason(
                ReasonCode.LABEL_MISMATCH,
                "the label's lot or expiry is not the one this unit was made with: "
                "the label was not printed for this unit",
                dict(label_evidence or {}),
            )
        ]
    reasons = _cautions(unit, signers, handled) + list(key_reasons)
    if inspections and inspections[-1] == InspectResult.FAIL:
        reasons.append(Reason(ReasonCode.INSPECTION_FAILED, "the unit's latest inspection failed"))
    if label == LabelState.UNSIGNED:
        # serials are sequential and the public log lists them: a plain link to a real
        # serial is what a counterfeiter prints, so only a signed label may say genuine
        reasons.append(
            Reason(
                ReasonCode.LABEL_UNSIGNED,
                "this label carries no brand signature; the brand signs every label it "
                "prints, so this may be a copied code",
                dict(label_evidence or {}),
            )
        )
    if reasons:
        return CAUTION, reasons
    return GENUINE, [
        Reason(ReasonCode.VERIFIED, "every entry of this unit is signed and proven in the log")
    ]


def _cautions(
    unit: UnitRecord, signers: Mapping[str, ActorRecord], handled: Sequence[tuple[str, str]]
) -> list[Reason]:
    reasons = []
    if unit.recalled:
        reasons.append(Reason(ReasonCode.RECALLED, "the brand has recalled this unit"))
    if unit.decommissioned:
        reasons.append(Reason(ReasonCode.DECOMMISSIONED, "this unit was taken out of circulation"))
    if unit.consumed_at is not None:
        reasons.append(
            Reason(
                ReasonCode.CONSUMED,
                "its owner marked this unit used up: a full one is a refill",
                {"at": unit.consumed_at},
            )
        )
    if unit.claimed:
        reasons.append(Reason(ReasonCode.CLAIMED, "this unit was already claimed by a buyer"))
    elif unit.sold or unit.delivered:
        reasons.append(Reason(ReasonCode.SOLD, "this unit was already sold"))
        reasons.extend(_resale(unit))
    elif unit.sold_before:
        reasons.append(_returned(unit))
    if unit.flags:
        reasons.append(
            Reason(
                ReasonCode.FLAGGED,
                "the brand or the platform flagged this unit",
                {"flags": unit.flags},
            )
        )
    return reasons + _blacklist(unit, signers, handled)


def _sales(unit: UnitRecord) -> dict[str, Any]:
    return {"sales": unit.sales, "last_sold": unit.last_sold}


def _returned(unit: UnitRecord) -> Reason:
    """A return never launders a sale (docs/ARCHITECTURE.md section 5): a unit back in
    stock after a sale is a caution, since what came back from a buyer is not new and
    the log cannot see what is inside the returned box."""
    return Reason(
        ReasonCode.RETURNED_AFTER_SALE,
        f"this unit was returned after a sale on {unit.last_sold}",
        _sales(unit),
    )


def _resale(unit: UnitRecord) -> list[Reason]:
    if unit.sales < 2:
        return []
    return [Reason(ReasonCode.RESOLD, "this unit was sold again after a return", _sales(unit))]


def _blacklist(
    unit: UnitRecord, signers: Mapping[str, ActorRecord], handled: Sequence[tuple[str, str]]
) -> list[Reason]:
    """The blacklist: the unit is held by a revoked actor, or was handled by one at or
    after its revocation's ``since`` (every handling when the revocation names none)."""
    reasons = []
    times: dict[str, list[str]] = {}
    for actor, at in handled:
        times.setdefault(actor, []).append(at)
    revoked = sorted(
        a.id
        for a in signers.values()
        if a.revoked_index is not None
        and (a.id in times or not handled)  # a holder that signed nothing handled nothing
        and (
            a.revoked_since is None
            or any(parse_time(t) >= parse_time(a.revoked_since) for t in times.get(a.id, ()))
            or not handled  # without handling times, assume the worst
        )
    )
    if revoked:
        since = {a: signers[a].revoked_since for a in revoked if signers[a].revoked_since}
        evidence: dict[str, Any] = {"actors": revoked}
        if since:
            evidence["since"] = since
        reasons.append(
            Reason(
                ReasonCode.REVOKED_HANDLER,
                "an actor that handled this unit has been revoked",
                evidence,
            )
        )
    holders = [a for a in (unit.custodian, unit.pending) if a is not None and a in signers]
    held = sorted(a for a in holders if signers[a].revoked_index is not None)
    if held:
        reasons.append(
            Reason(
                ReasonCode.HELD_BY_REVOKED, "this unit is held by a revoked actor", {"actors": held}
            )
        )
    return reasons


#: how long after a recovered key takes effect what it signs is marked ``recovered-key``
RECOVERED_KEY_NOTICE = timedelta(days=30)


def signing_key_reasons(
    signed: Sequence[tuple[str, str]], keys: Mapping[str, KeyRecord]
) -> list[Reason]:
    """The cautions the keys that signed a unit's events call for.

    ``signed`` holds (key id, log receive time) of each of the unit's events; ``keys``
    the key records by id. Log time, not the event's own time, decides: a thief holding
    a key can backdate the events it signs, not the log's receipt of them.

    - ``key-compromised``: an event was logged at or after the ``compromised_since`` its
      actor reported for the key;
    - ``recovered-key``: an event was signed with a key an operator recovered and logged
      within `RECOVERED_KEY_NOTICE` of the key taking effect (the window in which a
      recovery the subject did not ask for is most likely to be abused unnoticed).
    """
    compromised: dict[str, list[int]] = {}
    recovered: dict[str, str] = {}
    for n, (key_id, received) in enumerate(signed):
        record = keys.get(key_id)
        if record is None:
            continue  # an unknown key is check_unit_chain's signature-invalid
        at = parse_time(received, "received")
        since = record.compromised_since
        if since is not None and at >= parse_time(since, "compromised_since"):
            compromised.setdefault(key_id, []).append(n)
        effective = record.effective
        if effective is not None and at < parse_time(effective) + RECOVERED_KEY_NOTICE:
            recovered[key_id] = effective
    reasons = []
    if compromised:
        reasons.append(
            Reason(
                ReasonCode.KEY_COMPROMISED,
                "an event of this unit was signed with a key its owner reported compromised",
                {
                    "keys": sorted(compromised),
                    "since": {k: keys[k].compromised_since for k in sorted(compromised)},
                },
            )
        )
    if recovered:
        reasons.append(
            Reason(
                ReasonCode.RECOVERED_KEY,
                "an event of this unit was signed with a key the platform recovered recently",
                {"keys": sorted(recovered), "effective": dict(sorted(recovered.items()))},
            )
        )
    return reasons


#: reasons that do not call for caution (a report under review is a note)
POSITIVE = frozenset({ReasonCode.VERIFIED, ReasonCode.OWNED, ReasonCode.REPORT_UNDER_REVIEW})


def with_signals(
    verdict: Verdict,
    reasons: Sequence[Reason],
    signals: Sequence[Signal],
    reports: ReportFinding | None = None,
    owner: bool = False,
) -> tuple[Verdict, list[Reason]]:
    """Add what lives outside the log to a log-based verdict (docs/SIGNALS.md).

    ``signals`` are clone signals (ledger.signals.compute); ``reports`` the finding over
    the unit's open consumer reports (ledger.signals.reports): ``reported`` (a caution)
    when independent reporters agree, else ``report-under-review`` (a note that leaves
    the verdict alone); ``owner`` tells that the viewer is the unit's current
    owner, for whom its claim is no warning (``owned`` replaces ``claimed``), nor an
    unsigned link to it (``label-unsigned`` is dropped: the owner cookie hashes to the
    owner the log names, which an invented cookie cannot). An
    ``invalid`` verdict stays as it is; an ``unknown`` one only gains its signals.
    """
    out = [r for r in reasons if r.code != ReasonCode.VERIFIED]
    if verdict == INVALID:
        return verdict, list(reasons)
    out += [Reason(s.code, SIGNAL_MESSAGES.get(s.code, s.code), s.evidence) for s in signals]
    if verdict == UNKNOWN:
        return verdict, out
    if owner:
        # the owner proved possession with the code inside the package: a link without
        # the label's signature (the claim form's way back) is no warning to them
        out = [
            Reason(ReasonCode.OWNED, "you claimed this unit: it is yours")
            if r.code == ReasonCode.CLAIMED
            else r
            for r in out
            if r.code != ReasonCode.LABEL_UNSIGNED
        ]
    if reports is not None and reports.corroborated:
        out.append(
            Reason(
                ReasonCode.REPORTED,
                "independent buyers reported a problem with this unit; the brand is "
                "looking into it",
                reports.evidence(),
            )
        )
    elif reports is not None:
        out.append(
            Reason(
                ReasonCode.REPORT_UNDER_REVIEW,
                "a report about this unit is under review; it changes nothing until the "
                "brand confirms it or independent buyers report it too",
                reports.evidence(),
            )
        )
    if any(r.code not in POSITIVE for r in out):
        return CAUTION, out
    return GENUINE, [
        *out,
        Reason(ReasonCode.VERIFIED, "every entry of this unit is signed and proven in the log"),
    ]


SIGNAL_MESSAGES: dict[str, str] = {
    SignalCode.POST_CLAIM_SCANS: (
        "this claimed unit's code was scanned by someone other than its owner"
    ),
    SignalCode.IMPOSSIBLE_TRAVEL: (
        "this code was scanned in places too far apart for the time between"
    ),
    SignalCode.MANY_SCANNERS: "this code was scanned by more people than one item plausibly has",
    SignalCode.SERIAL_PROBING: "many invented serial numbers of this product are being checked",
}
