"""ViewCache's remembered log size: never steps back within its TTL.

With read replicas a view's size is its replica's, and replicas lag by different
amounts; a log never shrinks, so a memory-only view must not serve an older size than
one this process read within `SIZE_TTL` (ledger.service.viewcache).
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from ledger.service.viewcache import SIZE_TTL, ViewCache


def test_a_smaller_size_read_later_does_not_replace_a_fresh_larger_one() -> None:
    cache = ViewCache()
    now = time.monotonic()
    cache._remember_size(20, now)
    cache._remember_size(12, now + 0.01)  # a lagging replica answers
    assert cache.known_size() == 20


def test_a_smaller_size_replaces_one_that_went_stale() -> None:
    cache = ViewCache()
    now = time.monotonic()
    cache._remember_size(20, now - SIZE_TTL - 0.5)
    assert cache.known_size() is None
    cache._remember_size(12, now)
    assert cache.known_size() == 12


def test_an_append_here_forgets_the_size() -> None:
    cache = ViewCache()
    cache._remember_size(7, time.monotonic())
    cache.grew()
    assert cache.known_size() is None


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=30))
def test_within_the_ttl_the_known_size_is_the_largest_read(sizes: list[int]) -> None:
    cache = ViewCache()
    now = time.monotonic()
    for offset, size in enumerate(sizes):
        cache._remember_size(size, now + offset * 1e-6)
    assert cache.known_size() == max(sizes)


def test_a_read_that_began_before_an_append_here_is_not_kept() -> None:
    # the read overlapped this process's append: the recall it just wrote may be missing
    cache = ViewCache()
    began = time.monotonic()
    cache.grew()
    cache._remember_size(5, began)
    assert cache.known_size() is None
    cache._remember_size(6, time.monotonic())
    assert cache.known_size() == 6
