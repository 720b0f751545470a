"""The audit's map of heads (ledger.audit.maproot.MapReplay) gives the roots a plain
`HeadTracker` over a `Trie` gives, entry by entry: its unit keys, kept by (GTIN, serial)
after a unit's first event, are the keys `unit_key` computes."""

from __future__ import annotations

import hashlib

from ledger.audit.maproot import MapReplay
from ledger.events import UnitEvent
from ledger.map.heads import HeadTracker
from ledger.map.trie import Trie
from ledger.rules.state import State
from tests.rules_factories import World


def test_map_replay_roots_equal_a_plain_tracker_over_a_trie() -> None:
    world = World.base("maproot.example/log")
    for serial in ("SN-2", "SN-3"):
        world.commission(serial)
    for serial in ("SN-0001", "SN-2", "SN-3"):
        world.unit_do("handoff", "acme", serial, to="ship-co")
        world.unit_do("receive", "ship-co", serial)
    events = [s.event for s in world.log]
    replay, trie = MapReplay(), Trie()
    state = State()
    for index, event in enumerate(events):
        leaf_hash = hashlib.sha256(b"leaf %d" % index).digest()
        replay.add(index, leaf_hash, event, state)
        tracker = HeadTracker(trie.get, lambda _: None)
        tracker.add(index, leaf_hash, event)
        for key, head in tracker.changes.items():
            trie.set(key, head)
        if index % 7 == 0 or index == len(events) - 1:  # roots now and then, as checkpoints
            assert replay.root() == trie.root()
    units = {(e.unit.gtin, e.unit.serial) for e in events if isinstance(e, UnitEvent)}
    assert len(units) < sum(isinstance(e, UnitEvent) for e in events)  # units seen again
    assert len(replay._unit_keys) == len(units)  # one key a unit
    assert replay.root() == trie.root()
