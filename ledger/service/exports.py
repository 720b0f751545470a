"""Export use cases of one log: the audit bundle (ledger.audit.bundle) and the offline
unit proof (ledger.verify.unitproof).

Reads the store; writes nothing (the face writes the file).
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger import gs1
from ledger.audit.bundle import write_lines
from ledger.errors import NotFoundError
from ledger.map import proof as map_proof
from ledger.map.trie import unit_key
from ledger.rules.state import ActorRecord, KeyRecord
from ledger.service.cosigning import CosigningService
from ledger.service.mapproofs import checkpoint_and_map_proof
from ledger.service.unitview import switch_entries
from ledger.store import Store
from ledger.stored import StoredEntry
from ledger.verify import unitproof

CHUNK = 1000


class ExportService:
    """Exports of one log, whose checkpoints carry the cosignatures ``cosigning`` stored."""

    def __init__(
        self, store: Store, log: int, verifier_key: str, cosigning: CosigningService
    ) -> None:
        self._store = store
        self._log = log
        self._verifier_key = verifier_key
        self._cosigning = cosigning

    def bundle_lines(self) -> Iterator[str]:
        """Yield the export bundle of the log as it stands now, line by line.

        The bundle covers the log up to its latest checkpoint; checkpoints carry the
        cosignatures the log has stored for them.
        """
        store, log = self._store, self._log
        head = store.head(log)
        stored = store.checkpoints(log)
        notes = [self._cosigning.cosigned_checkpoint(c.size) for c in stored]
        size = max((c.size for c in stored), default=0)
        chain = store.entry(log, size - 1).chain if size else None

        def leaves() -> Iterator[tuple[int, bytes]]:
            for start in range(0, size, CHUNK):
                for stored in store.entries(log, start, min(size, start + CHUNK)):
                    yield stored.index, stored.leaf

        return write_lines(
            head.origin,
            self._verifier_key,
            self._cosigning.witnesses,
            size,
            chain,
            notes,
            leaves(),
        )

    def unit_proof(self, gtin: str, serial: str) -> str:
        """The offline proof of a unit's chain (ledger.verify.unitproof), as text.

        Holds the unit's entries, the log's ``log.upgrade`` if it has one (the switch of
        docs/FORMAT.md section 3.1) and, transitively, the entries that registered their
        signers' keys and every signer's ``actor.register``; proven in the latest
        checkpoint, with the unit's map proof under the map root it signs (the map is kept
        at the latest checkpoint only) and the cosignatures the witnesses gave it. A log
        from before maps uses the checkpoint that covers them all and carries the most
        witness cosignatures (else the latest).

        Raises:
            GS1Error: the GTIN or serial is malformed.
            NotFoundError: the log holds no entry of the unit.
        """
        store, log = self._store, self._log
        unit = gs1.UnitId(gtin=gtin, serial=serial)
        chain = store.unit_entries(log, unit.gtin, unit.serial)
        if not chain:
            raise NotFoundError(f"no unit {unit.gtin}/{unit.serial} in the log", field="unit")
        included = {e.index: e for e in chain}
        # the genesis and the log.upgrade, if any, so a client reads the log's switch
        # from the log itself (as the unit view carries them)
        for found in switch_entries(store, log, store.head(log).size):
            included.setdefault(found.index, found)
        pending, done = {e.key_id for e in included.values()}, set()
        while pending:  # the entries that registered each signing key, up to genesis
            key_id = pending.pop()
            done.add(key_id)
            for record in store.records(log, {KeyRecord: [key_id]}):
                if isinstance(record, KeyRecord) and record.added_index not in included:
                    registering: StoredEntry = store.entry(log, record.added_index)
                    included[registering.index] = registering
                    pending |= {registering.key_id} - done
        signers = {e.signer for e in included.values()}
        for record in store.records(log, {ActorRecord: signers}):  # each signer's role
            if isinstance(record, ActorRecord) and record.registered_index not in included:
                included[record.registered_index] = store.entry(log, record.registered_index)
        # the map of heads is kept at the latest checkpoint only (docs/FORMAT.md 14): a
        # log with a map proves completeness there; one from before maps uses the best
        # cosigned checkpoint that covers the chain
        latest, mapped = checkpoint_and_map_proof(store, log, unit_key(unit.gtin, unit.serial))
        size = latest.size
        if mapped is None:
            best = self._cosigning.best_size(max(included) + 1)
            size = latest.size if best is None else best
        checkpoint = self._cosigning.cosigned_checkpoint(size)
        indices = sorted(i for i in included if i < size)
        proofs = store.inclusion_proofs(log, indices, size)
        entries = [
            unitproof.ProvenEntry(i, included[i].leaf, tuple(p))
            for i, p in zip(indices, proofs, strict=True)
        ]
        proof_bytes = None if mapped is None else map_proof.from_text(mapped)
        return unitproof.encode(unit.gtin, unit.serial, entries, checkpoint, proof_bytes)
