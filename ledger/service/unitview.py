"""The unit view: everything a phone or a client needs to judge one unit itself.

`unit_view` reads, for one unit, the latest checkpoint, the unit's entries with their
inclusion proofs to that checkpoint (fetched together, O(k log n) rows), the actors,
keys and product involved, and the scan summary; it re-checks every proof and
signature (ledger.verify.verdict) and returns the JSON-ready view of docs/API.md:
``{verdict, reasons, unit, entries, checkpoint, versions, scans}``. ``versions`` carries
the log's format and rule-set switch with the entries that prove it (the genesis and
the ``log.upgrade``, `switch_entries`), so a client replays each entry under the rule
set of its index, read from the log, not assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger import codec, crypto, gs1, label
from ledger.entry import Leaf
from ledger.errors import LedgerError, NotFoundError
from ledger.events import Inspect
from ledger.label import ScannedLabel
from ledger.map.trie import unit_key
from ledger.rules.state import (
    ActorRecord,
    KeyRecord,
    ProductRecord,
    UnitRecord,
)
from ledger.service.mapproofs import checkpoint_and_map_proof, proven_before
from ledger.service.viewactors import actor_ref, partners_by_role
from ledger.shapes import (
    EntryShape,
    LogVersionsShape,
    LogViewShape,
    ProductRefShape,
    UnitEntryShape,
    UnitInfoShape,
)
from ledger.store import Store
from ledger.stored import StoredEntry
from ledger.verify.recompute import Switch
from ledger.verify.verdict import (
    Reason,
    ServedEntry,
    check_unit_chain,
    judge,
    signing_key_reasons,
)
from ledger.vocab import KeyScope, LabelState, UnitState

#: finished views a base keeps for verified labels at most (`UnitBase.finished`)
FINISHED = 8


class Entries(list[UnitEntryShape]):
    """A unit view's entries (a list: JSON encodes it as one) with what every view of
    them reads worked out once, when they are made: ``latest_claim``, the last
    ``claim`` entry (None: none). The entries are never changed after that (`UnitBase`).
    A unit of 1,000 entries spent a tenth of its view's time finding its claim."""

    __slots__ = ("latest_claim",)

    def __init__(self, entries: list[UnitEntryShape]) -> None:
        super().__init__(entries)
        self.latest_claim: UnitEntryShape | None = last_claim(entries)


def last_claim(entries: Sequence[Any]) -> Any:
    """The last ``claim`` entry of a view's ``entries`` (None: none), searched from the
    end; an `Entries` list answers from what it found when it was made."""
    if isinstance(entries, Entries):
        return entries.latest_claim
    return next((e for e in reversed(entries) if e["event"].get("kind") == "claim"), None)


@dataclass(frozen=True)
class UnitBase:
    """What a unit's view is at one log size, before any label is looked at: the
    chain with its proofs to the checkpoint, the records it names, what the checks
    found, and the brand's label keys. Everything here is a function of the log's
    contents at ``size``, so it is built once per (unit, size) and shared by every
    request; a scanned label is judged against it per request (`finish`), never
    used to find it. A per-(unit, size) value (a map proof) belongs here too.
    """

    unit_id: gs1.UnitId
    size: int
    checkpoint: str | None
    record: UnitRecord | None
    product: ProductRecord | None
    actors: dict[str, ActorRecord]
    #: the partners the unit's brand chose to show by their role alone (`_by_role`)
    by_role: frozenset[str]
    entries: Entries
    failures: list[Reason]
    signers: dict[str, ActorRecord]
    inspections: list[str]
    handled: list[tuple[str, str]]
    key_reasons: list[Reason]
    #: the brand keys a label of this unit may be signed with (`_label_keys`)
    label_keys: tuple[crypto.Ed25519PublicKey, ...]
    #: an estimate of the memory it holds, for the cache's byte budget
    nbytes: int
    #: the unit's map proof under the map root the checkpoint signs (None: no map)
    map_proof: str | None = None
    #: the genesis and log.upgrade entries, proven: which rules hold where (None: no entries)
    versions: LogVersionsShape | None = None
    #: the size of the checkpoint the chain is proven in (0: none): below ``size`` while
    #: the stored map of heads is behind the log (ledger.service.mapproofs), and then
    #: not kept for ``size`` (`ViewCache.base`): the map's rows land within moments
    proven_size: int = 0
    #: views finished for labels whose signature verified (`finish`), by the label: a
    #: unit has one valid signature per brand key, so strangers cannot grow it past
    #: `FINISHED` (fresh forged ``s=`` values are checked every time and never kept)
    finished: dict[tuple[str | None, ScannedLabel | None], LogViewShape] = field(
        default_factory=dict, compare=False, repr=False
    )


