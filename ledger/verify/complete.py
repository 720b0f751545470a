"""Is the chain a client was shown the whole chain? (the map of heads, docs/FORMAT.md 14)

Every checkpoint signs the root of the map of heads (its ``map/v1`` line). A served unit
view carries the unit's map proof at the view's checkpoint; `check_complete` checks it:

- the unit is in the map and its head is the last entry shown (index and leaf hash):
  nothing was left out after it, and the chain's ``prev`` links fix everything before;
- or the unit is proven absent and no entry was shown: an honest ``unknown``;
- anything else (no map root signed, a proof that does not reach it, a head that is not
  the last entry shown, entries for a unit the map says does not exist) fails with
  reason ``chain-incomplete``: the server left something out or made something up.

Pure: the caller passes the checkpoint text it already verified (or lets this verify it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger import note
from ledger.errors import LedgerError
from ledger.gs1 import UnitId
from ledger.map import commit as map_commit
from ledger.map import proof as map_proof
from ledger.map.trie import Head, unit_key
from ledger.verify.verdict import Reason, ServedEntry
from ledger.vocab import ReasonCode


@dataclass(frozen=True)
class Completeness:
    """What the map proof showed: the unit's committed head (None: proven absent) at
    the checkpoint ``size``, or the reason it could not be shown."""

    size: int
    head: Head | None
    failure: Reason | None = None


def check_complete(
    unit: UnitId,
    served: Sequence[ServedEntry],
    checkpoint_text: str | None,
    verifier_key: str,
    proof_text: object,
) -> Completeness:
    """Check that ``served`` is the unit's whole chain at the checkpoint (module doc)."""
    try:
        if not isinstance(checkpoint_text, str):
            raise map_proof.MapProofError("the view has no checkpoint", field="checkpoint")
        checkpoint = note.verify_checkpoint(checkpoint_text, note.Verifier.from_text(verifier_key))
    except LedgerError as e:
        return Completeness(0, None, _fail(f"the checkpoint does not verify: {e.message}"))
    try:
        root = map_commit.root_of(checkpoint.extensions)
        if root is None:
            raise map_proof.MapProofError("the checkpoint commits to no map of heads")
        if not isinstance(proof_text, str):
            raise map_proof.MapProofError("the view carries no map proof", field="map_proof")
        head = map_proof.verify(
            root, unit_key(unit.gtin, unit.serial), map_proof.from_text(proof_text)
        )
    except LedgerError as e:
        return Completeness(checkpoint.size, None, _fail(e.message))
    last = max(served, key=lambda s: s.index) if served else None
    if head is None and last is not None:
        return Completeness(
            checkpoint.size, None, _fail("the log's map has no such unit, yet entries were shown")
        )
    if head is not None and (
        last is None or (last.index, last.leaf_hash) != (head.index, head.entry_hash)
    ):
        shown = "none" if last is None else f"entry {last.index}"
        return Completeness(
            checkpoint.size,
            head,
            _fail(
                f"the unit's latest entry is {head.index}, but the view ends at {shown}: "
                "entries were left out",
                committed=head.index,
            ),
        )
    return Completeness(checkpoint.size, head)


def _fail(message: str, **evidence: object) -> Reason:
    return Reason(
        ReasonCode.CHAIN_INCOMPLETE,
        f"the chain shown is not the whole chain: {message}",
        dict(evidence),
    )
