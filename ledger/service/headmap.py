"""Keeping a log's map of heads (ledger.map) in step with its appends.

`MapKeeper` is opened inside an append's write transaction: it tells the append which
heads its entries move (`add`) and, at the end, writes the changed map nodes and returns
the checkpoint extension line that commits to the new root (`commit`). A log written
before the map existed (no stored root while it has entries) gets its whole map built
from its entries first, in the same transaction.
"""

from __future__ import annotations

from ledger import codec
from ledger.entry import Leaf
from ledger.events import Authorize, Event
from ledger.map import commit as map_commit
from ledger.map import update as map_update
from ledger.map.heads import HeadTracker
from ledger.map.trie import Head
from ledger.rules.state import State
from ledger.store import WriteTx


class MapKeeper:
    """The map side of one append (see the module doc)."""

    def __init__(self, tx: WriteTx, size: int, state: State) -> None:
        self._tx = tx
        self._read = tx.map_reader()
        self._state = state
        if size and not self._read([map_update.ROOT]):
            self._backfill(size)
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
        result = map_update.update(self._read, self._tracker.changes)
        self._tx.write_map(result.rows)
        return map_commit.extension(result.root)

    def _backfill(self, size: int) -> None:
        """Build the map of entries ``[0, size)`` from scratch (a log from before maps)."""
        partners: dict[str, str] = {}
        tracker = HeadTracker(lambda _key: None, partners.get)
        step = 10_000
        for start in range(0, size, step):
            for index, data, leaf_hash in self._tx.leaves(start, min(start + step, size)):
                signed = Leaf.from_bytes(data).signed
                if isinstance(signed.event, Authorize):
                    partners[codec.b64url_encode(signed.hash)] = signed.event.partner
                tracker.add(index, leaf_hash, signed.event)
        self._tx.write_map(map_update.update(lambda _ps: {}, tracker.changes).rows)
