"""Re-check a unit view as it is served, before believing its verdict.

A unit view (``GET /v1/units/{gtin}/{serial}``, docs/API.md) carries the verdict the
log computed and, for every entry of the unit, the leaf, its hash and its inclusion
proof to the signed checkpoint it also carries. `verify_unit_view` re-checks all of it
on the client's machine (ledger.verify.verdict.check_unit_chain): the checkpoint is
signed by the pinned log key, every leaf hashes to its hash and is included in that
checkpoint, every event is signed by a key the client trusts for its actor, and each
event extends the previous one. Any failure makes the verdict ``invalid``, whatever
the log said. Then the verdict and its reasons are computed again from the proven chain
alone (ledger.verify.recompute), never taken from the server, each entry under the
rule set of its index as the view's ``versions`` prove it (`proven_switch`: the genesis
and ``log.upgrade`` entries, included in the same checkpoint; a view whose numbers
those entries do not give is ``invalid``). A server that says
``genuine`` of a sold unit is contradicted (``served_verdict`` keeps what it said, and
`UnitViewCheck.disagreement` says it in one line). The served reasons that come from
outside the log (signals, reports) are kept apart as ``hints``.

Used by ``provenance verify`` and meant for any client (a scanner app, a partner's
system). Pure: no store, no HTTP; the caller fetches the view and the keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import codec, crypto, label, merkle, note
from ledger.entry import Leaf
from ledger.errors import LedgerError
from ledger.events import ActorRegister, LogUpgrade
from ledger.gs1 import UnitId
from ledger.rules.state import ActorRecord, KeyRecord
from ledger.shapes import ReasonShape
from ledger.verify.complete import check_complete
from ledger.verify.freshness import (
    DEFAULT_MAX_AGE,
    CheckpointStaleError,
    CosignatureError,
    Freshness,
    TimestampError,
    check_fresh,
)
from ledger.verify.recompute import Switch, disagreement, hints, recompute
from ledger.verify.verdict import INVALID, Reason, ServedEntry, check_unit_chain
from ledger.vocab import LabelState, ReasonCode


@dataclass(frozen=True)
class UnitViewCheck:
    """What a client may believe of a served unit view.

    Attributes:
        verdict: ``invalid`` when any check failed, else the verdict recomputed from
            the proven chain (ledger.verify.recompute).
        reasons: the failures, else the recomputed reasons (``code``, ``message``,
            ``evidence``).
        failures: the checks that failed, empty when the view holds.
        checked: how many entries were checked.
        served_verdict: the verdict the server said (a claim, not evidence).
        hints: the served reasons from outside the log (signals, reports), each with
            ``"hint": true``; never part of ``verdict``.
        switch: the log's format and rule-set switch the view's proven ``versions``
            entries gave, under which the chain was judged (None: not judged).
    """

    verdict: str
    reasons: list[ReasonShape]
    failures: tuple[Reason, ...]
    checked: int
    served_verdict: str = ""
    hints: tuple[ReasonShape, ...] = ()
    switch: Switch | None = None
    #: the map of heads proved the chain whole (or the unit absent) at this log size;
    #: None when completeness was not checked (no unit named, or a log before maps)
    complete_at: int | None = None
    #: the checkpoint's trusted time and age (ledger.verify.freshness); None when its
    #: age was not checked (no ``now`` given)
    fresh: Freshness | None = None

    @property
    def disagreement(self) -> str | None:
        """ "server said X, the proven chain says Y" when they differ, else None."""
        return disagreement(self.served_verdict, self.verdict, bool(self.hints))

    @property
    def ok(self) -> bool:
        """True when every entry, proof and signature of the view checked."""
        return not self.failures


def signers_of(view: Mapping[str, Any]) -> set[str]:
    """The actors whose keys `verify_unit_view` needs: each entry's signing actor.

    A client fetches each one's keys (``GET /v1/actors/{id}``) or takes them from a
    registry it trusts; a key a lying log invented must not be among them.
    """
    return {str(e["event"]["actor"]) for e in view.get("entries") or []}


def verify_unit_view(
    view: Mapping[str, Any],
    verifier_key: str,
    public_keys: Mapping[str, str],
    actors: Mapping[str, ActorRecord] | None = None,
    label_signature: str | None = None,
    brand_keys: Sequence[str] = (),
    keys: Mapping[str, KeyRecord] | None = None,
    unit: UnitId | None = None,
    scanned: label.ScannedLabel | None = None,
    now: int | None = None,
    max_age: int = DEFAULT_MAX_AGE,
    witness_keys: Sequence[str] = (),
) -> UnitViewCheck:
    """Re-check every entry, proof and signature of a served unit view, then compute
    its verdict again from the proven chain.

    Args:
        view: the unit view JSON as served (``verdict``, ``reasons``, ``entries``,
            ``checkpoint``).
        verifier_key: the log's C2SP verifier key, pinned by the client (a key taken
            from the same server proves only that the server is self-consistent).
        public_keys: key id -> base64url Ed25519 public key of the signers to trust.
        actors: the facts the client holds of the actors that signed or received the
            unit (ledger.verify.recompute.actor_record of ``GET /v1/actors/{id}``);
            an actor missing here counts as registered, with no role.
        label_signature: the scanned label's brand signature (``s=``), checked here
            against ``brand_keys`` (base64url public keys of the unit's brand; default:
            the key that signed the commission).
        keys: the records of the signers' keys (ledger.verify.recompute.key_records of
            ``GET /v1/actors/{id}``), for the cautions of compromised or recovered keys.
        unit: the unit the client asked for: the view's map proof must then show that
            the entries are its whole chain, or that it does not exist
            (ledger.verify.complete); a view that leaves entries out, or answers
            ``unknown`` for a unit the log holds, is ``invalid`` (``chain-incomplete``).
        scanned: the label of a scanned URL (its ``s``, lot and expiry): judged as the
            resolver judges it (`label.scanned_state`): a lot or expiry that is not the
            proven commission's is ``invalid`` (``label-mismatch``), no ``s`` a caution
            (``label-unsigned``).
        now: the client's time (seconds since the epoch): the checkpoint must then be
            dated by a trusted time at most ``max_age`` seconds before it
            (ledger.verify.freshness; with ``witness_keys``, only their cosignatures
            date it), else ``invalid`` with ``checkpoint-stale`` (or ``bad-timestamp``,
            ``bad-cosignature``, ``unknown-witness``): a stale view can be complete
            and still wrong. None: the age is not checked.

    Returns:
        ``invalid`` with one reason per failed check, else the recomputed verdict and
        reasons. An entry that cannot even be decoded (a dropped or garbled leaf, hash
        or proof) is a failed proof.
    """
    entries = list(view.get("entries") or [])
    served: list[ServedEntry] = []
    failures: list[Reason] = []
    for position, item in enumerate(entries):
        try:
            served.append(_served(item))
        except (LedgerError, KeyError, TypeError, ValueError, ArithmeticError) as e:
            index = item.get("index", position) if isinstance(item, Mapping) else position
            failures.append(
                Reason(
                    ReasonCode.PROOF_INVALID,
                    f"an entry is not proven in the log: malformed entry ({e!r})",
                    {"index": index},
                )
            )
    if served or failures:
        checkpoint = view.get("checkpoint")
        if not isinstance(checkpoint, str):
            failures.insert(
                0,
                Reason(
                    ReasonCode.CHECKPOINT_INVALID, "the log's checkpoint does not verify: missing"
                ),
            )
        elif not failures:
            failures = check_unit_chain(served, checkpoint, verifier_key, public_keys)
    switch: Switch | None = None
    if served and not failures:  # which rules hold where: from the log, proven
        switch, failures = proven_switch(
            view.get("versions"), str(view["checkpoint"]), verifier_key
        )
    said = str(view.get("verdict"))
    given = tuple(hints(view.get("reasons") or []))
    complete_at = None
    if unit is not None and not failures:
        completeness = check_complete(
            unit, served, view.get("checkpoint"), verifier_key, view.get("map_proof")
        )
        if completeness.failure is not None:
            failures.append(completeness.failure)
        complete_at = completeness.size
    fresh = None
    if now is not None and not failures:
        fresh, stale = _freshness(view.get("checkpoint"), verifier_key, witness_keys, now, max_age)
        failures.extend(stale)
    if failures:
        return UnitViewCheck(
            INVALID, [f.to_dict() for f in failures], tuple(failures), len(entries), said, given
        )
    # the verified checkpoint names the log: format-2 entries' hashes name it too
    checkpoint = view.get("checkpoint")
    origin = checkpoint.split("\n", 1)[0] if isinstance(checkpoint, str) and served else None
    chain = [(s.index, Leaf.from_bytes(s.leaf, origin)) for s in served]
    facts = dict(actors or {})
    state, evidence = _label(
        chain, label_signature, brand_keys or _commission_key(chain, public_keys), scanned
    )
    # no entry (an unknown unit): nothing is replayed, under any switch
    result = recompute(
        chain,
        facts,
        label=state,
        label_evidence=evidence,
        keys=keys,
        switch=switch or Switch(0, 0),
    )
    reasons = [r.to_dict() for r in result.reasons]
    return UnitViewCheck(
        str(result.verdict), reasons, (), len(served), said, given, switch, complete_at, fresh
    )


def _freshness(
    checkpoint: object, verifier_key: str, witness_keys: Sequence[str], now: int, max_age: int
) -> tuple[Freshness | None, list[Reason]]:
    """The view's checkpoint dated (ledger.verify.freshness), or the reason it is not."""
    if not isinstance(checkpoint, str):
        return None, [Reason(ReasonCode.CHECKPOINT_STALE, "the view carries no checkpoint")]
    try:
        return check_fresh(checkpoint, verifier_key, witness_keys, now=now, max_age=max_age), []
    except (CheckpointStaleError, TimestampError, CosignatureError) as e:
        return None, [Reason(ReasonCode(e.code), e.message)]
    except LedgerError as e:
        message = f"the log's checkpoint does not verify: {e.message}"
        return None, [Reason(ReasonCode.CHECKPOINT_INVALID, message)]


