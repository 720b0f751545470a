"""Which entries an offline unit proof holds (docs/FORMAT.md section 11).

`proof_entries` gathers, below a checkpoint's size: the unit's chain; the log's switch
entries (genesis, ``log.upgrade``); transitively, the entries that registered each
signing key; and, when the log keeps a map of heads, the whole registry of every actor
that signed an included entry or received the unit (its ``actor.register``, every
``key.rotate``, ``key.recover`` and ``key.recover.cancel``, its ``actor.revoke``, and the
``authorize`` / ``authorization.revoke`` entries naming it as partner: the entries that
move its head, ledger.service.registryview), repeated for the signers of those, so a
client can check each registry whole against the actor's map proof offline
(ledger.verify.proofregistry). Reads the store; no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.entry import Leaf
from ledger.rules.state import ActorRecord, AuthorizationRecord, KeyRecord
from ledger.service.registryview import registry_indices
from ledger.service.unitview import switch_entries
from ledger.store import Store
from ledger.stored import StoredEntry


@dataclass(frozen=True)
class ProofEntries:
    """The entries of a proof by index, and the actors whose whole registries it holds."""

    entries: dict[int, StoredEntry]
    actors: frozenset[str]


def proof_entries(
    store: Store, log: int, chain: list[StoredEntry], size: int, registries: bool
) -> ProofEntries:
    """The entries below ``size`` an offline proof of ``chain`` holds (module docstring);
    ``registries``: also every needed actor's whole registry (a log with a map).

    Raises:
        StorageError: the database failed.
    """
    included = {e.index: e for e in chain if e.index < size}
    for found in switch_entries(store, log, size):
        included.setdefault(found.index, found)
    recipients = {
        str(to)
        for e in included.values()
        if (to := getattr(Leaf.from_bytes(e.leaf).signed.event, "to", None))
    }
    covered: set[str] = set()
    done_keys: set[str] = set()
    while True:
        _add_key_registrations(store, log, included, done_keys, size)
        if not registries:
            break
        needed = ({e.signer for e in included.values()} | recipients) - covered
        if not needed:
            break
        for index in sorted(_registry_of(store, log, needed)):
            if index < size and index not in included:
                included[index] = store.entry(log, index)
        covered |= needed
    if not registries:  # each signer's role, from its actor.register
        signers = {e.signer for e in included.values()}
        for record in store.records(log, {ActorRecord: signers}):
            if isinstance(record, ActorRecord) and record.registered_index not in included:
                if record.registered_index < size:
                    included[record.registered_index] = store.entry(log, record.registered_index)
    return ProofEntries(included, frozenset(covered))


def _add_key_registrations(
    store: Store, log: int, included: dict[int, StoredEntry], done: set[str], size: int
) -> None:
    """Add, transitively, the entry that registered each included entry's signing key."""
    pending = {e.key_id for e in included.values()} - done
    while pending:
        key_id = pending.pop()
        done.add(key_id)
        for record in store.records(log, {KeyRecord: [key_id]}):
            if isinstance(record, KeyRecord) and record.added_index not in included:
                if record.added_index >= size:
                    continue
                registering = store.entry(log, record.added_index)
                included[registering.index] = registering
                pending |= {registering.key_id} - done


def _registry_of(store: Store, log: int, actors: set[str]) -> set[int]:
    """The indices of the registry entries of ``actors`` (ledger.service.registryview)."""
    records = [r for r in store.records(log, {ActorRecord: actors}) if isinstance(r, ActorRecord)]
    keys = [
        k for k in store.records_in(log, KeyRecord, "actor", actors) if isinstance(k, KeyRecord)
    ]
    grants = [
        a
        for a in store.records_in(log, AuthorizationRecord, "partner", actors)
        if isinstance(a, AuthorizationRecord)
    ]
    found: set[int] = set()
    for actor in records:
        found |= registry_indices(
            actor,
            [k for k in keys if k.actor == actor.id],
            [g for g in grants if g.partner == actor.id],
        )
    return found
