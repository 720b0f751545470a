"""Map proofs served with the checkpoint whose map root they lead to (docs/FORMAT.md 14).

The store keeps the map at its latest state only, and the checkpoint and the proof are
read apart: an append in between moves the map past the checkpoint. So a proof is
checked against the root the checkpoint signs and both are read again until they agree.
"""

from __future__ import annotations

from ledger import note
from ledger.errors import LedgerError, StorageError
from ledger.map import commit as map_commit
from ledger.map import proof as map_proof
from ledger.store import Store
from ledger.stored import StoredCheckpoint


def checkpoint_and_map_proof(
    store: Store, log: int, key: bytes, attempts: int = 5
) -> tuple[StoredCheckpoint, str | None]:
    """The latest checkpoint and ``key``'s map proof (base64url) under the root it signs;
    None for the proof when the checkpoint signs no map root (a log from before maps).

    Raises:
        NotFoundError: the log has no checkpoint yet.
        StorageError: the map kept moving past the checkpoint for ``attempts`` reads.
    """
    for _ in range(attempts):
        checkpoint = store.checkpoint(log)
        body = checkpoint.note[: checkpoint.note.index("\n\n") + 1]
        root = map_commit.root_of(note.Checkpoint.from_body(body).extensions)
        if root is None:
            return checkpoint, None
        proof = store.map_proof(log, key)
        try:
            map_proof.verify(root, key, proof)
        except LedgerError:
            continue  # the map moved on: read both again
        return checkpoint, map_proof.to_text(proof)
    raise StorageError("the map of heads kept moving past the latest checkpoint")


def checkpoint_and_map_proofs(
    store: Store, log: int, keys: list[bytes], attempts: int = 5
) -> tuple[StoredCheckpoint, dict[bytes, bytes]]:
    """The latest checkpoint and the map proofs of ``keys``, all under the map root it
    signs (read again until they agree); an empty dict for a checkpoint with no map root.

    Raises:
        NotFoundError: the log has no checkpoint yet.
        StorageError: the map kept moving past the checkpoint for ``attempts`` reads.
    """
    for _ in range(attempts):
        checkpoint = store.checkpoint(log)
        body = checkpoint.note[: checkpoint.note.index("\n\n") + 1]
        root = map_commit.root_of(note.Checkpoint.from_body(body).extensions)
        if root is None:
            return checkpoint, {}
        proofs = {key: store.map_proof(log, key) for key in keys}
        try:
            for key, proof in proofs.items():
                map_proof.verify(root, key, proof)
        except LedgerError:
            continue  # the map moved on: read again
        return checkpoint, proofs
    raise StorageError("the map of heads kept moving past the latest checkpoint")
