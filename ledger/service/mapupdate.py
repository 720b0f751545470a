"""The map update proof a witness asks for (ledger.map.updateproof; docs/FORMAT.md
section 14, "Map update proofs").

The store keeps the latest map only, so proofs in the OLD map (at the older checkpoint's
size) are computed by undoing: every key moved since the old size is loaded on its path
through the latest map (`ledger.map.partial.PartialTrie`) and put back to its head at
the old size, or removed if it did not exist then. A key's old head comes from the log
itself: a unit's is the entry that the first event moving it since names as ``prev``
(the rules make it the unit's head; a commission names none), found in one query; an
actor's is its chain over its registry entries before the old size
(``registry_indices``, the same entries the actor view serves). The undone root must
equal the map root the old checkpoint signs; otherwise an append moved the map
meanwhile and all is read again.

Undoing was chosen over keeping every checkpoint's changed nodes: it needs no new table
and no storage per entry (the map's budget is 150 bytes per entry), and its cost is
that of the entries since the old size, which the witness reads anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger import codec, merkle
from ledger.entry import Leaf
from ledger.errors import NotFoundError, StorageError, ValidationError
from ledger.events import AuthorizationRevoke, Event, UnitEvent
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
    events = [Leaf.from_bytes(e.leaf, old_cp.origin).signed.event for e in entries]
    moved = _moved(events, partners)
    grants = _authorizations(store, log, events, partners, old, new)
    for _ in range(attempts):
        head = store.head(log).size
        if head - old > MAX_UNDO:
            raise ValidationError(
                f"the log is more than {MAX_UNDO} entries past size {old}; cosign a newer one",
                field="old",
            )
        later = store.entries(log, new, head)
        events += [Leaf.from_bytes(e.leaf, old_cp.origin).signed.event for e in later]
        everything = _moved(events, partners)
        units = _unit_heads(store, log, everything)
        trie = PartialTrie.load(lambda ps: store.map_nodes(log, ps), everything)
        for key, who in everything.items():
            before = units[key] if who[0] == "unit" else _old_head(store, log, who[1], old)
            if before is None:
                trie.remove(key)
            else:
                trie.set(key, before)
        if trie.root() != old_map:
            continue  # an append moved the map between the reads: read again
        proofs = tuple((k, map_proof.encode(trie.path(k))) for k in sorted(moved))
        return UpdateProof(old, new, compact, tuple(e.leaf for e in entries), grants, proofs)
        events = events[: new - old]
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


#: whose a map key is: ("unit", the ``prev`` of the first event that moves it since the
#: old size, "" for none) or ("actor", its id)
_Who = tuple[str, str]


def _moved(events: Sequence[Event], partners: _Partners) -> dict[bytes, _Who]:
    """The keys the events (in log order) move, with whose they are."""
    out: dict[bytes, _Who] = {}
    for event in events:
        unit = unit_of(event)
        if unit is not None and unit not in out and isinstance(event, UnitEvent):
            out[unit] = ("unit", event.prev or "")
        for actor in actors_of(event, partners.partner):
            out[actor_key(actor)] = ("actor", actor)
    return out


def _unit_heads(store: Store, log: int, moved: dict[bytes, _Who]) -> dict[bytes, Head | None]:
    """Each moved unit's head at the old size: the entry its first event since then names
    as ``prev`` (the rules require it to be the unit's head), or none (a commission).

    Raises:
        StorageError: a ``prev`` that is not in the log.
    """
    prevs = {k: who[1] for k, who in moved.items() if who[0] == "unit"}
    hashes = {p: codec.b64url_decode(p, field="prev") for p in prevs.values() if p}
    found = store.find_event_hashes(log, list(hashes.values()))
    out: dict[bytes, Head | None] = {}
    for key, prev in prevs.items():
        if not prev:
            out[key] = None
            continue
        if hashes[prev] not in found:
            raise StorageError("a unit event's prev is not in the log")
        index, leaf_hash = found[hashes[prev]]
        out[key] = Head(index, leaf_hash)
    return out


def _authorizations(
    store: Store,
    log: int,
    events: Sequence[Event],
    partners: _Partners,
    old: int,
    new: int,
) -> tuple[Authorization, ...]:
    """The ``authorize`` entries before ``old`` that revocations among ``events`` end."""
    indices: set[int] = set()
    for event in events:
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


def _old_head(store: Store, log: int, actor_id: str, old: int) -> Head | None:
    """An actor's head at size ``old``: its chain over its registry entries before
    ``old`` (None: it had none, so it was not in the map)."""
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
