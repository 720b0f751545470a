"""The map update proof a witness asks for (ledger.map.updateproof; docs/FORMAT.md
section 14, "Map update proofs").

The store keeps the latest map only, so proofs in the OLD map (at the older checkpoint's
size) are computed by undoing: every key moved since the old size is loaded on its path
through the latest map (`ledger.map.partial.PartialTrie`) and put back to its head at
the old size, or removed if it did not exist then. A key's old head comes from the log
itself: a unit's latest entry before the old size (its chain, ``unit_entries``); an
actor's chain over its registry entries before the old size (``registry_indices``, the
same entries the actor view serves). The undone root must equal the map root the old
checkpoint signs; otherwise an append moved the map meanwhile and all is read again.

Undoing was chosen over keeping every checkpoint's changed nodes: it needs no new table
and no storage per entry (the map's budget is 150 bytes per entry), and its cost is
that of the entries since the old size, which the witness reads anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger import merkle
from ledger.entry import Leaf
from ledger.errors import NotFoundError, StorageError, ValidationError
from ledger.events import AuthorizationRevoke, Event
from ledger.map import proof as map_proof
from ledger.map.commit import root_of
from ledger.map.heads import actor_chain, actors_of, unit_of
from ledger.map.partial import PartialTrie
from ledger.map.trie import EMPTY, Head, actor_key
from ledger.map.updateproof import MAX_ENTRIES, Authorization, UpdateProof
from ledger.note import Checkpoint
from ledger.rules.state import ActorRecord, AuthorizationRecord, KeyRecord
from ledger.service.registryview import registry_indices
from ledger.store import Store
from ledger.stored import StoredEntry

#: how far past the old size the latest map may be for the undo (entries)
MAX_UNDO = 5 * MAX_ENTRIES


def map_update_proof(store: Store, log: int, old: int, new: int, attempts: int = 5) -> UpdateProof:
    """The update proof from the checkpoint of size ``old`` to that of size ``new``.

    Raises:
        ValidationError: not ``0 < old < new``, more than `MAX_ENTRIES` entries between
            them, or the latest map too far past ``old`` to undo.
        NotFoundError: no checkpoint at one of the sizes, or the old one signs no map root.
        StorageError: the map kept moving, or undoing did not give the signed old root.
    """
    if not 0 < old < new:
        raise ValidationError("an update proof needs 0 < old < new", field="old")
    if new - old > MAX_ENTRIES:
        raise ValidationError(
            f"an update proof covers at most {MAX_ENTRIES} entries; ask in steps", field="new"
        )
    old_cp = _checkpoint(store, log, old)
    store.checkpoint(log, new)  # NotFoundError: the log signed no checkpoint of that size
    old_map = root_of(old_cp.extensions)
    if old_map is None:
        raise NotFoundError(f"the checkpoint of size {old} signs no map root", field="old")
    entries = store.entries(log, old, new)
    pieces = merkle.range_subtrees(0, old)
    found = store.subtrees(log, pieces)
    compact = tuple(found[p] for p in pieces)
    partners = _Partners(store, log)
    moved = _moved(entries, old_cp.origin, partners)
    grants = _authorizations(store, log, entries, old_cp.origin, partners, old, new)
    for _ in range(attempts):
        head = store.head(log).size
        if head - old > MAX_UNDO:
            raise ValidationError(
                f"the log is more than {MAX_UNDO} entries past size {old}; cosign a newer one",
                field="old",
            )
        later = store.entries(log, new, head)
        everything = _moved([*entries, *later], old_cp.origin, partners)
        trie = PartialTrie.load(lambda ps: store.map_nodes(log, ps), everything)
        for key, who in everything.items():
            before = _old_head(store, log, who, old)
            if before is None:
                trie.remove(key)
            else:
                trie.set(key, before)
        if trie.root() != old_map:
            continue  # an append moved the map between the reads: read again
        proofs = tuple((k, map_proof.encode(trie.path(k))) for k in sorted(moved))
        return UpdateProof(old, new, compact, tuple(e.leaf for e in entries), grants, proofs)
    raise StorageError("the map of heads could not be undone to the old checkpoint's root")


def _checkpoint(store: Store, log: int, size: int) -> Checkpoint:
    note_text = store.checkpoint(log, size).note
    return Checkpoint.from_body(note_text[: note_text.index("\n\n") + 1])


class _Partners:
    """Authorization id -> (partner, index of its authorize entry), from the projections."""

    def __init__(self, store: Store, log: int) -> None:
        self._store, self._log = store, log
        self._known: dict[str, AuthorizationRecord | None] = {}

    def record(self, authorization: str) -> AuthorizationRecord | None:
        if authorization not in self._known:
            got = self._store.records(self._log, {AuthorizationRecord: [authorization]})
            found = [r for r in got if isinstance(r, AuthorizationRecord)]
            self._known[authorization] = found[0] if found else None
        return self._known[authorization]

    def partner(self, authorization: str) -> str | None:
        record = self.record(authorization)
        return None if record is None else record.partner


#: who a map key belongs to: ("unit", gtin, serial) or ("actor", id)
_Who = tuple[str, ...]


def _moved(entries: Sequence[StoredEntry], origin: str, partners: _Partners) -> dict[bytes, _Who]:
    """The keys the entries move, with whose they are."""
    out: dict[bytes, _Who] = {}
    for entry in entries:
        event: Event = Leaf.from_bytes(entry.leaf, origin).signed.event
        unit = unit_of(event)
        if unit is not None and entry.gtin is not None and entry.serial is not None:
            out[unit] = ("unit", entry.gtin, entry.serial)
        for actor in actors_of(event, partners.partner):
            out[actor_key(actor)] = ("actor", actor)
    return out


def _authorizations(
    store: Store,
    log: int,
    entries: Sequence[StoredEntry],
    origin: str,
    partners: _Partners,
    old: int,
    new: int,
) -> tuple[Authorization, ...]:
    """The ``authorize`` entries before ``old`` that revocations among ``entries`` end."""
    indices: set[int] = set()
    for entry in entries:
        event = Leaf.from_bytes(entry.leaf, origin).signed.event
        if isinstance(event, AuthorizationRevoke):
            record = partners.record(event.authorization)
            if record is not None and record.granted_index < old:
                indices.add(record.granted_index)
    ordered = sorted(indices)
    proofs = store.inclusion_proofs(log, ordered, new)
    return tuple(
        Authorization(i, store.entry(log, i).leaf, tuple(p))
        for i, p in zip(ordered, proofs, strict=True)
    )


def _old_head(store: Store, log: int, who: _Who, old: int) -> Head | None:
    """The head of a unit or actor at size ``old`` (None: not in the map then)."""
    if who[0] == "unit":
        chain = [e for e in store.unit_entries(log, who[1], who[2]) if e.index < old]
        return Head(chain[-1].index, chain[-1].leaf_hash) if chain else None
    actor_id = who[1]
    actors = [
        a for a in store.records(log, {ActorRecord: [actor_id]}) if isinstance(a, ActorRecord)
    ]
    if not actors:
        return None
    keys = [
        k for k in store.records_in(log, KeyRecord, "actor", [actor_id]) if isinstance(k, KeyRecord)
    ]
    grants = [
        a
        for a in store.records_in(log, AuthorizationRecord, "partner", [actor_id])
        if isinstance(a, AuthorizationRecord)
    ]
    indices = sorted(i for i in registry_indices(actors[0], keys, grants) if i < old)
    if not indices:
        return None
    chain_hash = EMPTY
    for index in indices:
        chain_hash = actor_chain(chain_hash, store.entry(log, index).leaf_hash)
    return Head(indices[-1], chain_hash)
