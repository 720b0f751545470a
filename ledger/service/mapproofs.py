"""Map proofs served with the checkpoint whose map root they lead to (docs/FORMAT.md 14).

The store keeps the map at its latest state only, and the checkpoint and the proof are
read apart: an append in between moves the map past the checkpoint. And for a moment
after a large batch (or a group of single events) commits, the stored map is behind the
log: the map's child process writes those map rows in a transaction of its own
(ledger.service.mapworker), and
until then the map is that of the log's first ``map_size`` entries (`LogHead.map_size`),
whose checkpoint signs its root. So a proof is checked against the root the latest
checkpoint signs or, while the map is behind, the root the checkpoint at the map's size
signs, and served with the checkpoint it leads to; all is read again until one agrees.
Nothing here is trusted by a client, which checks the proof against the checkpoint it
is served with (ledger.verify.complete).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from ledger import note
from ledger.errors import LedgerError, NotFoundError, StorageError
from ledger.map import commit as map_commit
from ledger.map import proof as map_proof
from ledger.store import Store
from ledger.stored import StoredCheckpoint

T = TypeVar("T")


class MapBehindError(StorageError):
    """What was asked changed in the batch whose map rows the map's child has not
    written yet (ledger.service.mapworker): it cannot be proven complete in any signed
    checkpoint until they land (moments after the batch's commit; the next append, or
    the next start, catches a map up if they never do). Ask again shortly."""

    code = "map-behind"


#: seconds a read waits for the map's child to write the rows the map is behind by
#: (they land ~20-50 ms after the batch's commit) before a writer catches it up itself
MAP_BEHIND_WAIT = 1.0


def proven_before(indices: Iterable[int], checkpoint: StoredCheckpoint) -> None:
    """Refuse to serve a chain (the indices of every entry the log holds of it) proven
    at ``checkpoint`` when the chain has entries at or past it: the unit's records
    already show those entries, which the checkpoint does not prove, so the view would
    be the one of no signed checkpoint (the map behind the log, or an append between
    the reads).

    Raises:
        MapBehindError: an entry of the chain is at or past the checkpoint's size.
    """
    if any(i >= checkpoint.size for i in indices):
        raise MapBehindError(
            f"the unit has entries past the checkpoint of size {checkpoint.size} its map "
            "proof was read at (the map's rows for them are being written): ask again",
            field="map",
        )


def when_proven(
    read: Callable[[], T], catch_up: Callable[[], object] | None, wait: float = MAP_BEHIND_WAIT
) -> T:
    """``read()``, read again every few ms while it raises `MapBehindError`, for up to
    ``wait`` seconds; then (a writer, ``catch_up`` given: it brings the stored map up to
    the log, ledger.service.headmap.catch_up) once more after catching the map up.

    Raises:
        MapBehindError: still behind (a reader that cannot catch the map up).
    """
    deadline = time.monotonic() + wait
    pause = 0.002
    while True:
        try:
            return read()
        except MapBehindError:
            if time.monotonic() >= deadline:
                if catch_up is None:
                    raise
                catch_up()
                return read()
            time.sleep(pause)
            pause = min(2 * pause, 0.05)


def checkpoint_and_map_proof(
    store: Store, log: int, key: bytes, attempts: int = 5
) -> tuple[StoredCheckpoint, str | None]:
    """The latest checkpoint (or, while the stored map is behind the log, the one at the
    map's size) and ``key``'s map proof (base64url) under the root it signs; None for the
    proof when the latest checkpoint signs no map root (a log from before maps).

    Raises:
        NotFoundError: the log has no checkpoint yet.
        StorageError: the map kept moving past the checkpoint for ``attempts`` reads.
    """
    checkpoint, proofs = checkpoint_and_map_proofs(store, log, [key], attempts)
    found = proofs.get(key)
    return checkpoint, None if found is None else map_proof.to_text(found)


def checkpoint_and_map_proofs(
    store: Store, log: int, keys: list[bytes], attempts: int = 5
) -> tuple[StoredCheckpoint, dict[bytes, bytes]]:
    """The checkpoint of `checkpoint_and_map_proof` and the map proofs of ``keys``, all
    under the map root it signs (read again until they agree); an empty dict for a
    latest checkpoint with no map root.

    Raises:
        NotFoundError: the log has no checkpoint yet.
        StorageError: the map kept moving past the checkpoint for ``attempts`` reads.
    """
    for _ in range(attempts):
        checkpoint = store.checkpoint(log)
        root = _map_root(checkpoint)
        if root is None:
            return checkpoint, {}
        proofs = {key: store.map_proof(log, key) for key in keys}
        if _all_lead_to(root, proofs):
            return checkpoint, proofs
        behind = store.head(log).map_size
        if behind is not None and behind < checkpoint.size:
            try:
                at_map = store.checkpoint(log, behind)
            except NotFoundError:
                continue
            root = _map_root(at_map)
            if root is not None and _all_lead_to(root, proofs):
                return at_map, proofs
        # the map moved on (an append, or the child's rows landing): read again
    raise StorageError("the map of heads kept moving past the latest checkpoint")


def _map_root(checkpoint: StoredCheckpoint) -> bytes | None:
    """The map root ``checkpoint`` signs (None: none)."""
    body = checkpoint.note[: checkpoint.note.index("\n\n") + 1]
    return map_commit.root_of(note.Checkpoint.from_body(body).extensions)


def _all_lead_to(root: bytes, proofs: dict[bytes, bytes]) -> bool:
    """Whether every proof (by its key) verifies under the map root ``root``."""
    try:
        for key, proof in proofs.items():
            map_proof.verify(root, key, proof)
    except LedgerError:
        return False
    return True
