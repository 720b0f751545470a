"""What a log's appender keeps between its write transactions, so that a small group
(group commit, ledger.service.groupcommit) does not pay for reading it again: the
public keys of the key ids it met, the Merkle tree's right edge at the size it last
committed, and the top of the log's map of heads (ledger.service.headmap.MapCache).
One per ledger, shared by its per-request copies (`Ledger.reading`): a batch posted
over HTTP appends through such a copy, and each copy used to start with an empty map
cache, reading and decoding the map's top buckets again for every batch.

Neither is trusted for anything a check rests on:

- a key id is the hash of its public key (`ledger.crypto.key_id`, and
  `ledger.entry.verify_event` checks it), so the public key the log stores for an id
  never changes; which key may sign an event is the rules' decision, read from the log
  inside the append's transaction (`ledger.service.append._accept` verifies again under
  that key whenever it is not the one verified with);
- the right edge is used only for a head whose size and root are the ones it was kept
  for: the root is the hash of exactly that edge, so another writer's append (another
  worker, ledger.service.tail) or a rolled-back transaction makes it miss, and the edge
  is read from the database as before;
- the map cache is handed out only while its root is the stored root bucket, read in
  the transaction that opens it (`MapCache.open`), and it is opened and changed only
  inside the log's write transaction, which holds the log's write lock (``BEGIN
  IMMEDIATE`` on SQLite, the head row ``FOR UPDATE`` on PostgreSQL): the ledger's
  appender and its copies' never use it at the same time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence

from ledger.service.headmap import MapCache
from ledger.service.mapworker import MapWorker

#: key ids remembered at most (then forgotten all at once and read again as met)
MAX_KEYS = 4096


class AppendMemo:
    """Public keys by key id, one right edge of the log's Merkle tree, and the top of
    its map of heads (``map_cache``)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        #: the top of this log's map between appends (ledger.service.headmap)
        self.map_cache = MapCache()
        self._keys: dict[str, str] = {}
        self._edge: tuple[int, bytes, tuple[bytes, ...]] | None = None
        self._lock = threading.Lock()
        #: taken by a batch for the work it does just before its write transaction and
        #: that transaction (ledger.service.append): this process's batches do both in
        #: turn, not beside each other (a scheduling aid only; the log's write lock is
        #: what serializes writers)
        self.turn = threading.Lock()
        self._map_worker: MapWorker | None = None
        self._map_asks = 0

    def map_worker(self, url: str, log: int) -> MapWorker | None:
        """The child process that updates this log's map for large batches and groups
        (ledger.service.mapworker), made at the second call: a process that appends
        one large batch (a command-line import) never starts one. None before that,
        and on a machine with one core (the child would only take turns with the
        append)."""
        if (os.cpu_count() or 1) < 2:
            return None
        with self._lock:
            self._map_asks += 1
            if self._map_worker is None and self._map_asks >= 2:
                self._map_worker = MapWorker(url, log)
            return self._map_worker

    def ready_map_worker(self, url: str, log: int, wait: float) -> MapWorker | None:
        """This log's map child process started now (not at the second large batch)
        and ready, waiting up to ``wait`` seconds: what a writer that keeps appending
        large batches has (benchmarks and tests start there); None if it is not."""
        if (os.cpu_count() or 1) < 2:
            return None
        with self._lock:
            self._map_asks = max(self._map_asks, 1)
        worker = self.map_worker(url, log)
        return worker if worker is not None and worker.started(wait) else None

    def settle_map(self) -> None:
        """Wait for the map's child to write the rows of the last committed batch that
        left them to it (`MapWorker.settle`), if any: what a write transaction of the
        log does first, so that it finds the map in step instead of catching it up."""
        worker = self._map_worker
        if worker is not None:
            worker.settle()

    def map_write_pending(self) -> bool:
        """Whether rows an append of this process left to the map's child are not yet
        written (`MapWorker.pending`)."""
        worker = self._map_worker
        return worker is not None and worker.pending()

    def close(self) -> None:
        """Stop the map's child process, if one was started (once its write is done)."""
        with self._lock:
            worker, self._map_worker = self._map_worker, None
        if worker is not None:
            worker.close()

    def public_keys(
        self, key_ids: Iterable[str], read: Callable[[list[str]], dict[str, str]]
    ) -> dict[str, str]:
        """{key id: base64url public key} of the ids among ``key_ids`` the log knows, as
        ``read`` (`Store.public_keys` of the log) answers: the ids met before from
        memory, the others read (one call, or none when all were met). An id the log
        does not know is read again each time (an event may register it)."""
        wanted = set(key_ids)
        with self._lock:
            known = {k: self._keys[k] for k in wanted if k in self._keys}
        missing = sorted(wanted - known.keys())
        if missing:
            found = read(missing)
            with self._lock:
                if len(self._keys) + len(found) > self._max_keys:
                    self._keys.clear()
                self._keys.update(found)
            known.update(found)
        return known

    def edge(self, size: int, root: bytes) -> list[bytes] | None:
        """A copy of the right edge (the perfect subtrees' hashes of ``[0, size)``, left
        to right) kept for the tree of ``size`` entries and root hash ``root``; None
        when the kept one is another tree's."""
        kept = self._edge
        if kept is None or kept[0] != size or kept[1] != root:
            return None
        return list(kept[2])

    def keep_edge(self, size: int, root: bytes, edge: Sequence[bytes]) -> None:
        """Keep ``edge`` as the tree of ``size`` and ``root``'s right edge (call it once
        that tree is committed)."""
        self._edge = (size, root, tuple(edge))
