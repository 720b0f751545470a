"""Keeping a log's map of heads (ledger.map) in step with its appends.

`MapKeeper` is opened inside an append's write transaction: it tells the append which
heads its entries move (`add`) and, at the end, writes the changed map nodes and returns
the checkpoint extension line that commits to the new root (`commit`). A log written
before the map existed (no stored root while it has entries) gets its whole map built
from its entries first, in the same transaction.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import cast

from ledger import codec
from ledger.entry import Leaf
from ledger.errors import NotFoundError, StorageError
from ledger.events import Authorize, Event
from ledger.map import commit as map_commit
from ledger.map import update as map_update
from ledger.map.heads import HeadTracker
from ledger.map.trie import EMPTY, Head
from ledger.note import Checkpoint
from ledger.rules.state import State
from ledger.store import WriteTx

#: positions of at most this many bytes (depths 0..15, at most 65,535 nodes) are cached
CACHED_BYTES = 2
_UNREAD = object()


class MapDivergedError(StorageError):
    """The stored map of heads is not the map the log's last signed checkpoint commits
    to: the log refuses to extend it (nothing is written)."""

    code = "map-diverged"


class MapCache:
    """The stored map's nodes at depths 0..15 last read or written by this process.

    ``None`` records a position known to hold no node. Only used through `reader`,
    after `check` (see the module doc).
    """

    def __init__(self) -> None:
        self._nodes: dict[bytes, map_update.Stored | None] = {}

    def check(self, stored_root: map_update.Stored | None) -> None:
        """Keep the cache if ``stored_root`` (the root row read now) is the cached root."""
        if self._nodes.get(map_update.ROOT, _UNREAD) != stored_root:
            self._nodes = {map_update.ROOT: stored_root}

    def reader(self, read: map_update.Reader) -> map_update.Reader:
        """``read`` answered from the cache where it can; what it reads is cached."""
        nodes = self._nodes

        def cached(positions: Iterable[bytes]) -> dict[bytes, map_update.Stored]:
            out: dict[bytes, map_update.Stored] = {}
            missing = []
            for pos in positions:
                node = nodes.get(pos, _UNREAD)
                if node is _UNREAD:
                    missing.append(pos)
                elif node is not None:
                    out[pos] = cast(map_update.Stored, node)
            if missing:
                got = read(missing)
                out.update(got)
                for pos in missing:
                    if len(pos) <= CACHED_BYTES:
                        nodes[pos] = got.get(pos)
            return out

        return cached

    @property
    def known(self) -> Mapping[bytes, map_update.Stored | None]:
        """The cached positions (`ledger.map.update.update`'s ``known``): valid after
        `check`, until the next write."""
        return self._nodes

    def wrote(self, result: map_update.MapUpdate) -> None:
        """Record the rows just written (the root among them) and positions left empty."""
        nodes, stored = self._nodes, map_update.Stored
        for pos, value in result.nodes:
            if len(pos) <= CACHED_BYTES:
                nodes[pos] = stored(value)
        for pos, key, head in result.leaves:
            if len(pos) <= CACHED_BYTES:
                nodes[pos] = stored(None, key, head)
        for pos in result.empty:
            if len(pos) <= CACHED_BYTES:
                nodes[pos] = None


class MapKeeper:
    """The map side of one append (see the module doc).

    ``cache`` is the log's `MapCache` kept by the caller between appends (default: a
    fresh one, which reads everything from the store).
    """

    def __init__(self, tx: WriteTx, size: int, state: State, cache: MapCache | None = None) -> None:
        self._tx = tx
        self._state = state
        read = tx.map_reader()
        root = read([map_update.ROOT]).get(map_update.ROOT)
        if size and root is None:
            self._backfill(size)
            root = read([map_update.ROOT]).get(map_update.ROOT)
        _check_signed(tx, size, EMPTY if root is None else root.subtree_hash())
        self._cache = cache if cache is not None else MapCache()
        self._cache.check(root)
        self._read = self._cache.reader(read)
        self._tracker = HeadTracker(self._current, self._partner_of)

    def _current(self, key: bytes) -> Head | None:
        return map_update.lookup(self._read, key)

    def _partner_of(self, authorization: str) -> str | None:
        record = self._state.authorizations.get(authorization)
        return None if record is None else record.partner

    def add(self, index: int, leaf_hash: bytes, event: Event) -> None:
        """The entry at ``index`` holds ``event``: move the heads it touches."""
        self._tracker.add(index, leaf_hash, event)

    def commit(self) -> str:
        """Write the changed nodes; return the extension line of the new root."""
        with _collector_paused():
            result = map_update.update(self._read, self._tracker.changes, self._cache.known)
            self._tx.write_map(result)
            self._cache.wrote(result)
            root = result.root
            # freed while paused: the collection that follows the pause then finds few
            # young objects left, instead of a batch's rows to move into older generations
            del result
        return map_commit.extension(root)

    def _backfill(self, size: int) -> None:
        """Build the map of entries ``[0, size)`` from scratch (a log from before maps)."""
        partners: dict[str, str] = {}
        tracker = HeadTracker(lambda _key: None, partners.get)
        step = 10_000
        # format-2 leaves are read against the log's origin (the head row is this
        # transaction's already: reading it again locks nothing new)
        origin = self._tx.lock_head().origin
        for start in range(0, size, step):
            for index, data, leaf_hash in self._tx.leaves(start, min(start + step, size)):
                signed = Leaf.from_bytes(data, origin).signed
                if isinstance(signed.event, Authorize):
                    partners[codec.b64url_encode(signed.hash)] = signed.event.partner
                tracker.add(index, leaf_hash, signed.event)
        self._tx.write_map(map_update.update(lambda _ps: {}, tracker.changes))


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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, back on after if it was on.

    A batch update allocates tens of thousands of small tuples and dicts (about five
    rows a key) and frees them all at its end; none is in a cycle. With the collector
    on, those allocations set off collections that traverse every live object of the
    process: in a process holding a ledger's worth of objects the map step took twice
    its CPU time (docs/PERFORMANCE.md, "The map of heads"). Paused, nothing is lost: the
    next collection runs when the block ends.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
