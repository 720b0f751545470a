"""The service facade: one log in one store, and the services composed over it.

`Ledger` owns the store, the log's configuration, its two signers (the log key signs
checkpoints, the operator's registry key signs the genesis and the claims), the clock and
the policies (ledger.service.policies), and builds at construction the services that do
the work, each in its own module with what it needs passed in:

- ``ledger.appender`` (ledger.service.append): the one place an event becomes an entry;
  `Ledger.append` and `Ledger.append_batch` delegate to it;
- ``ledger.claims`` (ledger.service.claims): ownership claims and resale transfers;
- ``ledger.signals`` (ledger.service.signals): clone signals, alerts, scan retention;
- ``ledger.reports`` (ledger.service.reports): consumer reports and the brand's triage;
- ``ledger.salt`` (ledger.service.salt): the day's random scan salt and client hashes;
- ``ledger.retention`` (ledger.service.retention): deleting shoppers' data on time;
- ``ledger.cosigning`` (ledger.service.cosigning): witness cosignatures;
- ``ledger.exports`` (ledger.service.exports): the audit bundle and offline unit proofs;
- ``ledger.epcis`` (ledger.service.epcis): EPCIS export and capture;
- ``ledger.partners`` (ledger.service.partners): custody of many units, inboxes,
  holdings and the actor list, for partners scanning goods.

The reads (head, checkpoints, entries, proofs, unit and actor views, state, replay) stay
methods of `Ledger`. The faces (api, cli) call only this package, never the store.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from ledger import crypto, entry, gs1, note, rules
from ledger.audit.replay import AuditReport, Progress
from ledger.entry import Leaf, SignedEvent
from ledger.errors import KeyFormatError, LedgerError, NotFoundError, StorageError
from ledger.events import LATEST_VERSION, ActorRegister, LogUpgrade, format_time
from ledger.label import ScannedLabel
from ledger.map.updateproof import UpdateProof
from ledger.rules.state import ActorRecord, KeyRecord, State
from ledger.service.append import MAX_BATCH, Appender, BatchReceipt, Receipt
from ledger.service.appendmemo import AppendMemo
from ledger.service.audit import audit_log
from ledger.service.claims import ClaimService
from ledger.service.cosigning import CosigningService
from ledger.service.dating import CheckpointDating, Latest
from ledger.service.epcis import EpcisService
from ledger.service.exports import ExportService
from ledger.service.faults import (
    FAULT_CONSENT,
    FAULT_CONSENT_ENV,
    FAULT_ENV,
    FAULTS,
    faults_from_env,
)
from ledger.service.groupcharges import Charge
from ledger.service.groupcommit import GroupCommitter, Pending
from ledger.service.headmap import catch_up
from ledger.service.keyowners import KeyOwners, changes_owners
from ledger.service.mapproofs import when_proven
from ledger.service.mapupdate import map_update_proof
from ledger.service.partners import PartnerService
from ledger.service.policies import Policies
from ledger.service.publishing import Keeper
from ledger.service.registryview import actor_view
from ledger.service.reports import ReportService
from ledger.service.retention import RetentionService
from ledger.service.salt import ScanSalt
from ledger.service.scanfacts import ScanRow
from ledger.service.signals import FactsCache, ProbingCache, Scan, SignalsCache, SignalService
from ledger.service.unitview import entry_json
from ledger.service.viewcache import ViewCache
from ledger.shapes import ActorShape, EntryShape, UnitViewShape
from ledger.store import (
    ProjectionsBehindError,
    QuotaStore,
    ReplicaStatus,
    RetentionStore,
    SaltStore,
    SignalStore,
    Store,
    WriteTotals,
    WriteTx,
)
from ledger.stored import LogHead, StoredCheckpoint, StoredEntry
from ledger.verify.verdict import ServedEntry

if TYPE_CHECKING:
    from ledger.service.highwater import HighWater

#: `Ledger.rebuild_projections` replays what was appended meanwhile and tries again at
#: most this many times
REBUILD_TRIES = 5

#: Re-exported: callers import the receipts, the batch limit, `Scan` and the fault
#: switch from here, where they lived before the append path had its own module.
__all__ = [
    "FAULTS",
    "FAULT_CONSENT",
    "FAULT_CONSENT_ENV",
    "FAULT_ENV",
    "MAX_BATCH",
    "BatchReceipt",
    "Ledger",
    "LogConfig",
    "Receipt",
    "Scan",
    "faults_from_env",
]


@dataclass(frozen=True)
class LogConfig:
    """What identifies a log and who signs for it.

    ``origin`` names the log in its checkpoints (e.g. ``provenance.example/log``).
    Two roles, two keys, each any `crypto.Signer` (a key in memory, or in a PKCS#11
    token: ledger.service.pkcs11):

    - ``operator_key``, the registry key: signs the genesis entry that registers the
      operator (listing it as the operator's key) and the ``claim`` entries;
    - ``log_key``, the log key: signs the checkpoints and nothing else; the genesis
      names it (``log_key``), so an auditor replaying from entry 0 learns it.

    A new log refuses one key for both. A log whose genesis names no log key (made
    before the roles were split) keeps signing its checkpoints with its operator key:
    give that key as ``log_key`` too, or replace the log (docs/OPERATIONS.md).
    Without an operator key the ledger is read-only (an auditor's view): the log must
    exist and ``verifier_key`` (the log's C2SP verifier key, pinned by the reader) is
    required. ``witnesses`` are the verifier keys (type 0x04) of the witnesses whose
    cosignatures the log accepts and counts (ledger.service.cosigning).
    """

    origin: str
    operator_key: crypto.Signer | None
    name: str = "default"
    operator_id: str = "operator"
    verifier_key: str | None = None
    witnesses: tuple[str, ...] = ()
    log_key: crypto.Signer | None = None


def _catch_up_map(store: Store, log: int) -> None:
    """Bring the log's stored map up to the log at start (the map's child did not write
    a batch's rows before the last stop: ledger.service.mapworker), so readers are not
    served the older checkpoint until the next append. A map that cannot be caught up
    is left as it is and logged: the next append refuses it with its own error, and
    reads are still served at the map's size."""
    try:
        catch_up(store, log)
    except LedgerError:
        logging.getLogger("provenance.map").exception(
            "the stored map of heads could not be caught up with log %d at start", log
        )


class _Committed:
    """What a ledger does after each committed batch: memory-only views read the new
    size first, then its ``on_commit`` is told."""

    def __init__(self, views: ViewCache, on_commit: Callable[[BatchReceipt], None] | None) -> None:
        self._views = views
        self._on_commit = on_commit

    def __call__(self, receipt: BatchReceipt) -> None:
        self._views.grew()
        if self._on_commit is not None:
            self._on_commit(receipt)


class Ledger:
    """One log in one store, and its services. Open with `Ledger.open`; close with `close`.

    ``policies`` (default: the documented defaults) are fixed for the ledger's life:
    build another ledger to change them. ``on_commit`` is the appender's callback after
    each committed batch; ``keeper`` keeps each checkpoint outside the database before
    its commit (`Appender`; ledger.service.publishing, ledger.service.highwater).
    """

    def __init__(
        self,
        store: Store,
        config: LogConfig,
        clock: Callable[[], datetime] | None = None,
        policies: Policies | None = None,
        on_commit: Callable[[BatchReceipt], None] | None = None,
        keeper: Keeper | None = None,
    ) -> None:
        self.store = store
        self._keeper = keeper
        #: the log's signed incident notes, oldest first: the high-water file's, which
        #: whoever opened it with the log key attaches (ledger.service.highwater)
        self.incident_notes: Callable[[], list[str]] = list
        #: the log's high-water file (ledger.service.highwater), when whoever opened it
        #: keeps one: the operator's console shows its mark
        self.high_water: HighWater | None = None
        self.config = config
        self.policies = policies or Policies()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._views = ViewCache()
        # a callable of its own, not the bound `_committed`: an appender holding a bound
        # method of the ledger that holds it is a reference cycle, and each request's
        # copy (`reading`) was then freed only by the cyclic collector
        self._committed = _Committed(self._views, on_commit)
        self._latest = Latest()  # the latest checkpoint's served note (ledger.service.dating)
        self._probing = ProbingCache()
        self._facts = FactsCache()
        self._signals = SignalsCache()
        self._owners = KeyOwners()  # who pays for a key's events (api.quota), for a moment
        self._append_memo = AppendMemo()  # keys and the tree's edge between appends
        self._faults = faults_from_env(os.environ)
        # one per ledger, shared with its per-request copies: the day's salt in memory
        self.salt = ScanSalt(SaltStore(store.engines), self._clock)
        if config.operator_key is None:
            if config.verifier_key is None:
                raise KeyFormatError("a read-only ledger needs the log's verifier key")
            self.signer: note.Signer | None = None
            self._verifier_key = config.verifier_key
            found = store.find_log(config.name)
            if found is None:
                raise NotFoundError(f"no log named {config.name!r} in this database", field="log")
            self.log = found.id
            #: the checkpoint origin format-2 events of this log are read against
            self.origin: str = found.origin
        else:
            if config.log_key is None:
                raise KeyFormatError(
                    "a writable log needs its log key (the checkpoint key) as well as the "
                    "operator key: set PROVENANCE_CHECKPOINT_KEY or run `provenance init`"
                )
            self.signer = note.Signer(config.origin, config.log_key)
            self._verifier_key = self.signer.verifier.to_text()
            self._check_keys(store.on_primary().find_log(config.name), config)
            head = store.ensure_log(config.name, config.origin)
            self.log, self.origin = head.id, head.origin
            if head.map_size is not None:
                _catch_up_map(store, head.id)
        self._compose()
        # one per ledger, shared with its per-request copies: they append as one group
        self.groups = GroupCommitter(self.appender)

    def _check_keys(self, found: LogHead | None, config: LogConfig) -> None:
        """Refuse to run a log with keys that are not its own, before anything is written
        or signed.

        Raises:
            KeyFormatError: one key for both roles in a new log, or a log key that is not
                the one the log's genesis names (for a log from before the split: not
                its operator's genesis key).
        """
        operator, log = config.operator_key, config.log_key
        if operator is None or log is None:
            return
        log_b64 = crypto.public_key_to_b64(log.public_key())
        if found is None or not found.size:
            if log_b64 == crypto.public_key_to_b64(operator.public_key()):
                raise KeyFormatError(
                    "the log key and the operator key must be two keys (docs/OPERATIONS.md)"
                )
            return
        genesis = Leaf.from_bytes(self.store.on_primary().entry(found.id, 0).leaf).signed
        named = getattr(genesis.event, "log_key", None)
        if named is None:  # a log from before the split: the genesis key signs checkpoints
            if genesis.key != crypto.key_id(log.public_key()):
                raise KeyFormatError(
                    f"log {config.name!r} predates separate log keys: its checkpoints "
                    "are signed by its operator's genesis key, which the configured log key "
                    "is not (docs/OPERATIONS.md, replacing the log key)"
                )
        elif named != log_b64:
            raise KeyFormatError(
                f"the configured log key {crypto.key_id(log.public_key())} is not the log "
                f"key {crypto.key_id(crypto.public_key_from_b64(named))} that log "
                f"{config.name!r} names at genesis"
            )

    def _compose(self) -> None:
        """Build the services over ``self.store``; `reading` calls it again for a pinned
        store, so that every service of the copy reads what the copy reads. The caches
        (unit views, probing signals) are the ledger's and shared with its copies."""
        store, log, clock = self.store, self.log, self._clock
        signal_store = SignalStore(store.engines, store)
        self.appender = Appender(
            store,
            log,
            self.origin,
            self.signer,
            clock,
            self._faults,
            self._committed,
            self._keeper,
            self._append_memo,
        )
        self.cosigning = CosigningService(store, log, self._verifier_key, self.config.witnesses)
        self.dating = CheckpointDating(
            store, log, self._verifier_key, self.signer, self.cosigning, clock, self._latest
        )
        self.signals = SignalService(
            store,
            signal_store,
            log,
            self.policies.signals,
            clock,
            self._probing,
            self._facts,
            self._signals,
        )
        self.claims = ClaimService(
            store,
            signal_store,
            log,
            self.appender,
            self.config.operator_id,
            self.config.operator_key,
            self.policies.claims,
            clock,
        )
        self.reports = ReportService(
            store, signal_store, log, self.appender, self.signals, clock, self.policies.reports
        )
        self.retention = RetentionService(
            RetentionStore(store.engines), log, self.signals, self.salt, self.policies, clock
        )
        self.exports = ExportService(
            store, log, self._verifier_key, self.cosigning, self._map_catch_up()
        )
        self.epcis = EpcisService(store, log, self.appender, clock)
        self.partners = PartnerService(store, log)
        self._quotas = QuotaStore(store.engines)

    @classmethod
    def open(
        cls,
        url: str,
        config: LogConfig,
        clock: Callable[[], datetime] | None = None,
        replicas: Sequence[str] = (),
        policies: Policies | None = None,
        on_commit: Callable[[BatchReceipt], None] | None = None,
        keeper: Keeper | None = None,
    ) -> Ledger:
        """Open (creating and migrating if needed) the store at ``url`` and the log.

        ``replicas`` are PostgreSQL streaming replicas of ``url`` that serve reads;
        ``policies`` the claim and signal policies (default: the documented defaults);
        ``on_commit`` the appender's callback after each committed batch, ``keeper`` the
        high-water mark's keeper (before each commit).

        Raises:
            StorageError: the database cannot be reached or migrated.
        """
        store = Store.open(url, replicas=replicas)
        try:
            return cls(store, config, clock, policies, on_commit, keeper)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Release the store's connections, the group commit's writer thread and the
        map's child process."""
        self.groups.close()
        self._append_memo.close()
        self.store.close()

    def reading(self, min_size: int = 0, *, primary: bool = False, wait: bool = True) -> Ledger:
        """This ledger with its reads on one engine that holds ``min_size`` entries.

        A streaming replica that has replayed that far (after a short wait), else the
        primary: a client that wrote and got size ``n`` back reads its write with
        ``min_size=n``; ``wait=False`` gives a lagging replica no time to catch up.
        ``primary``: every read on the primary, for requests that write after reading
        (claim lockouts, report triage) and must not act on stale state.
        Use one per request, so that all of its reads agree; its services read the
        same engine.
        """
        pinned = copy.copy(self)
        pinned.store = (
            self.store.on_primary() if primary else self.store.pinned(self.log, min_size, wait=wait)
        )
        pinned._compose()
        return pinned

    def replica_status(self, primary_size: int | None = None) -> list[ReplicaStatus]:
        """Each read replica of this log's database: up, lag in entries and seconds
        behind ``primary_size`` (read from the primary when not given)."""
        size = self.primary_size() if primary_size is None else primary_size
        return self.store.replica_status(self.log, size)

    def primary_size(self) -> int:
        """The log's size on the primary (never a lagging replica)."""
        return self.store.on_primary().head(self.log).size

    def write_totals(self) -> WriteTotals:
        """This log's write transactions in this process: how many, and the seconds they
        waited for the log's write lock and held it (ledger.store.writetimes)."""
        return self.store.write_totals(self.log)

    def read_counts(self) -> dict[tuple[str, str], int]:
        """Reads served so far by (database, role) of this log's store; logs sharing a
        store share these counts."""
        return self.store.read_counts()

    @property
    def verifier_key(self) -> str:
        """The log's C2SP verifier key text ``name+keyhash+base64``."""
        return self._verifier_key

    def now(self) -> datetime:
        """The service's clock (UTC)."""
        return self._clock()

    # --- writes -------------------------------------------------------------------

    def init(
        self,
        name: str = "Platform operator",
        recovery_wait: int | None = None,
        *,
        event_format: int | None = LATEST_VERSION,
    ) -> BatchReceipt | None:
        """Write the genesis entry (the operator registers itself with its registry key
        and names the log key) if the log is empty.

        ``recovery_wait`` (seconds) signs the log's wait before an operator's
        ``key.recover`` takes effect into the genesis entry (None: the rules' 7 days), so
        every verifier reads it from the log. The genesis names rule set 2 and format 2
        (docs/FORMAT.md section 3.1): the log takes only events signed for it, from entry
        0. ``event_format=None`` leaves format 1 open as well (a deployment whose
        partners do not all name the log yet; a later ``log.upgrade`` closes it). The
        genesis itself is signed in format 2, for this log.

        Returns the receipt, or None when the log already has entries.
        """
        if self.primary_size():
            return None
        key = self.config.operator_key
        if key is None or self.signer is None:
            raise KeyFormatError("read-only ledger: writing needs the operator key")
        event = ActorRegister(
            actor=self.config.operator_id,
            time=format_time(self.now()),
            subject=self.config.operator_id,
            role="operator",
            name=name,
            keys=(crypto.public_key_to_b64(key.public_key()),),
            log_key=crypto.public_key_to_b64(self.signer.private_key.public_key()),
            recovery_wait=recovery_wait,
            # rule set 2 and format 2 from entry 0: a new log takes no event naming no log
            rules=LATEST_VERSION,
            format=event_format,
        )
        return self.append_batch([entry.sign_event(event, key, log=self.origin)])

    def upgrade(self) -> BatchReceipt:
        """Append the operator's ``log.upgrade`` to the latest format and rule set: from
        the next index on the log takes only events signed for it (format 2) and applies
        rule set 2; every earlier entry keeps verifying as it was written.

        Raises:
            KeyFormatError: a read-only ledger.
            UpgradeError: the log already holds them.
        """
        key = self.config.operator_key
        if key is None:
            raise KeyFormatError("read-only ledger: writing needs the operator key")
        event = LogUpgrade(
            actor=self.config.operator_id,
            time=format_time(self.now()),
            format=LATEST_VERSION,
            rules=LATEST_VERSION,
        )
        return self.append_batch([entry.sign_event(event, key, log=self.origin)])

    def append(
        self, signed: SignedEvent, now: datetime | None = None, charge: Charge | None = None
    ) -> BatchReceipt:
        """Append one signed event (see `append_batch`), by group commit
        (ledger.service.groupcommit): concurrent single appends share one transaction and
        one checkpoint, each judged alone; the receipt comes after the commit. ``charge``
        (its write quota) is taken by the group before its transaction, and given back
        unless the event lands new. An explicit ``now`` (the time recorded as received)
        appends it alone, and takes no charge."""
        if now is not None and charge is not None:
            raise ValueError("a charge is taken by a group: not with an explicit time")
        try:
            if now is not None:
                return self.appender.append(signed, now)
            return self.groups.append(signed, charge)
        finally:
            if changes_owners([signed]):  # even if it failed: it may have committed
                self._owners.forget()

    def submit(
        self, signed: SignedEvent, wake: Callable[[], None], charge: Charge | None = None
    ) -> Pending:
        """`append` for a caller on an event loop: queue ``signed`` for a group without
        waiting (`GroupCommitter.submit`); ``wake`` is called from the writing thread once
        it is answered, then `Pending.answer` gives the receipt or raises the error that
        `append` would. ``wake`` must not block (it runs in the group's writer)."""
        if not changes_owners([signed]):
            return self.groups.submit(signed, wake, charge)

        def woken() -> None:  # even if it failed: it may have committed
            self._owners.forget()
            wake()

        return self.groups.submit(signed, woken, charge)

    def append_batch(
        self, items: Sequence[SignedEvent], now: datetime | None = None
    ) -> BatchReceipt:
        """Append signed events atomically: all are accepted, or nothing is written
        (ledger.service.append, `Appender.append_batch`).

        Events already in the log (same event hash) are not written again; their
        receipt carries the existing index and ``duplicate=True``.

        Raises:
            ValidationError: an empty or oversized batch.
            SignatureError: a signature does not verify (field ``events[i]``).
            RuleError, ConflictError: the rules refuse an event (field ``events[i]...``).
            StorageError: the database failed; nothing was written.
        """
        try:
            return self.appender.append_batch(items, now)
        finally:
            if changes_owners(items):  # even if it failed: it may have committed
                self._owners.forget()

    # --- reads --------------------------------------------------------------------

    def head(self) -> LogHead:
        """The log's committed head (size, root, running chain hash)."""
        return self.store.head(self.log)

    def stored_checkpoint(self, size: int | None = None) -> StoredCheckpoint:
        """The signed checkpoint at ``size`` (default: the latest) with its size and root.

        Raises:
            NotFoundError: no checkpoint at that size.
        """
        return self.store.checkpoint(self.log, size)

    def checkpoint_sizes(self, start: int, limit: int) -> list[int]:
        """The tree sizes of up to ``limit`` signed checkpoints at ``start`` or above,
        increasing (every committed batch signs one; `GET /v1/checkpoint?size=N` serves
        each)."""
        return self.store.checkpoint_sizes(self.log, start, limit)

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

    def map_update_proof(self, old_size: int, new_size: int) -> UpdateProof:
        """The map update proof between two checkpoints (ledger.service.mapupdate)."""
        return map_update_proof(self.store, self.log, old_size, new_size)

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
        scanned: ScannedLabel | None = None,
        memory: tuple[dict[str, Any], int] | None = None,
    ) -> UnitViewShape:
        """The unit view ``{verdict, reasons, unit, entries, checkpoint, scans, owner,
        witnesses}`` (docs/API.md), with clone signals and open reports (``pending``: scans
        not yet stored), whether ``owner_token`` is the current owner's, and how many
        configured witnesses cosigned a checkpoint holding the unit's whole chain
        (`CosigningService.witness_summary`). ``scanned``: the label scanned at the
        resolver (its signature, lot and expiry are checked against the unit).
        ``memory``: (the unit's stored scan summary, min_size) the caller keeps: the
        view from memory alone (ledger.service.unitview.ViewCache.memory_view).

        Every proof and signature in it is re-checked before the verdict is given
        (a cached base's once, when it was built; the label's on every call).

        Raises:
            GS1Error: the GTIN or serial is malformed.
            NotInMemoryError: ``memory`` given and something is not in memory.
        """
        unit = gs1.UnitId(gtin=gtin, serial=serial)
        if memory is not None:  # (stored scan summary, min_size): no database read
            view, size = self._views.memory_view(unit, label_signature, scanned, *memory)
        else:
            view, size = when_proven(
                lambda: self._views.view(
                    self.store, self.log, self.verifier_key, unit, label_signature, scanned
                ),
                self._map_catch_up(),
            )
        judged = self.signals.judge(
            view, unit, owner_token=owner_token, pending=pending, size=size, memory=memory
        )
        needed = view["entries"][-1]["index"] + 1 if view["entries"] else 0
        witnesses = self._views.witnesses(
            needed, lambda: self.cosigning.witness_summary(needed), memory is not None
        )
        # the view grows in steps (log, scans, viewer, witnesses); here it is whole
        # the checkpoint as dated now (a cached view keeps the note it was built with)
        dated = self.dating.served(judged["checkpoint"])
        return cast(UnitViewShape, {**judged, "checkpoint": dated, "witnesses": witnesses})

    def _map_catch_up(self) -> Callable[[], object] | None:
        """For a writer, what brings the stored map up to the log when the map's child
        left it behind (ledger.service.headmap.catch_up, on the primary); None for a
        read-only ledger."""
        if self.signer is None:
            return None
        store, log = self.store.on_primary(), self.log
        return lambda: catch_up(store, log)

    def actor_view(self, actor_id: str) -> ActorShape:
        """`ledger.service.registryview.actor_view` of ``actor_id`` in this log, at the
        log's clock.

        Raises:
            NotFoundError: no such actor.
        """
        return actor_view(self.store, self.log, actor_id, self._clock())

    def key_owners(self, key_ids: Iterable[str]) -> dict[str, tuple[ActorRecord, KeyRecord]]:
        """The current keys among ``key_ids``, each with the live actor it belongs to
        (``{key id: (actor, key)}``), in two reads however many, or none when all were
        asked within the last second (ledger.service.keyowners: this process's own key
        changes show at once, another worker's within that second). A removed key, or
        one of a revoked actor, is left out: it cannot sign a new entry (write quotas,
        api.quota; the append decides that from the log itself)."""
        return self._owners.owners(key_ids, self._read_key_owners)

    def logged_events(self, event_hashes: Sequence[bytes]) -> set[bytes]:
        """Which of ``event_hashes`` this log holds (one read). The write quota leaves
        them uncharged: a replay of an actor's public event is a duplicate, free, and
        must not hold the actor's tokens while it is answered (api.quota). An event
        landing meanwhile is missed here, and charged and given back as before."""
        return set(self.store.find_event_hashes(self.log, event_hashes))

    def cached_key_owners(
        self, key_ids: Iterable[str]
    ) -> dict[str, tuple[ActorRecord, KeyRecord]] | None:
        """`key_owners` from memory alone, or None when that needs a database read."""
        return self._owners.cached(key_ids)

    def _read_key_owners(self, key_ids: Iterable[str]) -> dict[str, tuple[ActorRecord, KeyRecord]]:
        store = self.store.on_primary()  # a replica may not hold the latest key change yet
        keys = [
            k
            for k in store.records_in(self.log, KeyRecord, "key_id", key_ids)
            if isinstance(k, KeyRecord) and k.removed_index is None
        ]
        found = store.records(self.log, {ActorRecord: sorted({k.actor for k in keys})})
        actors = {a.id: a for a in found if isinstance(a, ActorRecord)}
        return {
            k.key_id: (actors[k.actor], k)
            for k in keys
            if k.actor in actors and actors[k.actor].revoked_index is None
        }

    def take_write_tokens(
        self,
        actor: str,
        cost: float,
        rate: float,
        burst: float,
        now: float,
        force: bool = False,
        within: WriteTx | None = None,
    ) -> float:
        """Spend ``cost`` tokens of ``actor``'s write bucket in this log's database, shared
        by every worker (ledger.store.quotas.QuotaStore.take): 0 when taken, else the
        seconds until they are there (nothing taken unless ``force``). ``within``: in
        that write transaction of this log (a group's, `Charge.take_in`), committed or
        rolled back with it.

        Raises:
            StorageError: the database failed; nothing was taken.
            ValueError: ``within`` writes another log (a programming error).
            SQLAlchemyError: ``within``'s statement failed (it must roll back).
        """
        if within is None:
            return self._quotas.take(self.log, actor, cost, rate, burst, now, force)
        if within.log != self.log:
            raise ValueError(f"a take of log {self.log} in a transaction of log {within.log}")
        return self._quotas.take_in(within.conn, self.log, actor, cost, rate, burst, now, force)

    def forget_signals(self, gtin: str, serial: str) -> None:
        """Drop the unit's last computed clone signals (`SignalService.forget_answer`):
        a view read while the resolver stored scans judged them over queued scans that
        may have been stored during the read."""
        self.signals.forget_answer(gtin, serial)

    def scan_summary(self, gtin: str, serial: str) -> tuple[int, dict[str, Any] | None]:
        """How often a unit was scanned, and its first scan (at, place)."""
        return self.store.scan_summary(self.log, gtin, serial)

    def record_scans(self, scans: Sequence[Scan]) -> None:
        """Store scan telemetry (outside the signed log) in one transaction."""
        self.record_scan_rows([s.to_row() for s in scans])

    def record_scan_rows(self, rows: Sequence[ScanRow]) -> None:
        """`record_scans` of the scans whose scans-table rows (`Scan.to_row`) these
        are: the resolver's flusher makes the rows straight from its queue."""
        self.store.insert_scans(self.log, rows)
        self.signals.scans_recorded(rows)

    def state(self) -> State:
        """Every projection of the log, in memory."""
        return self.store.load_state(self.log)

    def audit(
        self,
        *,
        trusted: Sequence[str] = (),
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> AuditReport:
        """Audit this log in its store against its verifier key (ledger.service.audit).

        Args:
            trusted: checkpoint note texts an auditor kept outside the database.
            workers: threads for signature verification (default: one per core).
            progress: called with (entries done, total) after each chunk.
        """
        return audit_log(
            self.store,
            self.log,
            self.verifier_key,
            trusted=trusted,
            workers=workers,
            progress=progress,
        )

    # --- maintenance --------------------------------------------------------------

    def replay(self, progress: Callable[[int, int], None] | None = None) -> State:
        """Replay the log from genesis through the rules into a fresh `State`.

        Raises:
            LedgerError: an entry does not replay (the audit reports these in detail).
        """
        state = State()
        self._replay_into(state, 0, progress)
        return state

    def _replay_into(
        self, state: State, start: int, progress: Callable[[int, int], None] | None
    ) -> int:
        """Replay the entries from ``start`` to the head's size now into ``state``;
        return that size."""
        size = self.head().size
        for at in range(start, size, 1000):
            for stored in self.entries(at, min(size, at + 1000)):
                leaf = Leaf.from_bytes(stored.leaf, self.origin)
                state.apply(rules.check(state, leaf.signed, stored.index, leaf.received_at))
            if progress:
                progress(min(size, at + 1000), size)
        return size

    def rebuild_projections(self, progress: Callable[[int, int], None] | None = None) -> State:
        """Replace the projection tables with a replay of the log; return the state.

        The tables are written under the log's write lock only if no append landed
        since the replay; else the new entries are replayed too and the write tried
        again (at most `REBUILD_TRIES` times), so an append meanwhile is never lost.

        Raises:
            LedgerError: an entry does not replay.
            StorageError: the database failed, or the log kept growing faster than the
                replay caught up; nothing was written.
        """
        state, size = State(), 0
        for _ in range(REBUILD_TRIES):
            size = self._replay_into(state, size, progress)
            try:
                self.store.replace_projections(self.log, state, size)
                return state
            except ProjectionsBehindError:
                continue  # appended meanwhile: replay those entries as well
        raise StorageError(
            f"the log grew during each of {REBUILD_TRIES} rebuilds of its projections; "
            "nothing was written (run it again when appends are fewer)"
        )
