"""An actor's registry, proven whole: its registry entries, their inclusion proofs and
the actor's map proof, at the latest checkpoint (docs/FORMAT.md section 14).

The registry entries of an actor are those that move its head in the map of heads
(ledger.map.heads): its ``actor.register``, ``actor.revoke``, ``key.rotate``,
``key.recover`` and ``key.recover.cancel``, and the ``authorize`` and
``authorization.revoke`` entries naming it as partner. Their indices come from the
projections; a client recomputes the actor chain over them and compares it with the
head the map proof shows, so a registry entry the server leaves out (a revocation, a
key removal) is caught (ledger.verify.registry).
"""

from __future__ import annotations

from datetime import datetime

from ledger import rules
from ledger.entry import Leaf
from ledger.errors import NotFoundError
from ledger.map.trie import actor_key
from ledger.rules.state import ActorRecord, AuthorizationRecord, KeyRecord
from ledger.service.mapproofs import checkpoint_and_map_proof
from ledger.service.unitview import entry_json
from ledger.shapes import ActorShape, RegistryShape
from ledger.store import Store
from ledger.verify.verdict import ServedEntry
from ledger.vocab import Role


def registry_indices(
    actor: ActorRecord, keys: list[KeyRecord], authorizations: list[AuthorizationRecord]
) -> set[int]:
    """The log indices of the actor's registry entries, from its projections."""
    found = {actor.registered_index}
    if actor.revoked_index is not None:
        found.add(actor.revoked_index)
    for key in keys:
        found |= {
            i for i in (key.added_index, key.removed_index, key.recovered_index) if i is not None
        }
    for grant in authorizations:
        found |= {i for i in (grant.granted_index, grant.revoked_index) if i is not None}
    return found


def registry_view(
    store: Store, log: int, actor: ActorRecord, keys: list[KeyRecord]
) -> RegistryShape:
    """The actor's registry entries with inclusion proofs, the checkpoint they are proven
    in and the actor's map proof under the map root it signs."""
    checkpoint, proof_text = checkpoint_and_map_proof(store, log, actor_key(actor.id))
    grants = [
        a
        for a in store.records_in(log, AuthorizationRecord, "partner", [actor.id])
        if isinstance(a, AuthorizationRecord)
    ]
    indices = sorted(i for i in registry_indices(actor, keys, grants) if i < checkpoint.size)
    proofs = store.inclusion_proofs(log, indices, checkpoint.size)
    entries = []
    for index, proof in zip(indices, proofs, strict=True):
        stored = store.entry(log, index)
        served = ServedEntry(index, stored.leaf, stored.leaf_hash, proof)
        entries.append(entry_json(served, Leaf.from_bytes(stored.leaf)))
    return {"checkpoint": checkpoint.note, "map_proof": proof_text, "entries": entries}


def actor_view(store: Store, log: int, actor_id: str, now: datetime) -> ActorShape:
    """An actor of log ``log`` with its role, name, prefixes, registration, revocation
    and keys, the recoveries of its keys still pending at ``now`` (public, so the actor
    and its monitor see them while they can be cancelled), and its registry proven
    whole (`registry_view`).

    Raises:
        NotFoundError: no such actor.
    """
    found = store.records(log, {ActorRecord: [actor_id]})
    actor = next((a for a in found if isinstance(a, ActorRecord)), None)
    if actor is None:
        raise NotFoundError(f"no actor {actor_id!r}", field="actor_id")
    keys = sorted(
        (
            k
            for k in store.records_in(log, KeyRecord, "actor", [actor_id])
            if isinstance(k, KeyRecord)
        ),
        key=lambda k: k.added_index,
    )
    return {
        "id": actor.id,
        "role": Role(actor.role),
        "name": actor.name,
        "prefixes": list(actor.prefixes),
        "registered_index": actor.registered_index,
        "revoked_index": actor.revoked_index,
        "keys": [
            {
                "key_id": k.key_id,
                "public_key": k.public_key,
                "added_index": k.added_index,
                "removed_index": k.removed_index,
                "scope": list(k.scope),
                "recovered_index": k.recovered_index,
                "effective": k.effective,
                "compromised_since": k.compromised_since,
            }
            for k in keys
        ],
        "recoveries": [
            {
                "key_id": k.key_id,
                "public_key": k.public_key,
                "recovered_index": pending[0],
                "effective": pending[1],
            }
            for k in keys
            if (pending := rules.pending_recovery(k, now)) is not None
        ],
        "registry": registry_view(store, log, actor, keys),
    }
