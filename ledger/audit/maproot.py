"""The map of heads, recomputed from a replay (docs/FORMAT.md section 14, docs/AUDIT.md).

An auditor replays every entry; `MapReplay` follows along with an in-memory
`ledger.map.trie.Trie`, so the map root at every checkpoint size can be compared with
the root the checkpoint signed (`check_roots`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ledger.events import Event, UnitEvent
from ledger.map.commit import root_of
from ledger.map.heads import HeadTracker
from ledger.map.proof import MapProofError
from ledger.map.trie import Head, Trie, new_head, unit_key
from ledger.note import Checkpoint
from ledger.rules.state import PartnerLookup, State


class MapReplay:
    """The map of a log, built entry by entry in log order.

    New heads wait in a dict until a root is asked for: most entries move an actor's
    head that the next entries move again, so the trie takes each key once per root
    instead of once per entry (the canonical trie does not depend on the order of its
    updates, and reads see the waiting heads first).
    """

    def __init__(self) -> None:
        self.trie = Trie()
        self._partners = PartnerLookup(State())
        #: each unit's map key by (GTIN, serial): a unit's later events (a custody log
        #: has several a unit) look it up rather than hash it again. One a unit, as the
        #: replayed state holds one record a unit
        self._unit_keys: dict[tuple[str, str], bytes] = {}
        # one tracker between roots: its changes are the waiting heads (it reads them
        # before the trie), so no tracker or closure is built per entry
        # (`PartnerLookup`, not a method of this object: a reference cycle otherwise,
        # which kept the whole trie after an audit until a full collection)
        self._tracker = HeadTracker(self.trie.get, self._partners)

    def get(self, key: bytes) -> Head | None:
        """The head of ``key`` after the entries added so far (None: not in the map)."""
        head = self._tracker.changes.get(key)
        return head if head is not None else self.trie.get(key)

    def add(self, index: int, leaf_hash: bytes, event: Event, state: State) -> None:
        """The entry at ``index`` (``state``: the replayed state after it) holds ``event``."""
        self._partners.state = state
        if isinstance(event, UnitEvent):  # `HeadTracker.add`'s unit case, its key kept
            unit = event.unit
            found = self._unit_keys.get((unit.gtin, unit.serial))
            if found is None:
                found = self._unit_keys[(unit.gtin, unit.serial)] = unit_key(unit.gtin, unit.serial)
            self._tracker.changes[found] = new_head(index, leaf_hash)
            return
        self._tracker.add(index, leaf_hash, event)

    def root(self) -> bytes:
        """The map root after the entries added so far."""
        waiting = self._tracker.changes
        for key, head in waiting.items():
            self.trie.set(key, head)
        waiting.clear()
        return self.trie.root()


def check_roots(
    checkpoints: Sequence[Checkpoint], replayed: Mapping[int, bytes]
) -> list[tuple[str, int, str]]:
    """The disagreements between signed and replayed map roots, smallest size first.

    Each is ``(code, size, message)``: ``map-root`` (the signed root is not the
    replayed one), ``map-line`` (a malformed or repeated map line), ``map-missing`` (a
    checkpoint without a map root after one with a root: a log cannot stop committing).
    """
    found: list[tuple[str, int, str]] = []
    mapped = False
    for checkpoint in sorted(checkpoints, key=lambda c: c.size):  # two at one size: both
        size = checkpoint.size
        try:
            root = root_of(checkpoint.extensions)
        except MapProofError as e:
            found.append(("map-line", size, f"checkpoint {size}: {e.message}"))
            continue
        if root is None:
            if mapped:
                found.append(("map-missing", size, f"checkpoint {size} commits to no map root"))
            continue
        mapped = True
        if replayed.get(size) != root:
            found.append(
                (
                    "map-root",
                    size,
                    f"checkpoint {size} signs a map root that the replay does not give",
                )
            )
    return found
