"""Use cases over a store: append (single and batch), reads, proofs, rebuild.

`Ledger` is the one place where an event becomes an entry:

1. outside the write lock, every signature whose key is already known is verified;
2. under the log's write lock (one transaction): entries already in the log are
   answered with their existing index (idempotency); the state the rules need is
   loaded; each new event is checked by ledger.rules against that state (a key
   introduced earlier in the same batch is verified here); its leaf, tree nodes and
   running chain hash are computed; everything is written with the new head and one
   checkpoint signed by the operator's key, or nothing is.

A refused event refuses its whole batch, with the error's ``field`` prefixed by the
event's position (``events[3].prev``). The faces (api, cli) call only this module.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from ledger import codec, crypto, entry, gs1, merkle, note, rules
from ledger.entry import Leaf, SignedEvent
from ledger.errors import KeyFormatError, LedgerError, NotFoundError, ValidationError
from ledger.events import ActorRegister, UnitEvent, format_time
from ledger.merkle import Subtree
from ledger.rules.state import ActorRecord, KeyRecord, State
from ledger.service import cosigning
from ledger.service.claims import Claiming
from ledger.service.prefetch import load_state_for
from ledger.service.reports import Reporting
from ledger.service.signals import Signaling
from ledger.service.unitview import ViewCache, entry_json
from ledger.shapes import ActorShape, EntryShape, ReceiptShape, UnitViewShape
from ledger.store import ReplicaStatus, SignalStore, Store, WriteTx
from ledger.stored import LogHead, StoredEntry
from ledger.verify.batchverify import first_bad_signature
from ledger.verify.verdict import ServedEntry
from ledger.vocab import Role

MAX_BATCH = 1000

#: Fault injection, for the hammer's broken-build tests ONLY (docs/RELIABILITY.md): a
#: ledger that honours it is deliberately wrong. Never set these in production.
FAULT_ENV = "PROVENANCE_FAULT_INJECTION"
FAULT_CONSENT_ENV = "PROVENANCE_FAULT_INJECTION_CONSENT"
FAULT_CONSENT = "break-this-ledger-for-a-test"
#: skip-head-check: accept a unit event whatever its ``prev`` (a unit chain can fork)
FAULTS = frozenset({"skip-head-check"})


@dataclass(frozen=True)
class LogConfig:
    """What identifies a log and who signs for it.

    ``origin`` names the log in its checkpoints (e.g. ``provenance.example/log``);
    ``operator_key`` signs checkpoints and the genesis entry that registers the operator.
    Without it the ledger is read-only (an auditor's view): the log must exist and
    ``verifier_key`` (the log's C2SP verifier key, pinned by the reader) is required.
    ``witnesses`` are the verifier keys (type 0x04) of the witnesses whose cosignatures
    the log accepts and counts (ledger.service.cosigning).
    """

    origin: str
    operator_key: crypto.Ed25519PrivateKey | None
    name: str = "default"
    operator_id: str = "operator"
    verifier_key: str | None = None
    witnesses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """Where an event sits in the log; ``duplicate`` if it was already there."""

    index: int
    leaf_hash: bytes
    event_hash: bytes
    duplicate: bool = False


@dataclass(frozen=True)
class BatchReceipt:
    """The receipts of a batch, in submission order, and the checkpoint covering them."""

    receipts: tuple[Receipt, ...]
    size: int
    checkpoint: str

    def to_dict(self) -> ReceiptShape:
        """The receipt as the API returns it (hashes in base64url)."""
        return {
            "receipts": [
                {
                    "index": r.index,
                    "leaf_hash": codec.b64url_encode(r.leaf_hash),
                    "event_hash": codec.b64url_encode(r.event_hash),
                    "duplicate": r.duplicate,
                }
                for r in self.receipts
            ],
            "size": self.size,
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True)
class Scan:
    """One resolver hit: which unit, when, a coarse place, a daily-salted client hash."""

    gtin: str
    serial: str
    at: datetime
    place: str | None
    client: str
    agent: str

    def to_row(self) -> dict[str, Any]:
        """The scans-table row."""
        return {
            "gtin": self.gtin,
            "serial": self.serial,
            "at": format_time(self.at),
            "place": self.place,
            "client": self.client,
            "agent": self.agent,
        }


class _TreeAppender:
    """Extends the Merkle tree leaf by leaf from the stored right-edge subtrees."""

    def __init__(self, size: int, frontier: dict[Subtree, bytes]) -> None:
        self.size = size
        self.known = dict(frontier)
        self.new: dict[Subtree, bytes] = {}

    def add(self, leaf_hash: bytes) -> None:
        for sub in merkle.subtrees_completed_by(self.size):
            if sub.level == 0:
                value = leaf_hash
            else:
                half = 1 << (sub.level - 1)
                left = self.known[Subtree(sub.level - 1, sub.start)]
                value = merkle.node_hash(left, self.known[Subtree(sub.level - 1, sub.start + half)])
            self.known[sub] = value
            self.new[sub] = value
        self.size += 1

    def root(self) -> bytes:
        pieces = merkle.range_subtrees(0, self.size)
        return merkle.range_root([self.known[p] for p in pieces]) if pieces else merkle.EMPTY_ROOT


class Ledger(Claiming, Signaling, Reporting):
    """One log in one store. Open with `Ledger.open`; close with `close`.

    Claims (ledger.service.claims), clone signals and alerts (ledger.service.signals) and consumer
    reports (ledger.service.reports) are mixed in.
    """

    def __init__(
        self, store: Store, config: LogConfig, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._views = ViewCache()
        self._signal_store = SignalStore(store.engines, store)
        self._faults = faults_from_env(os.environ)
        if config.operator_key is None:
            if config.verifier_key is None:
                raise KeyFormatError("a read-only ledger needs the log's verifier key")
            self.signer: note.Signer | None = None
            self._verifier_key = config.verifier_key
            found = store.find_log(config.name)
            if found is None:
                raise NotFoundError(f"no log named {config.name!r} in this database", field="log")
            self.log = found.id
        else:
            self.signer = note.Signer(config.origin, config.operator_key)
            self._verifier_key = self.signer.verifier.to_text()
            self.log = store.ensure_log(config.name, config.origin).id

    @classmethod
    def open(
        cls,
        url: str,
        config: LogConfig,
        clock: Callable[[], datetime] | None = None,
        replicas: Sequence[str] = (),
    ) -> Ledger:
        """Open (creating and migrating if needed) the store at ``url`` and the log.

        ``replicas`` are PostgreSQL streaming replicas of ``url`` that serve reads.

        Raises:
            StorageError: the database cannot be reached or migrated.
        """
        store = Store.open(url, replicas=replicas)
        try:
            return cls(store, config, clock)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def reading(self, min_size: int = 0, *, primary: bool = False, wait: bool = True) -> Ledger:
        """This ledger with its reads on one engine that holds ``min_size`` entries.

        A streaming replica that has replayed that far (after a short wait), else the
        primary: a client that wrote and got size ``n`` back reads its write with
        ``min_size=n``; ``wait=False`` gives a lagging replica no time to catch up.
        ``primary``: every read on the primary, for requests that write after reading
        (claim lockouts, report triage) and must not act on stale state.
        Use one per request, so that all of its reads agree.
        """
        pinned = copy.copy(self)
        pinned.store = (
            self.store.on_primary() if primary else self.store.pinned(self.log, min_size, wait=wait)
        )
        pinned._signal_store = SignalStore(pinned.store.engines, pinned.store)
        return pinned

    def replica_status(self) -> list[ReplicaStatus]:
        """Each read replica of this log's database: up, lag in entries and seconds."""
        size = self.store.on_primary().head(self.log).size
        return self.store.replica_status(self.log, size)

    @property
    def signal_store(self) -> SignalStore:
        """The store of scans, owners, claim attempts and reports (outside the log)."""
        return self._signal_store

    @property
    def verifier_key(self) -> str:
        """The log's C2SP verifier key text ``name+keyhash+base64``."""
        return self._verifier_key

    def _require_signer(self) -> note.Signer:
        if self.signer is None:
            raise KeyFormatError("read-only ledger: writing needs the operator key")
        return self.signer

    def now(self) -> datetime:
        """The service's clock (UTC)."""
        return self._clock()

    # --- writes -------------------------------------------------------------------

    def init(self, name: str = "Platform operator") -> BatchReceipt | None:
        """Write the genesis entry (the operator registers itself) if the log is empty.

        Returns the receipt, or None when the log already has entries.
        """
        if self.store.on_primary().head(self.log).size:
            return None
        key = self.config.operator_key
        if key is None:
            raise KeyFormatError("read-only ledger: writing needs the operator key")
        event = ActorRegister(
            actor=self.config.operator_id,
            time=format_time(self.now()),
            subject=self.config.operator_id,
            role="operator",
            name=name,
            keys=(crypto.public_key_to_b64(key.public_key()),),
        )
        return self.append_batch([entry.sign_event(event, key)])

    def append(self, signed: SignedEvent, now: datetime | None = None) -> BatchReceipt:
        """Append one signed event (see `append_batch`)."""
        return self.append_batch([signed], now)

    def append_batch(
        self, items: Sequence[SignedEvent], now: datetime | None = None
    ) -> BatchReceipt:
        """Append signed events atomically: all are accepted, or nothing is written.

        Events already in the log (same event hash) are not written again; their
        receipt carries the existing index and ``duplicate=True``.

        Raises:
            ValidationError: an empty or oversized batch.
            SignatureError: a signature does not verify (field ``events[i]``).
            RuleError, ConflictError: the rules refuse an event (field ``events[i]...``).
            StorageError: the database failed; nothing was written.
        """
        if not 1 <= len(items) <= MAX_BATCH:
            raise ValidationError(f"a batch holds 1 to {MAX_BATCH} events", field="events")
        received = now or self.now()
        self._require_signer()
        known = self._verify_known(items)  # (1) outside the lock
        with self.store.writer(self.log) as tx:  # (2) under the lock
            return self._append_locked(tx, items, received, known)

    def _verify_known(self, items: Sequence[SignedEvent]) -> dict[str, str]:
        known = self.store.public_keys(self.log, {s.key for s in items})
        raw = {k: codec.b64url_decode(v, field="key") for k, v in known.items()}
        jobs = [(i, s, raw[s.key]) for i, s in enumerate(items) if s.key in raw]
        bad = first_bad_signature(jobs)  # on every core; the first bad one wins
        if bad is not None:
            raise _locate(bad[1], bad[0], len(items)) from None
        return known

    def _append_locked(
        self, tx: WriteTx, items: Sequence[SignedEvent], received: datetime, known: dict[str, str]
    ) -> BatchReceipt:
        head = tx.lock_head()
        existing = tx.find_event_hashes([s.hash for s in items])
        state = load_state_for(tx, [s for s in items if s.hash not in existing])
        tree = _TreeAppender(head.size, tx.subtrees(merkle.range_subtrees(0, head.size)))
        chain, rows, records = head.chain, [], []
        receipts: list[Receipt] = []
        seen: dict[bytes, Receipt] = {}
        for i, signed in enumerate(items):
            event_hash = signed.hash
            if event_hash in existing:
                index, leaf_hash = existing[event_hash]
                receipts.append(Receipt(index, leaf_hash, event_hash, duplicate=True))
                continue
            if event_hash in seen:
                receipts.append(_duplicate(seen[event_hash]))
                continue
            try:
                if "skip-head-check" in self._faults:
                    _forget_head(state, signed)
                new = _accept(state, signed, tree.size, received, known)
            except LedgerError as e:
                raise _locate(e, i, len(items)) from None
            state.apply(new)
            records.extend(new)
            leaf = Leaf.build(signed, received)
            chain = entry.chain_hash(chain, leaf.hash)
            rows.append(_entry_row(tree.size, leaf, chain, event_hash))
            seen[event_hash] = Receipt(tree.size, leaf.hash, event_hash)
            receipts.append(seen[event_hash])
            tree.add(leaf.hash)
        if not rows:
            return BatchReceipt(tuple(receipts), head.size, tx.checkpoint_note(head.size))
        tx.insert_entries(rows)
        tx.insert_nodes(tree.new)
        tx.upsert(records)
        root = tree.root()
        tx.set_head(tree.size, chain, root)
        checkpoint = note.sign_checkpoint(
            note.Checkpoint(head.origin, tree.size, root), self._require_signer()
        )
        tx.insert_checkpoint(tree.size, root, checkpoint.decode(), format_time(received))
        return BatchReceipt(tuple(receipts), tree.size, checkpoint.decode())

    # --- reads --------------------------------------------------------------------

    def head(self) -> LogHead:
        """The log's committed head (size, root, running chain hash)."""
        return self.store.head(self.log)

    def checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint at ``size`` (default: the latest) as C2SP note text.

        Raises:
            NotFoundError: no checkpoint at that size.
        """
        return self.store.checkpoint(self.log, size).note

    def entry(self, index: int) -> StoredEntry:
        """The stored entry at ``index``.

        Raises:
            NotFoundError: no such entry.
        """
        return self.store.entry(self.log, index)

    def entries(self, start: int, end: int) -> list[StoredEntry]:
        """The entries with ``start <= index < end``."""
        return self.store.entries(self.log, start, end)

    def unit_entries(self, gtin: str, serial: str) -> list[StoredEntry]:
        """A unit's entries, oldest first (empty for an unknown unit)."""
        return self.store.unit_entries(self.log, gtin, serial)

    def entry_views(self, stored: Sequence[StoredEntry], size: int) -> list[EntryShape]:
        """Each entry as the API shows it, with its inclusion proof at ``size``.

        Raises:
            NotFoundError: the tree has fewer than ``size`` leaves.
        """
        proofs = self.store.inclusion_proofs(self.log, [e.index for e in stored], size)
        return [
            entry_json(ServedEntry(e.index, e.leaf, e.leaf_hash, p), Leaf.from_bytes(e.leaf))
            for e, p in zip(stored, proofs, strict=True)
        ]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of ``index`` in the tree of ``size`` (O(log n) reads)."""
        return self.store.inclusion_proof(self.log, index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes (O(log n) reads)."""
        return self.store.consistency_proof(self.log, old_size, new_size)

    def unit_view(
        self,
        gtin: str,
        serial: str,
        label_signature: str | None = None,
        *,
        owner_token: str | None = None,
        pending: Sequence[Scan] = (),
    ) -> UnitViewShape:
        """The unit view ``{verdict, reasons, unit, entries, checkpoint, scans, owner,
        witnesses}`` (docs/API.md), with clone signals and open reports (``pending``: scans
        not yet stored), whether ``owner_token`` is the current owner's, and how many
        configured witnesses cosigned a checkpoint holding the unit's whole chain
        (ledger.service.cosigning.witness_summary).

        Every proof and signature in it is re-checked before the verdict is given.

        Raises:
            GS1Error: the GTIN or serial is malformed.
        """
        unit = gs1.UnitId(gtin=gtin, serial=serial)
        view = self._views.view(self.store, self.log, self.verifier_key, unit, label_signature)
        judged = self.judge_signals(view, unit, owner_token=owner_token, pending=pending)
        needed = view["entries"][-1]["index"] + 1 if view["entries"] else 0
        # the view grows in steps (log, scans, viewer, witnesses); here it is whole
        return cast(UnitViewShape, {**judged, "witnesses": cosigning.witness_summary(self, needed)})

    def actor_view(self, actor_id: str) -> ActorShape:
        """An actor with its role, name, prefixes, registration, revocation and keys.

        Raises:
            NotFoundError: no such actor.
        """
        found = self.store.records(self.log, {ActorRecord: [actor_id]})
        actor = next((a for a in found if isinstance(a, ActorRecord)), None)
        if actor is None:
            raise NotFoundError(f"no actor {actor_id!r}", field="actor_id")
        keys = [
            k
            for k in self.store.records_in(self.log, KeyRecord, "actor", [actor_id])
            if isinstance(k, KeyRecord)
        ]
        return {
            "id": actor.id,
            "role": Role(actor.role),
            "name": actor.name,
            "prefixes": list(actor.prefixes),
            "registered_index": actor.registered_index,
            "revoked_index": actor.revoked_index,
            "keys": [
                {
                    "key_id": k.key_id,
                    "public_key": k.public_key,
                    "added_index": k.added_index,
                    "removed_index": k.removed_index,
                }
                for k in sorted(keys, key=lambda k: k.added_index)
            ],
        }

    def scan_summary(self, gtin: str, serial: str) -> tuple[int, dict[str, Any] | None]:
        """How often a unit was scanned, and its first scan (at, place)."""
        return self.store.scan_summary(self.log, gtin, serial)

    def record_scans(self, scans: Sequence[Scan]) -> None:
        """Store scan telemetry (outside the signed log) in one transaction."""
        self.store.insert_scans(self.log, [s.to_row() for s in scans])

    def state(self) -> State:
        """Every projection of the log, in memory."""
        return self.store.load_state(self.log)

    # --- maintenance --------------------------------------------------------------

    def replay(self, progress: Callable[[int, int], None] | None = None) -> State:
        """Replay the log from genesis through the rules into a fresh `State`.

        Raises:
            LedgerError: an entry does not replay (the audit reports these in detail).
        """
        state = State()
        size = self.head().size
        for start in range(0, size, 1000):
            for stored in self.entries(start, min(size, start + 1000)):
                leaf = Leaf.from_bytes(stored.leaf)
                state.apply(rules.check(state, leaf.signed, stored.index, leaf.received_at))
            if progress:
                progress(min(size, start + 1000), size)
        return state

    def rebuild_projections(self, progress: Callable[[int, int], None] | None = None) -> State:
        """Replace the projection tables with a replay of the log; return the state."""
        state = self.replay(progress)
        self.store.replace_projections(self.log, state)
        return state


def faults_from_env(environ: Mapping[str, str]) -> frozenset[str]:
    """The injected faults named by ``PROVENANCE_FAULT_INJECTION`` (comma-separated).

    The one place fault injection is read. Refused unless
    ``PROVENANCE_FAULT_INJECTION_CONSENT`` is exactly `FAULT_CONSENT`, so that a stray
    variable cannot break a production ledger.

    Raises:
        ValidationError: an unknown fault, or faults without the consent variable.
    """
    names = frozenset(n.strip() for n in environ.get(FAULT_ENV, "").split(",") if n.strip())
    if not names:
        return names
    if names - FAULTS:
        raise ValidationError(f"unknown injected fault {sorted(names - FAULTS)}", field=FAULT_ENV)
    if environ.get(FAULT_CONSENT_ENV) != FAULT_CONSENT:
        raise ValidationError(
            f"{FAULT_ENV} breaks the ledger on purpose (tests only); refused without "
            f"{FAULT_CONSENT_ENV}={FAULT_CONSENT}",
            field=FAULT_ENV,
        )
    return names


def _forget_head(state: State, signed: SignedEvent) -> None:
    """Injected fault ``skip-head-check``: make the unit's head whatever ``prev`` names."""
    event = signed.event
    if isinstance(event, UnitEvent) and event.prev is not None:
        unit = state.units.get((event.unit.gtin, event.unit.serial))
        if unit is not None:
            state.units[(unit.gtin, unit.serial)] = replace(unit, head=event.prev)


def _accept(
    state: State, signed: SignedEvent, index: int, received: datetime, known: dict[str, str]
) -> list[Any]:
    public = rules.signing_key(state, signed, index)
    if known.get(signed.key) != public:
        _verify(signed, public)  # a key registered earlier in this same batch
    return rules.check(state, signed, index, received)


def _verify(signed: SignedEvent, public_b64: str) -> None:
    entry.verify_event(signed, codec.b64url_decode(public_b64, field="key"))


def _locate(error: LedgerError, position: int, count: int) -> LedgerError:
    """Prefix a refusal's field with ``events[position]`` when it came from a batch."""
    if count > 1:
        error.field = f"events[{position}]" + (f".{error.field}" if error.field else "")
        error.args = (f"{error.field}: {error.message}",)
    return error


def _duplicate(receipt: Receipt) -> Receipt:
    return Receipt(receipt.index, receipt.leaf_hash, receipt.event_hash, duplicate=True)


def _entry_row(index: int, leaf: Leaf, chain: bytes, event_hash: bytes) -> dict[str, Any]:
    event = leaf.signed.event
    unit = getattr(event, "unit", None)
    return {
        "idx": index,
        "leaf": leaf.data,
        "leaf_hash": leaf.hash,
        "chain": chain,
        "event_hash": event_hash,
        "kind": event.kind,
        "gtin": unit.gtin if unit else None,
        "serial": unit.serial if unit else None,
        "signer": event.actor,
    }
