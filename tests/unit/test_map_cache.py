"""The appender's cache of the map's top buckets (ledger.service.headmap.MapCache).

- With the cache, batches give the same root and bucket rows as a map read afresh
  from the store at every batch, and the top buckets are read from the store once.
- Two writers, each with its own cache, appending in turn to one stored map (another
  process, say) keep the map right: each drops its cache when the stored root is not its
  own. Without that check the stale cache gives a wrong root (the check is needed).
- A batch updated in the cache but never stored (its transaction rolled back) is
  forgotten at the next open; so is one whose update or write failed half-way.
- A cache that keeps the buckets below its top too (the map's child process) reads
  nothing at all for its next batches while it holds fewer than its limit, drops them
  all past it, and gives the same roots and rows either way; the checks above hold for
  it too.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.map.bucketmap import CACHED_TOP, BucketMap
from ledger.map.buckets import depth_and_path
from ledger.map.trie import Head, Trie
from ledger.map.update import ROOT
from ledger.service.headmap import MapCache
from tests.profiles import examples


class DictStore:
    """The bucket table as a dict; records every position read."""

    def __init__(self) -> None:
        self.rows: dict[bytes, bytes] = {}
        self.asked: list[bytes] = []

    def read(self, positions: list[bytes]) -> dict[bytes, bytes]:
        self.asked += positions
        return {p: self.rows[p] for p in positions if p in self.rows}

    def root(self) -> bytes | None:
        return self.rows.get(ROOT)


def _keys(tag: str, count: int) -> list[bytes]:
    return [hashlib.sha256(f"{tag} {i}".encode()).digest() for i in range(count)]


def _append(store: DictStore, cache: MapCache, changes: dict[bytes, Head]) -> bytes:
    """One append as MapKeeper does it: open (the root check), update, write."""
    buckets = cache.open(store.read, store.root())
    root = buckets.update(changes)
    store.rows.update(buckets.rows())
    buckets.forget_deep(cache.keep_deep)
    return root


def _top_reads(store: DictStore) -> int:
    found = (depth_and_path(p) for p in store.asked)
    return sum(1 for f in found if f is not None and 0 < f[0] <= CACHED_TOP)


def test_the_cache_gives_the_same_rows_and_reads_the_top_once() -> None:
    plain, cached, cache, trie = DictStore(), DictStore(), MapCache(), Trie()
    for batch in range(4):
        changes = {k: Head(batch * 500 + i, k) for i, k in enumerate(_keys(f"b{batch}", 500))}
        cached.asked.clear()
        plain.asked.clear()
        expected = _append(plain, MapCache(), changes)  # a fresh cache: all read
        got = _append(cached, cache, changes)
        for key, head in changes.items():
            trie.set(key, head)
        assert got == expected == trie.root()
        if batch:
            assert _top_reads(cached) == 0 < _top_reads(plain)
    assert plain.rows == cached.rows


def test_a_cache_keeping_the_deep_buckets_reads_nothing_until_its_limit() -> None:
    plain, store, trie = DictStore(), DictStore(), Trie()
    whole, limited = MapCache(keep_deep=10**6), MapCache(keep_deep=100)
    other = DictStore()
    for batch in range(4):
        # 5,000 keys a batch: a map deep enough to have buckets below the cached top
        changes = {k: Head(batch * 5000 + i, k) for i, k in enumerate(_keys(f"d{batch}", 5000))}
        store.asked.clear()
        other.asked.clear()
        plain.asked.clear()
        expected = _append(plain, MapCache(), changes)
        got = _append(store, whole, changes)
        also = _append(other, limited, changes)
        for key, head in changes.items():
            trie.set(key, head)
        assert got == also == expected == trie.root()
        if batch:
            assert _deep_reads(plain) > 0  # a map read afresh reads buckets below the top
            assert store.asked == []  # ... this one nothing, not even those
            assert _deep_reads(other) > 0  # past its limit: dropped, read again
        assert whole.open(store.read, store.root()).root() == got
    assert store.rows == other.rows == plain.rows


def test_a_cache_keeping_the_deep_buckets_forgets_a_batch_never_stored() -> None:
    """The child's cases, on a map with buckets below the top: a batch updated in the
    cache whose rows were never stored (the append rolled back, or the child's write
    came back stale and it dropped the cache) leaves no deep bucket behind that the
    next batch would build on."""
    store, cache, trie = DictStore(), MapCache(keep_deep=10**6), Trie()
    for tag in ("k1", "k2"):
        kept = {k: Head(i, k) for i, k in enumerate(_keys(tag, 10_000))}
        _append(store, cache, kept)
        for key, head in kept.items():
            trie.set(key, head)
    for tag, stale in (("lost", False), ("stale", True)):
        lost = cache.open(store.read, store.root())
        lost.update({k: Head(7, k) for k in _keys(tag, 2_000)})
        lost.rows()  # updated in the cache, never stored
        if stale:
            cache.drop()
        after = {k: Head(9, k) for k in _keys(f"after {tag}", 2_000)}
        store.asked.clear()
        root = _append(store, cache, after)
        assert _deep_reads(store) > 0  # read again, not taken from the lost batch
        for key, head in after.items():
            trie.set(key, head)
        assert root == trie.root()


def _deep_reads(store: DictStore) -> int:
    found = (depth_and_path(p) for p in store.asked)
    return sum(1 for f in found if f is not None and f[0] > CACHED_TOP)


@settings(max_examples=examples(30), deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(1, 60)), min_size=1, max_size=8),
    st.sampled_from((0, 10**6)),
)
def test_two_writers_in_turn_each_drop_a_stale_cache(
    turns: list[tuple[bool, int]], keep_deep: int
) -> None:
    store, trie = DictStore(), Trie()
    caches = (MapCache(keep_deep=keep_deep), MapCache(keep_deep=keep_deep))
    rng = random.Random(len(turns))
    pool = _keys("pool", 80)
    for index, (second, count) in enumerate(turns):
        changes = {rng.choice(pool): Head(index * 100 + i, pool[i]) for i in range(count)}
        root = _append(store, caches[second], changes)
        for key, head in changes.items():
            trie.set(key, head)
        assert root == trie.root()


def test_without_the_root_check_a_stale_cache_gives_a_wrong_root() -> None:
    store, trie = DictStore(), Trie()
    first = BucketMap(store.read)
    for tag, who in (("a", first), ("b", None), ("c", first)):
        changes = {k: Head(i, k) for i, k in enumerate(_keys(tag, 50))}
        if who is None:  # another writer, through its own cache
            _append(store, MapCache(), changes)
            root = trie.root()
        else:  # the first writer's map, never checked against the store
            root = who.update(changes)
            store.rows.update(who.rows())
        for key, head in changes.items():
            trie.set(key, head)
    assert root != trie.root()  # the last batch trusted buckets "b" had replaced


def test_a_rolled_back_batch_is_forgotten_at_the_next_open() -> None:
    store, cache, trie = DictStore(), MapCache(), Trie()
    kept = {k: Head(i, k) for i, k in enumerate(_keys("kept", 200))}
    _append(store, cache, kept)
    for key, head in kept.items():
        trie.set(key, head)
    lost = cache.open(store.read, store.root())
    lost.update({k: Head(7, k) for k in _keys("lost", 200)})
    lost.rows()  # updated in the cache, but the transaction rolled back: never stored
    after = {k: Head(9, k) for k in _keys("after", 200)}
    root = _append(store, cache, after)
    for key, head in after.items():
        trie.set(key, head)
    assert root == trie.root()


def test_an_update_that_failed_half_way_is_dropped() -> None:
    store, cache, trie = DictStore(), MapCache(), Trie()
    kept = {k: Head(i, k) for i, k in enumerate(_keys("kept", 300))}
    _append(store, cache, kept)
    for key, head in kept.items():
        trie.set(key, head)
    half = cache.open(store.read, store.root())
    half.update({k: Head(5, k) for k in _keys("half", 100)})  # rows never taken
    cache.drop()
    assert cache.open(store.read, store.root()) is not half
    root = _append(store, cache, {})
    assert root == trie.root()


def test_a_cache_still_marked_changed_is_not_handed_out() -> None:
    store, cache = DictStore(), MapCache()
    first = cache.open(store.read, store.root())
    first.update({bytes(32): Head(1, bytes(32))})  # changed, never written (no rows())
    with pytest.raises(AssertionError):
        assert cache.open(store.read, store.root()) is first


def test_the_cache_vouches_only_for_the_root_it_gave_at_that_size() -> None:
    """`MapCache.signed` lets an append skip reading back the last checkpoint only when
    the stored root is the one this cache gave, for that very size: a rolled-back
    append, another writer's root, a drop or another size each bring the check back."""
    store, cache = DictStore(), MapCache()
    root = _append(store, cache, {k: Head(i, k) for i, k in enumerate(_keys("a", 50))})
    cache.remember(50, root)
    opened = cache.open(store.read, store.root())
    assert cache.signed(50, opened.root())
    assert not cache.signed(51, opened.root())  # entries that moved no key: other size
    assert not cache.signed(50, bytes(32))
    # another writer moved the stored root: the cache starts afresh, vouching for nothing
    other = MapCache()
    _append(store, other, {k: Head(9, k) for k in _keys("b", 10)})
    reopened = cache.open(store.read, store.root())
    assert reopened is not opened and not cache.signed(50, root)
    assert not cache.signed(50, reopened.root())
    # a rolled-back update: its root was remembered but never stored
    cache.remember(60, reopened.update({k: Head(3, k) for k in _keys("c", 10)}))
    reopened.rows()
    after = cache.open(store.read, store.root())
    assert not cache.signed(60, after.root())
    cache.remember(60, after.root())
    cache.drop()
    assert not cache.signed(60, after.root())
