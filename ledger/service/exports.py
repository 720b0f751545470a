"""Export use cases over a `Ledger`: the audit bundle (ledger.audit.bundle) and the offline
unit proof (ledger.verify.unitproof).

Reads through the service and the store; writes nothing (the face writes the file).
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger import gs1
from ledger.audit.bundle import write_lines
from ledger.errors import NotFoundError
from ledger.rules.state import KeyRecord
from ledger.service.cosigning import cosigned_checkpoint
from ledger.service.ledger import Ledger
from ledger.stored import StoredEntry
from ledger.verify import unitproof

CHUNK = 1000


def bundle_lines(ledger: Ledger) -> Iterator[str]:
    """Yield the export bundle of the ledger's log as it stands now, line by line.

    The bundle covers the log up to its latest checkpoint; checkpoints carry the
    cosignatures the log has stored for them.
    """
    head = ledger.head()
    stored = ledger.store.checkpoints(ledger.log)
    notes = [cosigned_checkpoint(ledger, c.size) for c in stored]
    size = max((c.size for c in stored), default=0)
    chain = ledger.entry(size - 1).chain if size else None

    def leaves() -> Iterator[tuple[int, bytes]]:
        for start in range(0, size, CHUNK):
            for stored in ledger.entries(start, min(size, start + CHUNK)):
                yield stored.index, stored.leaf

    return write_lines(
        head.origin,
        ledger.verifier_key,
        ledger.config.witnesses,
        size,
        chain,
        notes,
        leaves(),
    )


def unit_proof(ledger: Ledger, gtin: str, serial: str) -> str:
    """The offline proof of a unit's chain (ledger.verify.unitproof), as text.

    Holds the unit's entries and, transitively, the entries that registered their
    signers' keys; proven in the checkpoint that covers them all and carries the most
    witness cosignatures (else the latest checkpoint).

    Raises:
        GS1Error: the GTIN or serial is malformed.
        NotFoundError: the log holds no entry of the unit.
    """
    unit = gs1.UnitId(gtin=gtin, serial=serial)
    chain = ledger.unit_entries(unit.gtin, unit.serial)
    if not chain:
        raise NotFoundError(f"no unit {unit.gtin}/{unit.serial} in the log", field="unit")
    included = {e.index: e for e in chain}
    pending, done = {e.key_id for e in chain}, set()
    while pending:  # the entries that registered each signing key, up to genesis
        key_id = pending.pop()
        done.add(key_id)
        for record in ledger.store.records(ledger.log, {KeyRecord: [key_id]}):
            if isinstance(record, KeyRecord) and record.added_index not in included:
                registering: StoredEntry = ledger.entry(record.added_index)
                included[registering.index] = registering
                pending |= {registering.key_id} - done
    needed = max(included) + 1
    size = ledger.store.cosignatures.best_size(ledger.log, needed)
    if size is None:  # no cosigned checkpoint covers the chain: the latest one
        size = ledger.store.checkpoint(ledger.log).size
    checkpoint = cosigned_checkpoint(ledger, size)
    indices = sorted(included)
    proofs = ledger.store.inclusion_proofs(ledger.log, indices, size)
    entries = [
        unitproof.ProvenEntry(i, included[i].leaf, tuple(p))
        for i, p in zip(indices, proofs, strict=True)
    ]
    return unitproof.encode(unit.gtin, unit.serial, entries, checkpoint)
