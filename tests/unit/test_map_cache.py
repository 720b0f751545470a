"""The appender's cache of the map's top levels (ledger.service.headmap.MapCache).

- With the cache, a batch gives the same root and rows as without it, and reads the
  top levels from the store only once.
- Two writers, each with its own cache, appending in turn to one stored map (another
  process, say) keep the map right: each drops its cache when the stored root is not its
  own. Without that check the stale cache gives a wrong root (the check is needed).
- The positions an update reports empty hold no row.
- A batch whose nodes were cached but never stored (its transaction rolled back) is
  forgotten at the next check.
"""

from __future__ import annotations

import hashlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.map import update
from ledger.map.trie import Head, Trie
from ledger.service.headmap import CACHED_BYTES, MapCache


class DictStore:
    """The map table as a dict; records every position read."""

    def __init__(self) -> None:
        self.rows: dict[bytes, update.Stored] = {}
        self.asked: list[bytes] = []

    def read(self, positions):  # type: ignore[no-untyped-def]
        positions = list(positions)
        self.asked += positions
        return {p: self.rows[p] for p in positions if p in self.rows}

    def root(self) -> update.Stored | None:
        return self.rows.get(update.ROOT)


def _keys(tag: str, count: int) -> list[bytes]:
    return [hashlib.sha256(f"{tag} {i}".encode()).digest() for i in range(count)]


def _append(store: DictStore, cache: MapCache, changes: dict[bytes, Head], check: bool = True):  # type: ignore[no-untyped-def]
    """One append as MapKeeper does it: check the root, update through the cache, write."""
    if check:
        cache.check(store.root())
    result = update.update(cache.reader(store.read), changes)
    store.rows.update(result.rows)
    cache.wrote(result)
    return result


def test_the_cache_gives_the_same_rows_and_reads_the_top_once() -> None:
    plain, cached, cache, trie = DictStore(), DictStore(), MapCache(), Trie()
    for batch in range(4):
        changes = {k: Head(batch * 500 + i, k) for i, k in enumerate(_keys(f"b{batch}", 500))}
        cached.asked.clear()
        plain.asked.clear()
        expected = update.update(plain.read, changes)
        plain.rows.update(expected.rows)
        got = _append(cached, cache, changes)
        for key, head in changes.items():
            trie.set(key, head)
        assert got.root == expected.root == trie.root()
        assert got.rows == expected.rows
        top = [len([p for p in s.asked if len(p) <= CACHED_BYTES]) for s in (plain, cached)]
        if batch:  # the top levels were read or written by an earlier batch (empty
            # places a leaf was pushed past were not, so a few are read)
            assert top[1] * 5 < top[0], top
    assert plain.rows == cached.rows


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 60)), min_size=1, max_size=8))
def test_two_writers_in_turn_each_drop_a_stale_cache(turns: list[tuple[bool, int]]) -> None:
    store, trie, caches = DictStore(), Trie(), (MapCache(), MapCache())
    rng = random.Random(len(turns))
    pool = _keys("pool", 80)
    for index, (second, count) in enumerate(turns):
        changes = {rng.choice(pool): Head(index * 100 + i, pool[i]) for i in range(count)}
        result = _append(store, caches[second], changes)
        for key, head in changes.items():
            trie.set(key, head)
        assert result.root == trie.root()
        assert not set(result.empty) & store.rows.keys()  # what it calls empty is


def test_without_the_root_check_a_stale_cache_gives_a_wrong_root() -> None:
    store, first, second, trie = DictStore(), MapCache(), MapCache(), Trie()
    for who, tag in ((first, "a"), (second, "b"), (first, "c")):
        changes = {k: Head(i, k) for i, k in enumerate(_keys(tag, 50))}
        result = _append(store, who, changes, check=who is not first or tag == "a")
        for key, head in changes.items():
            trie.set(key, head)
    assert result.root != trie.root()  # the last batch trusted nodes "b" had replaced


def test_a_rolled_back_batch_is_forgotten_at_the_next_check() -> None:
    store, cache, trie = DictStore(), MapCache(), Trie()
    kept = {k: Head(i, k) for i, k in enumerate(_keys("kept", 200))}
    _append(store, cache, kept)
    for key, head in kept.items():
        trie.set(key, head)
    cache.check(store.root())
    lost = update.update(cache.reader(store.read), {k: Head(7, k) for k in _keys("lost", 200)})
    cache.wrote(lost)  # cached, but the transaction rolled back: never stored
    after = {k: Head(9, k) for k in _keys("after", 200)}
    result = _append(store, cache, after)
    for key, head in after.items():
        trie.set(key, head)
    assert result.root == trie.root()