def unit_view(
    store: Store,
    log: int,
    verifier_key: str,
    unit_id: gs1.UnitId,
    label_signature: str | None,
    scanned: ScannedLabel | None = None,
) -> LogViewShape:
    """Return the unit view of ``unit_id`` without its scan summary (`ViewCache` adds it).

    ``scanned`` is the label a shopper scanned at the resolver; it wins over
    ``label_signature`` (which an API query may send alone): its lot and expiry must be
    the commission's (``mismatch`` otherwise) and its signature must be there
    (``unsigned``) and the brand's (``invalid``). Without either, no label was shown
    (``absent``).

    Raises:
        StorageError: the database failed.
    """
    size = store.head(log).size
    return finish(build_base(store, log, verifier_key, unit_id, size), label_signature, scanned)


def build_base(
    store: Store, log: int, verifier_key: str, unit_id: gs1.UnitId, size: int
) -> UnitBase:
    """Read and check everything of the unit's view that no label changes, at the
    latest checkpoint (``size``: the log's size it was read at, the cache key).

    Raises:
        StorageError: the database failed.
    """
    try:
        key = unit_key(unit_id.gtin, unit_id.serial)
        checkpoint, proof_text = checkpoint_and_map_proof(store, log, key)
    except NotFoundError:
        return UnitBase(
            unit_id,
            size,
            None,
            None,
            None,
            {},
            frozenset(),
            Entries([]),
            [],
            {},
            [],
            [],
            [],
            (),
            1024,
        )
    chain = store.unit_entries(log, unit_id.gtin, unit_id.serial)
    proven_before([e.index for e in chain], checkpoint)  # the records show them all
    stored = [e for e in chain if e.index < checkpoint.size]
    # the log's switch, proven to the same checkpoint in the same read (a unit to judge)
    switch = switch_entries(store, log, checkpoint.size) if stored else []
    proofs = store.inclusion_proofs(log, [e.index for e in (*stored, *switch)], checkpoint.size)
    served = [
        ServedEntry(e.index, e.leaf, e.leaf_hash, p)
        for e, p in zip(stored, proofs[: len(stored)], strict=True)
    ]
    versions = _versions(switch, proofs[len(stored) :]) if switch else None
    leaves = [Leaf.from_bytes(e.leaf) for e in stored]
    records = store.records(
        log, {UnitRecord: [(unit_id.gtin, unit_id.serial)], ProductRecord: [unit_id.gtin]}
    )
    unit = next((r for r in records if isinstance(r, UnitRecord)), None)
    if unit is not None:  # read after the chain: an entry landed in between shows here
        proven_before([unit.head_index], checkpoint)
    product = next((r for r in records if isinstance(r, ProductRecord)), None)
    actor_ids = {leaf.signed.event.actor for leaf in leaves} | _unit_actors(unit)
    actors = {
        a.id: a for a in store.records(log, {ActorRecord: actor_ids}) if isinstance(a, ActorRecord)
    }
    key_records = {
        k.key_id: k
        for k in store.records(log, {KeyRecord: {leaf.signed.key for leaf in leaves}})
        if isinstance(k, KeyRecord)
    }
    keys = {k: r.public_key for k, r in key_records.items()}
    by_role = partners_by_role(store, log, unit, actor_ids)
    entries = Entries(
        [_entry(s, leaf, actors, by_role) for s, leaf in zip(served, leaves, strict=True)]
    )
    return UnitBase(
        unit_id=unit_id,
        size=size,
        checkpoint=checkpoint.note,
        record=unit,
        product=product,
        actors=actors,
        by_role=by_role,
        entries=entries,
        failures=check_unit_chain(served, checkpoint.note, verifier_key, keys),
        # the unit's signers and its holders: a pending recipient revoked before it
        # signed anything still holds the unit (held-by-revoked)
        signers={
            a: actors[a]
            for a in {leaf.signed.event.actor for leaf in leaves} | _holders(unit)
            if a in actors
        },
        inspections=[
            e.result for e in (leaf.signed.event for leaf in leaves) if isinstance(e, Inspect)
        ],
        handled=[(leaf.signed.event.actor, leaf.received) for leaf in leaves],
        key_reasons=signing_key_reasons(
            [(leaf.signed.key, leaf.received) for leaf in leaves], key_records
        ),
        label_keys=_label_keys(store, log, unit),
        nbytes=_estimate(served, len(checkpoint.note)),
        map_proof=proof_text,
        versions=versions,
        proven_size=checkpoint.size,
    )


