"""The map stored as buckets (ledger.map.buckets, ledger.map.bucketmap): the same map
as ledger.map.update's rows, one node a position.

Random batches (keys with long shared prefixes, so paths run through many buckets and
chains of one-child nodes cross bucket boundaries; heads of stored keys moved) applied
both to the position rows of `ledger.map.update` and to a `BucketMap` that keeps only
the top buckets between batches (every other batch none: a fresh one) and reads the
rest from its written rows: after every
batch the roots are equal, the bucket rows decode to exactly the position rows, and
every key's proof read from the bucket rows is the position rows' proof, byte for byte,
and its head looked up in the buckets is the same. A bucket row decodes to what was
encoded, and a damaged one is refused with its own error, never an IndexError.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.map import trie, update
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import (
    CorruptBucketError,
    Node,
    bucket_of,
    decode,
    encode,
    group,
    internal,
    is_leaf,
    leaf_head,
    leaf_key,
    make_leaf,
    positions,
    prove,
    stored,
    value,
)
from ledger.map.trie import EMPTY, Head
from tests import map_reference
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
        if number % 2 and update.ROOT in stored:  # a fresh map reading even its top
            buckets = BucketMap(read_buckets, decode(stored[update.ROOT]))
        expected = update.update(read_rows, changes)
        rows.update(expected.rows)
        assert buckets.update(changes) == expected.root
        written = buckets.rows()
        assert [pos for pos, _ in written] == sorted(pos for pos, _ in written)
        stored.update(written)
        buckets.forget_deep()
        assert positions(stored) == rows
        for key in seen + absent:
            assert prove(read_buckets, key) == map_reference.prove(read_rows, key)
            assert buckets.lookup(key) == map_reference.lookup(read_rows, key)
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


#: a node before it has a slot: an internal node's hash, or a leaf's key and head
NODES = st.one_of(
    st.binary(min_size=32, max_size=32),
    st.tuples(st.binary(min_size=32, max_size=32), HEADS),
)


def _bucket(nodes: dict[int, bytes | tuple[bytes, Head]]) -> dict[int, Node]:
    """``nodes`` as a bucket: each node its entry at its slot."""
    return {
        slot: internal(slot, node) if isinstance(node, bytes) else make_leaf(slot, *node)
        for slot, node in nodes.items()
    }


@settings(max_examples=examples(100), deadline=None)
@given(st.dictionaries(st.integers(1, 31), NODES, max_size=31).map(_bucket))
def test_a_bucket_row_decodes_to_what_was_encoded(bucket: dict[int, Node]) -> None:
    assert decode(encode(bucket)) == bucket
    for slot, node in bucket.items():  # what the update reads of a node
        if is_leaf(node):
            key, head = leaf_key(node), leaf_head(node)
            assert value(node) == trie.leaf_hash(key, head)
            assert stored(node) == update.Stored(None, key, head)
        else:
            assert value(node) == node[1:] and stored(node) == update.Stored(node[1:])
        assert node[0] & 0x7F == slot
    assert value(None) == EMPTY


@settings(max_examples=examples(100), deadline=None)
@given(st.dictionaries(st.integers(1, 31), NODES, min_size=1, max_size=31).map(_bucket), st.data())
def test_a_damaged_row_is_refused_with_its_own_error(
    bucket: dict[int, Node], data: st.DataObject
) -> None:
    row = encode(bucket)
    cut = data.draw(st.integers(1, len(row) - 1))
    damaged = [row[:cut]]  # cut short: the last entry is partial unless cut between
    damaged.append(bytes((0,)) + row[1:])  # slot 0
    damaged.append(bytes((row[0] | 0x60,)) + row[1:])  # a slot past 31
    for bad in damaged:
        try:
            got = decode(bad)
        except CorruptBucketError as e:
            assert e.code == "map-bucket-corrupt"
            continue
        assert bad == row[:cut] and encode(got) == bad  # a cut between whole entries


def test_rows_and_positions_convert_both_ways() -> None:
    buckets = BucketMap()
    changes = {bytes([i]) * 32: Head(i, bytes(32)) for i in range(40)}
    buckets.update(changes)
    rows = dict(buckets.rows())
    nodes = positions(rows)
    assert nodes == update.update(lambda _ps: {}, changes).rows
    assert positions(group(nodes)) == nodes
    assert all(bucket_of(pos) is not None for pos in nodes)
    assert bucket_of(b"") is None and bucket_of(b"\x00") is None and bucket_of(bytes(40)) is None
    with pytest.raises(CorruptBucketError):
        positions({b"\x40": rows[update.ROOT]})  # depth 1: not a bucket's top


def test_a_missing_bucket_below_an_internal_node_is_a_store_error() -> None:
    buckets = BucketMap()
    changes = {bytes([i]) + bytes(31): Head(i, bytes(32)) for i in range(3)}  # deep
    buckets.update(changes)
    rows = dict(buckets.rows())
    rows = {update.ROOT: rows[update.ROOT]}  # every bucket below the root lost
    with pytest.raises(CorruptBucketError):
        prove(lambda ps: {p: rows[p] for p in ps if p in rows}, bytes(32))
    fresh = BucketMap(lambda ps: {p: rows[p] for p in ps if p in rows}, decode(rows[update.ROOT]))
    with pytest.raises(CorruptBucketError):
        fresh.lookup(bytes(32))
    with pytest.raises(CorruptBucketError):
        fresh.update({bytes(32): Head(9, bytes(32))})


def test_keys_apart_only_in_their_last_bit() -> None:
    """Leaves at depth 256, updated again (`ledger.map.update` once read past them)."""
    low, high = bytes(32), bytes(31) + b"\x01"
    rows: dict[bytes, update.Stored] = {}
    buckets = BucketMap()
    for changes in ({low: Head(1, low), high: Head(2, low)}, {low: Head(3, high)}):
        expected = update.update(lambda ps: {p: rows[p] for p in ps if p in rows}, changes)
        rows.update(expected.rows)
        assert buckets.update(changes) == expected.root
        stored = dict(buckets.rows())
        assert positions(stored) == {p: rows[p] for p in positions(stored)}
    assert buckets.lookup(low) == Head(3, high)
