"""Export use cases of one log: the audit bundle (ledger.audit.bundle) and the offline
unit proof (ledger.verify.unitproof).

Reads the store; writes nothing (the face writes the file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ledger import gs1
from ledger.audit.bundle import write_lines
from ledger.errors import NotFoundError, StorageError
from ledger.map.trie import actor_key, unit_key
from ledger.service.cosigning import CosigningService
from ledger.service.mapproofs import checkpoint_and_map_proofs, proven_before, when_proven
from ledger.service.proofentries import proof_entries
from ledger.store import Store
from ledger.verify import unitproof

CHUNK = 1000


class ExportService:
    """Exports of one log, whose checkpoints carry the cosignatures ``cosigning`` stored."""

    def __init__(
        self,
        store: Store,
        log: int,
        verifier_key: str,
        cosigning: CosigningService,
        catch_up: Callable[[], object] | None = None,
    ) -> None:
        self._store = store
        self._log = log
        self._verifier_key = verifier_key
        self._cosigning = cosigning
        #: a writer's catch-up of a stored map left behind its log (`when_proven`)
        self._catch_up = catch_up

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
        chain = store.chain_at(log, size - 1) if size else None

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
        """`_unit_proof`, waiting for the map's rows of a batch the unit is in
        (ledger.service.mapproofs.when_proven).

        Raises:
            GS1Error: the GTIN or serial is malformed.
            NotFoundError: the log holds no entry of the unit.
            MapBehindError: the map stayed behind the unit's latest entry.
        """
        return when_proven(lambda: self._unit_proof(gtin, serial), self._catch_up)

    def _unit_proof(self, gtin: str, serial: str) -> str:
        """The offline proof of a unit's chain (ledger.verify.unitproof), as text.

        Holds the unit's entries, the log's ``log.upgrade`` if it has one (the switch of
        docs/FORMAT.md section 3.1) and, transitively, the entries that registered their
        signers' keys and, with a map, every signer's and recipient's whole registry with
        its map proof (ledger.service.proofentries); proven in the latest
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
        key = unit_key(unit.gtin, unit.serial)
        # the map of heads is kept at the latest checkpoint only (docs/FORMAT.md 14): a
        # log with a map proves completeness there, the unit's and its actors'; one from
        # before maps uses the best cosigned checkpoint that covers the chain
        latest, proofs = checkpoint_and_map_proofs(store, log, [key])
        if not proofs:
            gathered = proof_entries(store, log, chain, store.head(log).size, registries=False)
            best = self._cosigning.best_size(max(gathered.entries) + 1)
            size = latest.size if best is None else best
        else:
            for _ in range(5):  # the actors' proofs under the same root as the unit's
                # the chain read again under this checkpoint: one of the unit's entries
                # that landed since the first read is in the map it signs
                chain = store.unit_entries(log, unit.gtin, unit.serial)
                gathered = proof_entries(store, log, chain, latest.size, registries=True)
                keys = [key, *(actor_key(a) for a in sorted(gathered.actors))]
                stored, proofs = checkpoint_and_map_proofs(store, log, keys)
                if stored.size == latest.size:
                    break
                latest = stored
            else:
                raise StorageError("the log kept growing while its proof was read")
            proven_before([e.index for e in chain], latest)  # the map behind the unit
            size = latest.size
        included = gathered.entries
        checkpoint = self._cosigning.cosigned_checkpoint(size)
        indices = sorted(i for i in included if i < size)
        inclusion = store.inclusion_proofs(log, indices, size)
        entries = [
            unitproof.ProvenEntry(i, included[i].leaf, tuple(p))
            for i, p in zip(indices, inclusion, strict=True)
        ]
        proof_bytes = proofs.get(key)
        actors = {a: proofs[actor_key(a)] for a in gathered.actors} if proofs else {}
        return unitproof.encode(unit.gtin, unit.serial, entries, checkpoint, proof_bytes, actors)