def finish(base: UnitBase, signature: str | None, scanned: ScannedLabel | None) -> LogViewShape:
    """The view of ``base`` for a label (``scanned``, or ``signature`` alone from an
    API query; see `unit_view`): the label's state and the verdict. No database read:
    a signature check at most, none for a label whose signature verified before
    against this base (the same view; callers copy before changing it)."""
    if base.checkpoint is None:
        return _empty_view()
    key = (signature, scanned)
    done = base.finished.get(key)
    if done is not None:
        return done
    label_state, evidence = _label_state(base, signature, scanned)
    verdict, reasons = judge(
        base.record,
        base.signers,
        base.failures,
        label_state,
        base.inspections,
        base.handled,
        base.key_reasons,
        evidence,
    )
    unit = base.record
    view: LogViewShape = {
        "verdict": verdict,
        "reasons": [r.to_dict() for r in reasons],
        "unit": None
        if unit is None
        else _unit(unit, base.unit_id, base.product, base.actors, label_state, base.by_role),
        "entries": base.entries,
        "checkpoint": base.checkpoint,
        "map_proof": base.map_proof,
        "versions": base.versions,
    }
    signed = scanned.signature if scanned is not None else signature
    if signed is not None and label_state in (LabelState.VALID, LabelState.MISMATCH):
        # the signature verified: kept, so the label's next scan checks no signature
        if len(base.finished) >= FINISHED:
            base.finished.clear()
        base.finished[key] = view
    return view


def switch_entries(store: Store, log: int, size: int) -> list[StoredEntry]:
    """The entries below ``size`` that say which format and rule set the log holds from
    which index (docs/FORMAT.md section 3.1): the genesis entry, then the log's
    ``log.upgrade`` if it has one below ``size`` (the genesis operator's record keeps the
    index after it, ``log_since``). Empty for an empty log.

    Raises:
        StorageError: the database failed.
    """
    if size < 1:
        return []
    genesis = store.entry(log, 0)
    found = [genesis]
    operator = Leaf.from_bytes(genesis.leaf).signed.event.actor
    for record in store.records(log, {ActorRecord: [operator]}):
        since = record.log_since if isinstance(record, ActorRecord) else None
        if since and since - 1 < size:  # since 0: the genesis named them, no upgrade
            found.append(store.entry(log, since - 1))
    return found


def _versions(entries: list[StoredEntry], proofs: list[list[bytes]]) -> LogVersionsShape:
    """The view's ``versions``: the switch `switch_entries` give and those entries, proven."""
    served = [
        (ServedEntry(e.index, e.leaf, e.leaf_hash, p), Leaf.from_bytes(e.leaf))
        for e, p in zip(entries, proofs, strict=True)
    ]
    switch = Switch.from_entries([(s.index, leaf.signed.event) for s, leaf in served])
    return {
        "format_from": switch.format_from,
        "rules_from": switch.rules_from,
        "entries": [entry_json(s, leaf) for s, leaf in served],
    }


def _estimate(served: list[ServedEntry], checkpoint: int) -> int:
    """A rough upper estimate of a base's memory: per entry its leaf (bytes, base64
    and the parsed event), its proof's hashes as base64 strings, and the dicts
    around them. Only its growth with the entries matters for the budget."""
    per_entry = sum(4 * len(s.leaf) + 120 * len(s.proof) + 1500 for s in served)
    return 4096 + checkpoint + per_entry


def _empty_view() -> LogViewShape:
    """The view before the log has a checkpoint: every unit is unknown."""
    verdict, reasons = judge(None, {}, [])
    return {
        "verdict": verdict,
        "reasons": [r.to_dict() for r in reasons],
        "unit": None,
        "entries": [],
        "checkpoint": None,
        "map_proof": None,
        "versions": None,
    }


def _holders(unit: UnitRecord | None) -> set[str]:
    """The unit's custodian and pending recipient (none for an unknown unit)."""
    return {a for a in (unit.custodian, unit.pending) if a} if unit is not None else set()


