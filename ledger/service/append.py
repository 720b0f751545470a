"""The append path: the one place where an event becomes an entry.

1. outside the write lock, every signature whose key is already known is verified;
2. under the log's write lock (one transaction): entries already in the log are
   answered with their existing index (idempotency); the state the rules need is
   loaded; each new event is checked by ledger.rules against that state (a key
   introduced earlier in the same batch is verified here); its leaf, tree nodes and
   running chain hash are computed; everything is written with the new head and one
   checkpoint signed by the operator's key, or nothing is; the high-water mark (its
   `Keeper`, ledger.service.publishing) is made durable before that commit.

A refused event refuses its whole batch, with the error's ``field`` prefixed by the
event's position (``events[3].prev``). `Appender.append_each` is the same path for a
group of independent single appends (ledger.service.groupcommit): one transaction and
one checkpoint, but each event judged alone, a refused one left out with its own error.
`Appender` is built by `ledger.service.ledger.Ledger` and handed to the services that
write (claims, reports, EPCIS capture).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ledger import codec, entry, merkle, note, rules, tiles
from ledger.entry import Leaf, SignedEvent
from ledger.errors import EventFailedError, KeyFormatError, LedgerError, ValidationError
from ledger.events import UnitEvent, format_time
from ledger.frozen import filled
from ledger.note import logtime
from ledger.rules.state import State
from ledger.service import collector, sigpool
from ledger.service.appendmemo import AppendMemo
from ledger.service.headmap import MapKeeper
from ledger.service.mapworker import EARLY_FROM, GROUP_EARLY_FROM, MapWorker
from ledger.service.prefetch import load_state_for
from ledger.service.publishing import Keeper, Publishing
from ledger.service.treeappend import TreeAppender
from ledger.shapes import ReceiptShape
from ledger.store import Store, WriteTx
from ledger.store.leafpack import pack, pack_many
from ledger.store.queries import LOWEST_NODE_LEVEL
from ledger.store.schema import EVENT_KEY_SIZE
from ledger.store.writer import EntryValues
from ledger.verify.batchverify import first_bad_signature, start_first_bad

MAX_BATCH = 1000

_log = logging.getLogger(__name__)


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

    def to_json(self) -> bytes:
        """`to_dict` as JSON the way the API's `JSONResponse` renders it (no spaces,
        UTF-8), built from a template per receipt rather than by json's encoder: an
        index is an int, the hashes are base64url (which JSON never escapes), and the
        checkpoint, the one free text, goes through json's own encoder
        (tests/unit/test_receipt_json.py compares the two)."""
        b64 = codec.b64url_encode
        parts = [
            _RECEIPT_JSON
            % (
                r.index,
                b64(r.leaf_hash),
                b64(r.event_hash),
                "true" if r.duplicate else "false",
            )
            for r in self.receipts
        ]
        receipts, checkpoint = ",".join(parts), _json_text(self.checkpoint)
        return (
            f'{{"receipts":[{receipts}],"size":{self.size:d},"checkpoint":{checkpoint}}}'.encode()
        )

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


#: one receipt of `BatchReceipt.to_json`
_RECEIPT_JSON = '{"index":%d,"leaf_hash":"%s","event_hash":"%s","duplicate":%s}'
#: a string as JSON, as `JSONResponse` renders it (ensure_ascii off)
_json_text = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def _new_receipt(index: int, leaf_hash: bytes, event_hash: bytes) -> Receipt:
    """``Receipt(index, leaf_hash, event_hash)`` (not a duplicate) without the frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` a field; one receipt an
    entry): it holds its fields and nothing else, so its instance dictionary filled in
    field order is the object ``__init__`` makes."""
    return filled(Receipt, index=index, leaf_hash=leaf_hash, event_hash=event_hash, duplicate=False)


@dataclass(frozen=True)
class GroupOutcome:
    """What `Appender.append_each` did: per event, in order, its receipt or its refusal,
    and the checkpoint (of tree ``size``) that covers every receipt."""

    outcomes: tuple[Receipt | LedgerError, ...]
    size: int
    checkpoint: str


class Appender:
    """Appends signed events to one log of one store, signing checkpoints with ``signer``.

    ``origin`` is the log's checkpoint origin: a format-2 event is verified, hashed and
    leafed as signed for it, so one signed for another log is refused (ledger.entry).
    ``signer`` is None for a read-only ledger: every append then raises `KeyFormatError`.
    ``faults`` are the injected faults (`faults_from_env`), empty in production.
    ``on_commit`` is called with each receipt after its batch committed and before it is
    returned; what it raises reaches the caller, whose retry is answered as a duplicate.
    ``keeper`` keeps the published checkpoint outside the database, durably before each
    commit (ledger.service.publishing, ledger.service.highwater). ``memo`` is what it
    keeps between transactions (ledger.service.appendmemo; the ledger shares one with
    its copies).
    """

    def __init__(
        self,
        store: Store,
        log: int,
        origin: str,
        signer: note.Signer | None,
        clock: Callable[[], datetime],
        faults: frozenset[str] = frozenset(),
        on_commit: Callable[[BatchReceipt], None] | None = None,
        keeper: Keeper | None = None,
        memo: AppendMemo | None = None,
    ) -> None:
        self._store = store
        self._memo = memo or AppendMemo()
        self._keeper = keeper
        self._log = log
        self._origin = origin
        self._signer = signer
        self._clock = clock
        self._faults = faults
        self._on_commit = on_commit
        self._map_cache = self._memo.map_cache  # the top of this log's map, between appends
        self._time_signer: note.Signer | None = None  # the log key as a 0x04 key (_time_key)

    @property
    def origin(self) -> str:
        """The checkpoint origin of the log this appender writes (format-2 events name it)."""
        return self._origin

    def require_signer(self) -> note.Signer:
        """The operator's checkpoint signer.

        Raises:
            KeyFormatError: the ledger is read-only.
        """
        if self._signer is None:
            raise KeyFormatError("read-only ledger: writing needs the operator key")
        return self._signer

    def _time_key(self) -> note.Signer:
        """The log key as the signer of its time lines (ledger.note.logtime), made once."""
        if self._time_signer is None:
            self._time_signer = logtime.time_signer(self.require_signer())
        return self._time_signer

    def append(self, signed: SignedEvent, now: datetime | None = None) -> BatchReceipt:
        """Append one signed event (see `append_batch`)."""
        return self.append_batch([signed], now)

    def append_batch(
        self, items: Sequence[SignedEvent], now: datetime | None = None
    ) -> BatchReceipt:
        """Append signed events atomically: all are accepted, or nothing is written.

        Events already in the log (same event hash) are not written again; their
        receipt carries the existing index and ``duplicate=True``. ``now`` is the time
        the entries record as received (default: the clock).

        Raises:
            ValidationError: an empty or oversized batch.
            KeyFormatError: the ledger is read-only.
            SignatureError: a signature does not verify (field ``events[i]``), e.g. a
                format-2 event signed for another log (`WrongLogError` when the event
                says which: one signed in this process).
            RuleError, ConflictError: the rules refuse an event (field ``events[i]...``).
            StorageError: the database failed; nothing was written.
        """
        if not 1 <= len(items) <= MAX_BATCH:
            raise ValidationError(f"a batch holds 1 to {MAX_BATCH} events", field="events")
        received = now or self._clock()
        self.require_signer()
        # (0) read every event against this log: a format-2 event's message names it
        bound = []
        for i, signed in enumerate(items):
            try:
                bound.append(signed.for_log(self._origin))
            except LedgerError as e:
                raise _locate(e, i, len(items)) from None
        items = bound
        # (1) outside the log's lock: the leaves, then the signatures on every core, then
        # (2) the write transaction under it. The leaves and the write each in this
        # process's turn (`AppendMemo.turn`): two batches' Python side by side in one
        # process only trade the GIL, while another worker can write. The leaves come
        # first so that the map's child writes the previous batch's rows (after its
        # commit, ledger.service.mapworker) on the core they leave idle, not on one the
        # signature checks want (docs/PERFORMANCE.md, "order39"). The cyclic collector
        # is paused from the leaves to the commit (`_write` pauses it too), the leaves
        # dropped before it resumes: its next pass does not walk them.
        with collector.paused():
            with self._memo.turn:
                try:
                    made: list[_Made] | Exception = _leaves(items, received)
                except Exception as e:  # raised below, after the signatures
                    made = e
            known = self._verify_known(items)  # a bad signature is reported first, as ever
            if isinstance(made, Exception):
                raise made
            with self._memo.turn:
                receipt = self._write(items, received, known, made=made)
            del made
        if self._on_commit is not None:  # (3) committed; not yet acknowledged
            self._on_commit(receipt)
        return receipt

    def append_each(
        self, items: Sequence[SignedEvent], first: FirstInTx | None = None
    ) -> GroupOutcome:
        """Append events whose fates are independent (group commit,
        ledger.service.groupcommit): in order, in one transaction under one checkpoint.

        Each event is read against this log, verified and judged by the rules on its own,
        exactly as a batch of one would be (its error's field carries no ``events[i]``
        prefix); a refused event is left out with its own error and the others land.
        An event already in the log, or earlier in ``items``, gets a duplicate receipt.
        An unexpected error (not a `LedgerError`: a bug) while applying one event fails
        that event alone with `EventFailedError` and nothing of it is written: raised by
        the rules (which change nothing) it is left out at once; raised once the event
        began to change the group's state, the transaction is rolled back and the group
        written again without it (one more transaction, only then).
        ``on_commit`` runs once for the whole group after its commit, before this returns.
        ``first`` (group commit's write-quota takes, ledger.service.groupcommit) is called
        in each write transaction once the log's head is locked, with the transaction and
        the positions in ``items`` still to be written; the events it returns errors for
        are left out, unwritten, those errors their outcomes. Whatever it wrote commits or
        rolls back with the group (a rolled-back transaction calls it again in the next).

        Raises:
            ValidationError: an empty or oversized group.
            KeyFormatError: the ledger is read-only.
            StorageError: the database failed; nothing was written (for any event).
        """
        if not 1 <= len(items) <= MAX_BATCH:
            raise ValidationError(f"a batch holds 1 to {MAX_BATCH} events", field="events")
        received = self._clock()
        self.require_signer()
        refused: dict[int, LedgerError] = {}
        bound: dict[int, SignedEvent] = {}
        for i, signed in enumerate(items):
            try:
                bound[i] = signed.for_log(self._origin)
            except LedgerError as e:
                refused[i] = e.with_traceback(None)  # (kept with its frame: a cycle)
        known = self._public_keys({s.key for s in bound.values()})
        raw = {k: codec.b64url_decode(v, field="key") for k, v in known.items()}
        # those already verified under these key bytes (the write quota's check: the
        # same objects) are left out, as `_verify_known` does
        jobs = [
            (i, s, public)
            for i, s in bound.items()
            if (public := raw.get(s.key)) is not None and not entry.verified_under(s, public)
        ]
        # on every core, while this thread makes the leaves (libsodium holds no GIL)
        verified = start_first_bad(jobs)
        made = _group_leaves(bound, received)
        bad = verified()
        while bad is not None:  # another pass after each bad one (rare)
            refused[bad[0]] = bad[1]
            jobs = [job for job in jobs if job[0] > bad[0]]
            bad = first_bad_signature(jobs)
        positions = [i for i in bound if i not in refused]
        while True:
            judged: dict[int, LedgerError] = {}
            try:
                items_first = _renumbered(first, positions)
                receipt = self._write(
                    [bound[i] for i in positions],
                    received,
                    known,
                    judged,
                    items_first,
                    [made[i] for i in positions],
                )
                break
            except _Redo as redo:  # rolled back: write the group again without it
                failed = positions.pop(redo.position)
                refused[failed] = redo.error
        refused.update((positions[j], e) for j, e in judged.items())
        landed = iter(receipt.receipts)
        outcomes = tuple(refused[i] if i in refused else next(landed) for i in range(len(items)))
        if self._on_commit is not None and receipt.receipts:  # committed; not acknowledged
            self._on_commit(receipt)
        return GroupOutcome(outcomes, receipt.size, receipt.checkpoint)

    def _public_keys(self, key_ids: set[str]) -> dict[str, str]:
        """{key id: public key} of the ids the log knows (`Store.public_keys`), those met
        before from memory (ledger.service.appendmemo): only a hint of what to verify
        outside the lock; the rules name the key that must sign, in the transaction."""
        return self._memo.public_keys(key_ids, lambda ids: self._store.public_keys(self._log, ids))

    def _verify_known(self, items: Sequence[SignedEvent]) -> dict[str, str]:
        known = self._public_keys({s.key for s in items})
        raw = {k: codec.b64url_decode(v, field="key") for k, v in known.items()}
        # Those the write quota verified already (api.quota: the same objects, the same
        # key bytes) are left out: on the shared verify threads their no-op jobs queued
        # behind the next batch's real ones, ~20 ms before each batch's write began.
        jobs = [
            (i, s, public)
            for i, s in enumerate(items)
            if (public := raw.get(s.key)) is not None and not entry.verified_under(s, public)
        ]
        bad = sigpool.first_bad_signature(jobs)  # off this GIL; the first bad one wins
        if bad is not None:
            raise _locate(bad[1], bad[0], len(items)) from None
        return known

    def _write(
        self,
        items: Sequence[SignedEvent],
        received: datetime,
        known: dict[str, str],
        refused: dict[int, LedgerError] | None = None,
        first: Callable[[WriteTx, Set[int]], Mapping[int, LedgerError]] | None = None,
        made: Sequence[_Made | None] | None = None,
    ) -> BatchReceipt:
        """One write transaction (`_append_locked`), the keeper's mark durable before its
        commit and undone if the commit fails; the cyclic collector paused meanwhile
        (ledger.service.collector). The map's rows an append before left to the map's
        child are waited for first (also when this process's other thread left them
        while this one waited for the lock: rolled back and begun again once), and this
        append's, if it leaves them, are written by the child once it commits
        (ledger.service.mapworker)."""
        undo: Callable[[], None] | None = None
        turn = _MapTurn()
        while True:
            since = time.perf_counter()  # waiting for the lock's holder: the map's child too
            self._memo.settle_map()
            try:
                with collector.paused(), self._store.writer(self._log, since) as tx:
                    receipt, batch, grown = self._append_locked(
                        tx, items, received, known, refused, first, made, turn
                    )
                    if batch is not None and self._keeper is not None:
                        undo = self._keeper.before_commit(batch)  # before anyone can read it
            except _MapWritePendingError:
                turn = _MapTurn(wait=False)  # rolled back: once more, after the write
                continue
            except BaseException:
                turn.abandon()
                if undo is not None:
                    undo()
                raise
            break
        turn.release()
        if grown is not None:  # committed: the next transaction starts from this tree
            self._memo.keep_edge(*grown)
        return receipt

    def _append_locked(
        self,
        tx: WriteTx,
        items: Sequence[SignedEvent],
        received: datetime,
        known: dict[str, str],
        refused: dict[int, LedgerError] | None = None,
        first: Callable[[WriteTx, Set[int]], Mapping[int, LedgerError]] | None = None,
        made: Sequence[_Made | None] | None = None,
        turn: _MapTurn | None = None,
    ) -> tuple[BatchReceipt, Publishing | None, tuple[int, bytes, list[bytes]] | None]:
        """Write ``items`` under the lock. A refusal refuses all (raised, located) unless
        ``refused`` is given: then it is kept there by position and the event left out
        (its receipt too: the receipts are those of the events that landed, in order).
        ``first`` runs once the head is locked; the positions it refuses are left out.
        ``made``: each item's leaf made before the lock (`_leaves`; None: made here, as
        are all without ``made``). ``turn`` gets the transaction's map keeper.
        Returns the receipt, what the batch publishes and the grown tree's size, root and
        right edge (None, None: nothing new).

        Raises:
            _MapWritePendingError: (``turn.wait``) the stored map is behind the log while this
                process's map child has rows to write: the caller waits for them and
                begins again, rather than catch the map up here.
        """
        turn = turn or _MapTurn()
        head = tx.lock_head()
        if turn.wait and head.map_size is not None and self._memo.map_write_pending():
            raise _MapWritePendingError
        existing = tx.find_event_hashes([s.hash for s in items])
        if first is not None and refused is not None:  # (after the lock: one order, no deadlock)
            # not the events already logged: a duplicate (anyone's replay of a public
            # event) is free, and must not take its actor's tokens meanwhile
            logged = {i for i, s in enumerate(items) if s.hash in existing}
            refused.update(first(tx, logged))
        heads: MapKeeper | None = None  # opened at the first new entry
        least = EARLY_FROM if refused is None else GROUP_EARLY_FROM
        if (
            made is not None
            and len(items) - len(refused or ()) - len(existing) >= least
            # a group may land nothing (its rules refuse each event) and must then have
            # written nothing: its keeper, opened before any entry lands, only where its
            # map is in step, as this process committed it (a keeper that rebuilds or
            # catches up a map writes it); a batch that lands nothing raises
            and (refused is None or (head.map_size is None and self._map_cache.holds(head.size)))
        ):
            # the events still to land: a batch's all (it lands whole or not at all); a
            # group's, those ``first`` did not leave out (the rules may still refuse some)
            landing = [i for i in range(len(items)) if not refused or i not in refused]
            if all(made[i] is not None for i in landing):  # (a group's may be missing)
                # their heads are known now if each lands at the next index
                # (`MapKeeper.commit` takes the child's answer only if the loop's entries
                # are the predicted ones: a group whose rules refused one of them updates
                # the map itself), and the map's child process updates the map while the
                # state's lookup below and this loop run. Asked after the known events'
                # lookup: a batch re-sent (anyone can post entries that are public) would
                # have the child compute an update for nothing
                heads = turn.keeper = MapKeeper(tx, head.size, None, self._map_cache)
                heads.begin(
                    self._map_worker,
                    [items[i] for i in landing],
                    [_made_hash(made[i]) for i in landing],
                    existing,
                    least,
                )
        state = load_state_for(tx, [s for s in items if s.hash not in existing])
        if heads is not None:
            heads.use_state(state)
        tree = self._tree(tx, head.size, head.root)
        chain, rows, records = head.chain, [], []
        packed: list[bytes] = []  # the rows' stored leaves, when ``made``
        receipts: list[Receipt] = []
        seen: dict[bytes, Receipt] = {}
        for i, signed in enumerate(items):
            if refused and i in refused:  # left out by ``first``
                continue
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
                if refused is None:
                    raise _locate(e, i, len(items)) from None
                # without its traceback, which holds this frame and so ``refused``: a
                # reference cycle that kept the group's state until a collection
                refused[i] = e.with_traceback(None)
                continue
            except Exception as e:  # a bug in the rules, which change nothing: left out
                if refused is None:
                    raise
                refused[i] = _failed(e, signed)
                continue
            try:
                state.apply(new)
                records.extend(new)
                if made is None:
                    leaf = Leaf.build(signed, received)
                    leaf_hash = leaf.hash
                else:
                    leaf, leaf_hash, stored = made[i] or _made(signed, received)
                    packed.append(stored)
                heads = heads or MapKeeper(tx, head.size, state, self._map_cache)
                turn.keeper = heads
                heads.add(tree.size, leaf_hash, signed.event)
                chain = entry.chain_hash(chain, leaf_hash)
                rows.append(_entry_row(tree.size, leaf, chain, event_hash))
                seen[event_hash] = _new_receipt(tree.size, leaf_hash, event_hash)
                receipts.append(seen[event_hash])
                tree.add(leaf_hash)
            except Exception as e:  # the group's state is half-changed: redo without it
                if refused is None or isinstance(e, (LedgerError, *tx.DATABASE_ERRORS)):
                    raise  # a refusal, the database or the map: the whole group, as before
                raise _Redo(i, _failed(e, signed)) from e
        if not rows or heads is None:
            note_text = tx.checkpoint_note(head.size)
            return BatchReceipt(tuple(receipts), head.size, note_text), None, None
        tx.insert_entries(rows, None if made is None else packed)
        tx.insert_nodes(tree.new)
        tx.upsert(records)
        root = tree.root()
        tx.set_head(tree.size, chain, root)
        body = note.Checkpoint(head.origin, tree.size, root, (heads.commit(tree.size),))
        note_text = note.sign_checkpoint(body, self.require_signer()).decode()
        # dated by the log's own time line (docs/FORMAT.md 5.2): clients bound its age
        at = int(received.timestamp())
        dated = logtime.stamp_signed(body, note_text, self._time_key(), at)
        tx.insert_checkpoint(tree.size, root, dated, format_time(received))
        leaves = tuple(row.leaf for row in rows)
        published = Publishing(head.size, tree.size, dated, leaves)
        return (
            BatchReceipt(tuple(receipts), tree.size, dated),
            published,
            (
                tree.size,
                root,
                tree.edge(),
            ),
        )

    def _map_worker(self) -> MapWorker | None:
        """This log's map child process (ledger.service.mapworker; `AppendMemo.map_worker`
        starts it at the second large batch or group)."""
        return self._memo.map_worker(self._store.engines.url, self._log)

    def _tree(self, tx: WriteTx, size: int, root: bytes) -> TreeAppender:
        """The tree of the locked head (``size``, ``root``) to extend: its right edge as
        the last committed transaction left it, if that is this tree
        (ledger.service.appendmemo), else read in ``tx``."""
        edge = self._memo.edge(size, root)
        if edge is not None:
            return TreeAppender(size, {}, edge, LOWEST_NODE_LEVEL)
        frontier = tx.subtrees(merkle.range_subtrees(0, size))
        return TreeAppender(size, frontier, keep_from=LOWEST_NODE_LEVEL)


#: `Appender.append_each`'s ``first``: (the write transaction, the positions of the group
#: still to be written) -> {position: its error} of those to leave out
FirstInTx = Callable[[WriteTx, Sequence[int]], Mapping[int, LedgerError]]


def _renumbered(
    first: FirstInTx | None, positions: list[int]
) -> Callable[[WriteTx, Set[int]], Mapping[int, LedgerError]] | None:
    """``first`` as `_append_locked` calls it: on the written items' own positions, less
    those (of the written items) already in the log."""
    if first is None:
        return None
    at = {i: j for j, i in enumerate(positions)}

    def renumbered(tx: WriteTx, logged: Set[int]) -> Mapping[int, LedgerError]:
        asked = [i for j, i in enumerate(positions) if j not in logged]
        return {at[i]: e for i, e in first(tx, asked).items() if i in at}

    return renumbered


class _Redo(Exception):  # noqa: N818 - not an error: a signal to write the group again
    """Applying the event at ``position`` of a group failed after it changed the
    group's state: roll back, and write the group again without it."""

    def __init__(self, position: int, error: EventFailedError) -> None:
        super().__init__(position)
        self.position = position
        self.error = error


def _failed(error: Exception, signed: SignedEvent) -> EventFailedError:
    """The failed event's own answer; the traceback goes to the log (it is a bug)."""
    _log.error(
        "group commit: applying event %s failed; left out of its group",
        codec.b64url_encode(signed.hash),
        exc_info=error,
    )
    return EventFailedError(
        f"an unexpected error while applying this event ({type(error).__name__}); "
        "it was left out and nothing of it was written"
    )


def _forget_head(state: State, signed: SignedEvent) -> None:
    """Injected fault ``skip-head-check``: make the unit's head whatever ``prev`` names."""
    event = signed.event
    if isinstance(event, UnitEvent) and event.prev is not None:
        unit = state.units.get((event.unit.gtin, event.unit.serial))
        if unit is not None:
            state.units[(unit.gtin, unit.serial)] = replace(unit, head=event.prev)


class _MapWritePendingError(Exception):
    """The stored map is behind the log and this process's map child has its rows to
    write (`Appender._append_locked`): wait for them outside the lock."""


@dataclass
class _MapTurn:
    """One write transaction's side of the map's child (ledger.service.mapworker): its
    keeper, whose rows, if it left them to the child, are released when the
    transaction commits and abandoned when it does not. ``wait``: refuse to catch up a
    map that this process's child is about to write (`_MapWritePendingError`)."""

    keeper: MapKeeper | None = None
    wait: bool = True

    def release(self) -> None:
        """The transaction committed: the child writes the rows it was left, if any."""
        if self.keeper is not None and self.keeper.deferred is not None:
            worker, number = self.keeper.deferred
            worker.release(number)

    def abandon(self) -> None:
        """The transaction did not commit: rows it left to the child are not written."""
        if self.keeper is not None and self.keeper.deferred is not None:
            worker, number = self.keeper.deferred
            worker.abandon(number)


#: an event's leaf made before the lock: the leaf, its hash, its stored form
_Made = tuple[Leaf, bytes, bytes]


def _made(signed: SignedEvent, received: datetime) -> _Made:
    """One event's leaf, its hash and its stored form (see `_leaves`)."""
    leaf = Leaf.build(signed, received)
    return leaf, leaf.hash, pack(leaf.data)


def _made_hash(made: _Made | None) -> bytes:
    if made is None:  # (only a group's may be missing, and then it starts no map)
        raise ValueError("the leaves a map's child is asked for are all made before the lock")
    return made[1]


def _group_leaves(bound: Mapping[int, SignedEvent], received: datetime) -> dict[int, _Made | None]:
    """`_leaves` of a group's events, by position; None for one whose leaf could not be
    made (it is made again under the lock, where its error fails it alone, as before:
    an error here must not fail the group)."""
    built: dict[int, Leaf] = {}
    for i, signed in bound.items():
        try:
            built[i] = Leaf.build(signed, received)
        except Exception:  # noqa: S112 - made again under the lock, where it fails alone
            continue
    made = dict(zip(built, _made_all(list(built.values())), strict=True))
    return {i: made.get(i) for i in bound}  # (a built leaf's hash and packing never raise)


def _leaves(items: Sequence[SignedEvent], received: datetime) -> list[_Made]:
    """Each event's leaf, its hash and its stored form (ledger.store.leafpack: `pack` is
    most of it), made before the write transaction takes the log's lock. All three
    depend on the event and the receive time only (not on the index or the log's state),
    so they are the bytes the transaction would make; it then holds the lock ~12 us an
    event less (SQLite, docs/PERFORMANCE.md "ingest30"). The leaf of an event found
    already in the log, or of a refused batch, is made for nothing. The stored forms
    are packed as a batch (`_made_all`)."""
    return _made_all([Leaf.build(signed, received) for signed in items])


def _made_all(leaves: Sequence[Leaf]) -> list[_Made]:
    """Each of ``leaves`` with its hash and its stored form, packed as a batch
    (`pack_many`: in C with the GIL released, where it is built)."""
    stored = pack_many([leaf.data for leaf in leaves])
    return [(leaf, leaf.hash, value) for leaf, value in zip(leaves, stored, strict=True)]


def _accept(
    state: State, signed: SignedEvent, index: int, received: datetime, known: dict[str, str]
) -> list[Any]:
    if len(signed.event_bytes) > _LONG_EVENT:  # rare: measure the entry it would make
        _check_entry_length(signed, received)
    public = rules.signing_key(state, signed, index)
    if known.get(signed.key) != public:
        _verify(signed, public)  # a key registered earlier in this same batch
    return rules.check_signer_known(state, signed, index, received)  # signer checked above


#: an event this long may make an entry longer than `tiles.MAX_ENTRY_BYTES` (the key, the
#: signature, the receive time and the leaf's own syntax add at most a few hundred bytes)
_LONG_EVENT = tiles.MAX_ENTRY_BYTES - 1024


def _check_entry_length(signed: SignedEvent, received: datetime) -> None:
    """Refuse an event whose entry would be longer than a C2SP tlog-tiles entry bundle
    holds (its uint16 length), so that every entry of the log can be served as tiles."""
    length = len(Leaf.build(signed, received).data)
    if length > tiles.MAX_ENTRY_BYTES:
        raise ValidationError(
            f"the event makes an entry of {length} bytes; the log holds entries of at most "
            f"{tiles.MAX_ENTRY_BYTES} bytes (C2SP tlog-tiles, docs/API.md)",
            field="event",
        )


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


def _entry_row(index: int, leaf: Leaf, chain: bytes, event_hash: bytes) -> EntryValues:
    event = leaf.signed.event
    unit = getattr(event, "unit", None)
    return EntryValues(
        index,
        leaf.data,
        chain,
        event_hash[:EVENT_KEY_SIZE],
        event.kind,
        unit.gtin if unit else None,
        unit.serial if unit else None,
        event.actor,
    )
