"""Keeping a log's map of heads (ledger.map) in step with its appends.

`MapKeeper` is opened inside an append's write transaction: it tells the append which
heads its entries move (`add`) and, at the end, writes the changed map buckets
(ledger.map.buckets) and returns the checkpoint extension line that commits to the new
root (`commit`). A log written
before the map existed (no stored root while it has entries) gets its whole map built
from its entries first, in the same transaction.

A large batch's rows (or a group's of single events) may instead be left to the map's
child process, which computed
them (ledger.service.mapworker): the append signs the root, records that the stored map
is still that of the log's size before the batch (`LogHead.map_size`) and commits; the
child writes the rows in a transaction of its own right after, only if the stored map
is still that one. A keeper that finds the stored map behind its log (the child's write
lost to a crash, a kill or another writer) catches it up first from the entries it
lacks, in its own transaction, and checks the root it reaches against the checkpoint at
the log's size, as for any stored map.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence

from ledger import codec
from ledger.entry import Leaf, SignedEvent
from ledger.errors import NotFoundError, StorageError
from ledger.events import Authorize, Event, UnitEvent
from ledger.map import commit as map_commit
from ledger.map import update as map_update
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import BucketReader, decode
from ledger.map.heads import HeadTracker, unit_entries, units_of
from ledger.note import Checkpoint
from ledger.rules.state import AuthorizationRecord, PartnerLookup, State
from ledger.service import collector
from ledger.service.mapworker import EARLY_FROM, MapWorker, adopted
from ledger.store import Store, WriteTx


class MapDivergedError(StorageError):
    """The stored map of heads is not the map the log's last signed checkpoint commits
    to: the log refuses to extend it (nothing is written)."""

    code = "map-diverged"


class MapCache:
    """The top buckets of the stored map (ledger.map.bucketmap.CACHED_TOP) last read or
    written by this process, as a `BucketMap` kept between appends; with ``keep_deep``,
    also up to that many of the buckets below them (`BucketMap.forget_deep`).

    `open` hands it out only while its root is the stored root (read now): a batch
    rolled back after its update moved the cached root, so the next `open` starts
    afresh; an update that failed half-way has dropped it (`drop`). It also remembers
    the (size, root) of the last checkpoint line it gave (`signed`), so that the next
    append on the same map need not read that checkpoint back to compare roots.
    """

    def __init__(self, keep_deep: int = 0) -> None:
        self._map: BucketMap | None = None
        self._signed: tuple[int, bytes] | None = None
        self.keep_deep = keep_deep  # `BucketMap.forget_deep`'s ``keep``

    def open(self, read: BucketReader, root_row: bytes | None) -> BucketMap:
        """The map as stored now, reading through ``read``: the cached one if its root
        is that of ``root_row`` (the stored root bucket, read now; None: none), else a
        fresh one holding that bucket only.

        Raises:
            CorruptBucketError: the stored root bucket is damaged.
        """
        root_bucket = {} if root_row is None else decode(root_row)
        cached = self._map
        if cached is None or cached.root_node() != root_bucket.get(1) or cached.dirty:
            cached = self._map = BucketMap(read, root_bucket)
            self._signed = None
        cached.forget_deep(self.keep_deep)
        cached.read = read
        return cached

    def signed(self, size: int, root: bytes) -> bool:
        """Whether this cache's map gave ``root`` for the checkpoint of size ``size``
        (`remember`) and has not been dropped or replaced since: the stored root (which
        `open` just found equal to the cached one) is then the one that checkpoint
        signs, or that append rolled back and the log is not at ``size``."""
        return self._signed == (size, root)

    def holds(self, size: int) -> bool:
        """Whether this cache's map is the one an append of this process gave the
        checkpoint of size ``size`` (`remember`): with the log at ``size`` and its map not
        behind (``map_size`` unset), a keeper opened now builds and catches up nothing."""
        return self._signed is not None and self._signed[0] == size

    def remember(self, size: int, root: bytes) -> None:
        """The checkpoint of size ``size`` is to carry ``root`` (see `signed`)."""
        self._signed = (size, root)

    def drop(self) -> None:
        """Forget the cached map (an update on it did not finish)."""
        self._map = None
        self._signed = None

    def adopt(self, root_only: BucketMap) -> None:
        """Hold ``root_only`` (the root bucket of a map this process did not update
        itself, ledger.service.mapworker) instead of the cached map: `open` reads the
        rest through the store."""
        self._map = root_only
        self._signed = None


class MapKeeper(HeadTracker):
    """The map side of one append (see the module doc): a `HeadTracker` (its ``add``
    is the append's, one call an entry) of the stored map's heads.

    ``cache`` is the log's `MapCache` kept by the caller between appends (default: a
    fresh one, which reads everything from the store). ``state`` (the rules' state, for
    the partner of an authorization an ``authorization.revoke`` ends) may come later,
    by `use_state`, before the first `add`.
    """

    def __init__(
        self, tx: WriteTx, size: int, state: State | None, cache: MapCache | None = None
    ) -> None:
        self._tx = tx
        self._size = size
        self._partners = PartnerLookup(state)
        self._cache = cache if cache is not None else MapCache()
        self._early: tuple[MapWorker, int, bool, list[tuple[int, bytes, UnitEvent]]] | None = None
        #: while the child has the predicted heads: the unit entries added so far, not
        #: yet tracked (`add`); None: every entry added is tracked
        self._untracked: list[tuple[int, bytes, Event]] | None = None
        #: the child's request whose rows this append left to it (`commit`): released
        #: once the transaction commits, abandoned if it does not
        self.deferred: tuple[MapWorker, int] | None = None
        read = tx.map_bucket_reader()
        root_row = read([map_update.ROOT]).get(map_update.ROOT)
        #: the stored root row as committed (None: a map built in this transaction, which
        #: another connection cannot read yet)
        self._committed_root: bytes | None = root_row
        #: the map was built or caught up in this transaction (the child, which reads
        #: the committed map, is not asked)
        self._rebuilt = False
        #: the map was behind and caught up here: another writer's child had not written
        #: its rows yet (or it never will)
        self.caught_up = False
        behind = (tx.locked or tx.lock_head()).map_size
        if size and root_row is None:
            self._cache.drop()  # a map built anew is checked like a stored one
            self._backfill(size)
            if behind is not None:
                tx.set_map_size(None)
            self._rebuilt = True
            root_row = read([map_update.ROOT]).get(map_update.ROOT)
        elif behind is not None:
            self._cache.drop()  # caught up below, then checked like a stored map
            self._catch_up(behind, root_row)
            self._rebuilt = self.caught_up = True
            root_row = read([map_update.ROOT]).get(map_update.ROOT)
        self._map = self._cache.open(read, root_row)
        if not self._cache.signed(size, self._map.root()):
            _check_signed(tx, size, self._map.root())
        # not a method of this keeper (`PartnerLookup`: a reference cycle otherwise)
        super().__init__(self._map.lookup, self._partners)

    def use_state(self, state: State) -> None:
        """The rules' state this append's entries are checked against (see the class
        doc)."""
        self._partners.state = state

    def begin(
        self,
        worker: Callable[[], MapWorker | None],
        items: Sequence[SignedEvent],
        leaf_hashes: Sequence[bytes],
        existing: Container[bytes],
        least: int = EARLY_FROM,
    ) -> None:
        """Hand the map's update to the map's child process (``worker()``, called only
        when it is wanted; ledger.service.mapworker) now, for the append of ``items``
        (with ``leaf_hashes``; those whose hash is in ``existing`` are in the log),
        predicted to land each new one at the next index (a batch, which lands whole or
        not at all; a group, unless its rules refuse one). `commit` takes its answer
        only if the entries then added are exactly the ones predicted here (so they
        move exactly the heads predicted here). Nothing is handed over for fewer than
        ``least`` unit heads, an event about an actor (its head depends on the stored
        chain), or a map rebuilt in this transaction."""
        if self.caught_up:
            # another process appends this log too (its child's rows were not written
            # when this append came): while it does, this process's batches write their
            # rows in their own transactions, or each would catch up the other's
            found = worker()
            if found is not None:
                found.crowded()
        if self._rebuilt:
            return
        entries = unit_entries(
            [(s.hash, s.event, h) for s, h in zip(items, leaf_hashes, strict=True)],
            self._size,
            existing,
        )
        if entries is None:
            return
        units = units_of(entries)
        if len({(gtin, serial) for _, _, gtin, serial in units}) < least:
            return
        child = worker()
        keep = child is not None and not child.is_crowded()
        # the units, not their keys: the child hashes them (`unit_heads_of`), off the
        # append's thread, which then needs no key unless it tracks the entries itself
        number = None if child is None else child.submit(self._committed_root, units, keep)
        if child is not None and number is not None:
            self._early = (child, number, keep, entries)
            self._untracked = []

    def add(self, index: int, leaf_hash: bytes, event: Event) -> None:
        """`HeadTracker.add`; while the child has the predicted heads, a unit entry is
        only noted: if the entries added are exactly the predicted ones, the heads they
        move are the predicted heads (`commit` compares the entries, and tracks them
        only if they differ). Other entries are tracked at once: a unit's head and an
        actor's never depend on each other (their keys are apart, an actor's chain is
        over registry entries only), so the order the two kinds are tracked in does
        not matter, and an entry that moves no head (``product.register``) leaves the
        noted entries as they are."""
        untracked = self._untracked
        if untracked is not None and isinstance(event, UnitEvent):
            untracked.append((index, leaf_hash, event))
            return
        super().add(index, leaf_hash, event)

    def _track(self) -> None:
        """Track the unit entries `add` only noted (in their order)."""
        untracked, self._untracked = self._untracked, None
        for entry in untracked or ():
            super().add(*entry)

    def commit(self, size: int) -> str:
        """Write the changed buckets; return the extension line of the new root, for the
        checkpoint of size ``size`` (the log's size after this append)."""
        if self._early is not None:
            worker, number, kept, entries = self._early
            self._early = None
            # the heads moved are the predicted ones and no other moved (no actor's): else
            # the child's answer is not this log's, and is not waited for (the next
            # request to the child reads it first, `MapWorker.submit`)
            predicted = self._untracked == entries and not self.changes
            answer = worker.result(number) if predicted else None
            root_only = None if answer is None else adopted(answer[1])
            if (
                answer is not None
                and root_only is not None
                and root_only.root() == answer[0]  # the root bucket's root is the root given
            ):
                # the heads moved are the child's (`changes` is left to the tracking
                # that does not happen: nothing reads it after `commit`)
                self._untracked = None
                root, rows = answer
                if kept:
                    # the child writes the rows once this commits (`MapWorker.release`);
                    # till then the stored map is the one of the size before this batch
                    self._tx.set_map_size(self._size)
                    worker.defer(number, self._size)
                    self.deferred = (worker, number)
                else:
                    self._tx.write_map_buckets(rows)
                self._cache.adopt(root_only)
                self._cache.remember(size, root)
                return map_commit.extension(root)
        self._track()
        with collector.paused():
            try:
                root = self._map.update(self.changes)
                self._tx.write_map_buckets(self._map.rows())
            except BaseException:
                self._cache.drop()  # the update changed cached buckets in place
                raise
            self._map.forget_deep(self._cache.keep_deep)
        self._cache.remember(size, root)
        return map_commit.extension(root)

    def _catch_up(self, behind: int, root_row: bytes | None) -> None:
        """Bring the stored map of entries ``[0, behind)`` (root bucket ``root_row``) up
        to the log's size, from the entries it lacks; the stored map is then the whole
        log's. The caller checks the root it reaches against the signed one.

        Raises:
            MapDivergedError: ``behind`` is not below the log's size (no writer records
                that: the log's row was changed).
        """
        if not 0 <= behind < self._size:
            raise MapDivergedError(
                f"the stored map of heads says it is the map of {behind} entries, in a log "
                f"of {self._size}: refusing to extend it; docs/FORMAT.md section 14.2 says "
                "how to rebuild it",
                field="map",
            )
        stored = BucketMap(
            self._tx.map_bucket_reader(), {} if root_row is None else decode(root_row)
        )
        partners: dict[str, str] = {}

        def partner_of(authorization: str) -> str | None:
            if authorization not in partners:  # granted before ``behind``: its record
                found = self._tx.load_records({AuthorizationRecord: [authorization]})
                grants = [r for r in found if isinstance(r, AuthorizationRecord)]
                if not grants:
                    return None
                partners[authorization] = grants[0].partner
            return partners[authorization]

        tracker = HeadTracker(stored.lookup, partner_of)
        self._replay(tracker, partners, behind, self._size)
        with collector.paused():
            stored.update(tracker.changes)
            self._tx.write_map_buckets(stored.rows())
        self._tx.set_map_size(None)

    def _replay(self, tracker: HeadTracker, partners: dict[str, str], start: int, end: int) -> None:
        """Tell ``tracker`` the entries ``[start, end)``, noting each authorization's
        partner in ``partners`` on the way."""
        step = 10_000
        # format-2 leaves are read against the log's origin (the head row is this
        # transaction's already: reading it again locks nothing new)
        origin = (self._tx.locked or self._tx.lock_head()).origin
        for first in range(start, end, step):
            for index, data, leaf_hash in self._tx.leaves(first, min(first + step, end)):
                signed = Leaf.from_bytes(data, origin).signed
                if isinstance(signed.event, Authorize):
                    partners[codec.b64url_encode(signed.hash)] = signed.event.partner
                tracker.add(index, leaf_hash, signed.event)

    def _backfill(self, size: int) -> None:
        """Build the map of entries ``[0, size)`` from scratch (a log from before maps)."""
        partners: dict[str, str] = {}
        tracker = HeadTracker(lambda _key: None, partners.get)
        self._replay(tracker, partners, 0, size)
        built = BucketMap()
        built.update(tracker.changes)
        self._tx.write_map_buckets(built.rows())


def catch_up(store: Store, log: int) -> bool:
    """Bring log ``log``'s stored map up to the log when it is behind it (the map's
    child did not write a committed batch's rows: stopped, killed, or this process
    was), in a write transaction of its own, checked against the checkpoint at the
    log's size like any stored map; whether it was behind.

    Raises:
        MapDivergedError: the map caught up is not the one that checkpoint signs.
        StorageError: the database failed (nothing was written).
    """
    with store.writer(log) as tx:
        head = tx.lock_head()
        if head.map_size is None:
            return False
        catch_up_in(tx, head.size)
    return True


def catch_up_in(tx: WriteTx, size: int) -> None:
    """Bring the stored map up to the log's ``size`` entries in ``tx`` (its head locked),
    from the entries it lacks, if it is behind (`LogHead.map_size`), and check it
    against the checkpoint at ``size``: what every `MapKeeper` does as it opens.

    Raises:
        MapDivergedError: the map caught up is not the one that checkpoint signs.
    """
    MapKeeper(tx, size, None)


def _check_signed(tx: WriteTx, size: int, stored: bytes) -> None:
    """Refuse to extend a stored map whose root ``stored`` is not the one the checkpoint
    at ``size`` signs (see the module doc for what has nothing to compare with).

    Raises:
        MapDivergedError: the roots differ.
    """
    if not size:
        return
    try:
        text = tx.checkpoint_note(size)
    except NotFoundError:
        return
    signed = map_commit.root_of(Checkpoint.from_body(text[: text.index("\n\n") + 1]).extensions)
    if signed is not None and signed != stored:
        raise MapDivergedError(
            f"the stored map of heads is not the one the checkpoint of size {size} signs "
            "(the map table was changed or restored apart from the log): refusing to "
            "extend it; docs/FORMAT.md section 14.2 says how to rebuild it",
            field="map",
        )