def _unit_actors(unit: UnitRecord | None) -> set[str]:
    if unit is None:
        return set()
    return {a for a in (unit.brand, unit.custodian, unit.pending) if a}


def _label_state(
    base: UnitBase, signature: str | None, scanned: ScannedLabel | None = None
) -> tuple[LabelState, dict[str, Any]]:
    """The scanned label's state and the evidence of its reason (`label.scanned_state`)."""
    unit = base.record
    commission = (unit.lot, unit.expiry) if unit is not None else None
    return label.scanned_state(scanned, signature, lambda s: _signed_by_brand(base, s), commission)


def _label_keys(
    store: Store, log: int, unit: UnitRecord | None
) -> tuple[crypto.Ed25519PublicKey, ...]:
    """The keys a label of ``unit`` may be signed with: every key its brand ever
    registered (labels printed before a rotation stay on shelves), except a key the
    brand reported compromised: a label carries no time, so one its thief printed
    cannot be told from one printed before the theft; and except a scoped key whose
    scope has no ``mint``: only a key that may commission units prints their labels, so
    a console key (``flag``, ``recall``), which the operator's server holds, never
    makes a label that verifies (docs/CONSOLE.md)."""
    if unit is None:
        return ()
    brand_keys = store.records_in(log, KeyRecord, "actor", [unit.brand])
    # the brand's keys from actor.register and key.rotate (removed ones too: labels
    # outlive rotations), never an operator's key.recover: a brand that was recovered
    # adds a label key with key.rotate once its recovered key is in effect
    return tuple(
        crypto.public_key_from_b64(k.public_key)
        for k in brand_keys
        if isinstance(k, KeyRecord)
        and k.recovered_index is None
        and k.compromised_since is None
        and (not k.scope or KeyScope.MINT in k.scope)
    )


def _signed_by_brand(base: UnitBase, signature: str) -> bool:
    """Whether ``signature`` is the unit's brand's label signature (`_label_keys`)."""
    try:
        label.verify_label_signature(base.unit_id, signature, base.label_keys)
    except LedgerError:
        return False
    return True


def _unit(
    unit: UnitRecord,
    unit_id: gs1.UnitId,
    product: ProductRecord | None,
    actors: dict[str, ActorRecord],
    label_state: LabelState,
    by_role: frozenset[str] = frozenset(),
) -> UnitInfoShape:
    return {
        "gtin": unit.gtin,
        "serial": unit.serial,
        "path": unit_id.path(),
        "lot": unit.lot,
        "expiry": unit.expiry,
        "brand": actor_ref(actors, unit.brand),
        "product": None if product is None else _product(product),
        "state": UnitState(unit.state),
        "custodian": actor_ref(actors, unit.custodian, by_role),
        "pending": actor_ref(actors, unit.pending, by_role),
        "sold": unit.sold,
        "delivered": unit.delivered,
        "claimed": unit.claimed,
        "recalled": unit.recalled,
        "decommissioned": unit.decommissioned,
        "flags": unit.flags,
        "sales": unit.sales,
        "last_sold": unit.last_sold,
        "consumed_at": unit.consumed_at,
        "label": label_state,
    }


def _product(product: ProductRecord) -> ProductRefShape:
    """The product as the view shows it: its names by language and the brand's support
    contact when the brand gave them (its signed ``product.register``)."""
    shown: ProductRefShape = {"gtin": product.gtin, "name": product.name}
    if product.name_zh:
        shown["names"] = {"en": product.name, "zh-CN": product.name_zh}
    if product.support:
        shown["support"] = product.support
    if product.image:
        shown["image"] = product.image
    return shown


def entry_json(served: ServedEntry, leaf: Leaf) -> EntryShape:
    """One entry as the API shows it: index, leaf, leaf hash, proof, event, receive time."""
    return {
        "index": served.index,
        "leaf": codec.b64url_encode(served.leaf),
        "leaf_hash": codec.b64url_encode(served.leaf_hash),
        "proof": [codec.b64url_encode(h) for h in served.proof],
        "event": leaf.signed.event.to_dict(),
        "received": leaf.received,
    }


def _entry(
    served: ServedEntry, leaf: Leaf, actors: dict[str, ActorRecord], by_role: frozenset[str]
) -> UnitEntryShape:
    signer = actor_ref(actors, leaf.signed.event.actor, by_role)
    return {**entry_json(served, leaf), "signer": signer}
