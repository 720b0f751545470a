"""The bucket probe's map (bench.bucketmap): the same map as ledger.map.update's rows.

Random batches (keys with long shared prefixes, so paths run through many buckets and
chains of one-child nodes cross bucket boundaries; heads of stored keys moved) applied
both to the position rows of `ledger.map.update` and to a `BucketMap` that keeps only
the top buckets between batches and reads the rest from its written rows: after every
batch the roots are equal, the bucket rows decode to exactly the position rows, and
every key's proof read from the bucket rows is the position rows' proof, byte for byte,
and its head looked up in the buckets is the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bucketmap import BucketMap, decode, positions, prove
from ledger.map import update
from ledger.map.trie import EMPTY, Head
from tests.profiles import examples

HEADS = st.builds(Head, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))
#: keys that share long prefixes (deep paths, buckets below the cached ones) or none
CLUSTERED = st.builds(
    lambda prefix, rest: (prefix + rest)[:32],
    st.sampled_from([b"", bytes(3), bytes(5), b"\xff\xff\xff", b"\x80\x00", b"\x0f\xf0"]),
    st.binary(min_size=32, max_size=32),
)


@settings(max_examples=examples(60), deadline=None)
@given(
    batches=st.lists(st.lists(st.tuples(CLUSTERED, HEADS), max_size=20), min_size=1, max_size=4),
    moved=st.lists(st.tuples(st.integers(0, 59), HEADS), max_size=6),
    absent=st.lists(CLUSTERED, max_size=4),
)
def test_buckets_hold_the_same_map_as_position_rows(
    batches: list[list[tuple[bytes, Head]]], moved: list[tuple[int, Head]], absent: list[bytes]
) -> None:
    rows: dict[bytes, update.Stored] = {}  # ledger.map.update's rows, one a position
    stored: dict[bytes, bytes] = {}  # the bucket rows written so far

    def read_rows(wanted: Iterable[bytes]) -> dict[bytes, update.Stored]:
        return {pos: rows[pos] for pos in wanted if pos in rows}

    def read_buckets(wanted: Iterable[bytes]) -> dict[bytes, bytes]:
        return {pos: stored[pos] for pos in wanted if pos in stored}

    buckets = BucketMap(read_buckets)
    seen: list[bytes] = []
    for number, batch in enumerate(batches):
        changes = dict(batch)
        if number:  # move some stored keys' heads
            changes.update((seen[i % len(seen)], head) for i, head in moved if seen)
        seen.extend(key for key in changes if key not in seen)
        expected = update.update(read_rows, changes)
        rows.update(expected.rows)
        assert buckets.update(changes) == expected.root
        written = buckets.rows()
        assert [pos for pos, _ in written] == sorted(pos for pos, _ in written)
        stored.update(written)
        buckets.forget_deep()
        assert positions(stored) == rows
        for key in seen + absent:
            assert prove(read_buckets, key) == update.prove(read_rows, key)
            assert buckets.lookup(key) == update.lookup(read_rows, key)
        buckets.forget_deep()  # lookup read some deep buckets back
    if rows:  # no bucket row is left empty (keys never leave the map)
        assert all(decode(data) for data in stored.values())


def test_an_empty_map_and_an_empty_batch() -> None:
    buckets = BucketMap()
    assert buckets.update({}) == EMPTY
    key = bytes(range(32))
    root = buckets.update({key: Head(7, bytes(32))})
    assert buckets.update({}) == root
    rows = dict(buckets.rows())
    assert positions(rows) == update.update(lambda _ps: {}, {key: Head(7, bytes(32))}).rows