def proven_switch(
    versions: object, checkpoint_text: str, verifier_key: str
) -> tuple[Switch | None, list[Reason]]:
    """The log's format and rule-set switch as the view's ``versions`` prove it, or the
    reasons it does not (docs/API.md, the unit view; docs/FORMAT.md section 3.1).

    Steps: (1) the checkpoint verifies under the pinned key; (2) every ``versions`` entry
    hashes to its leaf hash and is included in that checkpoint at its index; (3) the
    entry at index 0 is there and is the genesis (an operator registering itself), every
    other one a ``log.upgrade``; (4) the switch those entries give (`Switch.from_entries`)
    is the one the view states in ``format_from`` and ``rules_from``: a server that
    moves the switch, or names one its entries do not show, is refused.

    Inclusion proves an entry is the log's at its index; its signature, like the rules'
    acceptance of every entry, is the audit's to check (ledger.audit). A log that hides
    its ``log.upgrade`` (an old log's only one) is not caught here: an audit replays it.
    """

    def fail(why: str, evidence: dict[str, Any] | None = None) -> tuple[None, list[Reason]]:
        message = f"the log's format and rule set are not proven: {why}"
        return None, [Reason(ReasonCode.PROOF_INVALID, message, evidence or {})]

    if not isinstance(versions, Mapping) or not isinstance(versions.get("entries"), list):
        return fail("the view carries no versions")
    try:  # (1)
        checkpoint = note.verify_checkpoint(checkpoint_text, verifier_key)
    except LedgerError as e:
        return None, [
            Reason(ReasonCode.CHECKPOINT_INVALID, f"the log's checkpoint does not verify: {e}")
        ]
    events = []
    for position, item in enumerate(versions["entries"]):
        try:  # (2)
            served = _served(item)
            if merkle.leaf_hash(served.leaf) != served.leaf_hash:
                raise ValueError("its hash does not match")
            merkle.verify_inclusion(
                served.leaf_hash, served.index, checkpoint.size, served.proof, checkpoint.root
            )
            event = Leaf.from_bytes(served.leaf, checkpoint.origin).signed.event
        except (LedgerError, KeyError, TypeError, ValueError, ArithmeticError) as e:
            index = item.get("index", position) if isinstance(item, Mapping) else position
            return fail(f"an entry is not proven in the log ({e})", {"index": index})
        genesis = isinstance(event, ActorRegister) and event.subject == event.actor
        if not (genesis if served.index == 0 else isinstance(event, LogUpgrade)):  # (3)
            why = "index 0 is not the genesis" if served.index == 0 else "not a log.upgrade"
            return fail(why, {"index": served.index})
        events.append((served.index, event))
    try:
        switch = Switch.from_entries(events)
    except ValueError:
        return fail("the genesis entry (index 0) is missing")
    stated = (versions.get("format_from"), versions.get("rules_from"))
    if stated != (switch.format_from, switch.rules_from):  # (4)
        return fail(
            f"the view says format 2 from {stated[0]} and rule set 2 from {stated[1]}; "
            f"its entries say {switch.format_from} and {switch.rules_from}",
            {"format_from": switch.format_from, "rules_from": switch.rules_from},
        )
    return switch, []


