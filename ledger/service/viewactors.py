"""The actors of a unit view: how each is named, as its brand chose (ledger.service.unitview).

A partner is named by its registered name unless the unit's brand's latest ``authorize``
of it says ``display: role``: then the shopper's page shows only its role ("Courier").
"""

from __future__ import annotations

from ledger.entry import Leaf
from ledger.rules.state import ActorRecord, AuthorizationRecord, UnitRecord
from ledger.shapes import ActorRefShape
from ledger.store import Store
from ledger.vocab import Role


def actor_ref(
    actors: dict[str, ActorRecord], actor_id: str | None, by_role: frozenset[str] = frozenset()
) -> ActorRefShape | None:
    """``actor_id`` as the unit view names it (an unknown actor: its id, no role), with
    ``display: "role"`` when it is one of ``by_role`` (`partners_by_role`)."""
    if actor_id is None:
        return None
    record = actors.get(actor_id)
    if record is None:
        return {"id": actor_id, "name": actor_id, "role": None, "revoked": False}
    shown: ActorRefShape = {
        "id": record.id,
        "name": record.name,
        "role": Role(record.role),
        "revoked": record.revoked_index is not None,
    }
    if actor_id in by_role:
        shown["display"] = "role"
    return shown


def partners_by_role(
    store: Store, log: int, unit: UnitRecord | None, actor_ids: set[str]
) -> frozenset[str]:
    """The partners among ``actor_ids`` whose latest authorization by the unit's brand
    says ``display: role`` (its signed ``authorize``, read from the log)."""
    if unit is None:
        return frozenset()
    latest: dict[str, AuthorizationRecord] = {}
    for a in store.records_in(log, AuthorizationRecord, "partner", sorted(actor_ids)):
        if isinstance(a, AuthorizationRecord) and a.brand == unit.brand:
            if a.partner not in latest or a.granted_index > latest[a.partner].granted_index:
                latest[a.partner] = a
    chosen = set()
    for partner, grant in latest.items():
        event = Leaf.from_bytes(store.entry(log, grant.granted_index).leaf).signed.event
        if getattr(event, "display", None) == "role":
            chosen.add(partner)
    return frozenset(chosen)