def _commission_key(chain: list[tuple[int, Leaf]], public_keys: Mapping[str, str]) -> list[str]:
    """The key that signed the unit's first entry (its commission), if trusted."""
    found = public_keys.get(chain[0][1].signed.key) if chain else None
    return [found] if found else []


def _label(
    chain: list[tuple[int, Leaf]],
    signature: str | None,
    keys: Sequence[str],
    scanned: label.ScannedLabel | None = None,
) -> tuple[LabelState, dict[str, Any]]:
    """The scanned label's state and its reason's evidence (`label.scanned_state`): its
    signature checked against the brand's ``keys``, its lot and expiry against the
    proven commission (the chain's first event)."""
    first = chain[0][1].signed.event if chain else None
    unit = getattr(first, "unit", None)
    commission = (getattr(first, "lot", None), getattr(first, "expiry", None)) if chain else None

    def signed(signature: str) -> bool:
        if not isinstance(unit, UnitId):
            return False
        try:
            public = [crypto.public_key_from_b64(k) for k in keys]
            label.verify_label_signature(unit, signature, public)
        except LedgerError:
            return False
        return True

    return label.scanned_state(scanned, signature, signed, commission)


def _served(item: Mapping[str, Any]) -> ServedEntry:
    """One served entry decoded; raises on a missing or undecodable part."""
    return ServedEntry(
        int(item["index"]),
        codec.b64url_decode(item["leaf"]),
        codec.b64url_decode(item["leaf_hash"]),
        [codec.b64url_decode(p) for p in item["proof"]],
    )
