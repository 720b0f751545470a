"""ledger.tiles, the C2SP tlog-tiles formats: index paths round-trip and only the
canonical spelling parses; widths follow the specification's example; entry bundles
round-trip and a truncated one is refused; and a tree's root computed from tiles equals
RFC 9162's, while any changed byte of any tile used changes it."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle, tiles
from ledger.errors import EncodingError, NotFoundError
from tests.profiles import examples


def _leaves(size: int) -> list[bytes]:
    return [merkle.leaf_hash(b"entry %d" % i) for i in range(size)]


def _server(leaf_hashes: list[bytes]) -> tiles.TileFetcher:
    """Tiles as an honest log serves them: the MTH of each range of the tile."""

    def fetch(level: int, index: int, width: int) -> bytes:
        ranges = tiles.tile_ranges(level, index, width)
        return b"".join(merkle.root(leaf_hashes[a:b]) for a, b in ranges)

    return fetch


@given(st.integers(min_value=0, max_value=2**64))
def test_index_paths_round_trip(index: int) -> None:
    path = tiles.encode_index(index)
    assert tiles.parse_index_path(path) == (index, 256)
    assert tiles.parse_index_path(path + ".p/7") == (index, 7)
    assert all(len(part.lstrip("x")) == 3 for part in path.split("/"))


def test_the_specification_example() -> None:
    assert tiles.encode_index(1234067) == "x001/x234/067"
    assert tiles.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tiles.tile_path("entries", 5, 17) == "tile/entries/005.p/17"
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of
    # width 17, and one partial level 2 tile of width 1"
    size = 70_000
    assert [tiles.width_at(0, i, size) for i in (0, 272, 273, 274)] == [256, 256, 112, 0]
    assert [tiles.width_at(1, i, size) for i in (0, 1, 2)] == [256, 17, 0]
    assert [tiles.width_at(2, 0, size), tiles.width_at(3, 0, size)] == [1, 0]
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level
    # 1 tile of width 1"
    assert [tiles.width_at(0, 0, 256), tiles.width_at(1, 0, 256)] == [256, 1]


@pytest.mark.parametrize(
    "path",
    ["", "5", "05", "0005", "x000/005", "x1/005", "005/", "/005", "x001/x234/067/", "x001x/234",
     "005.p/0", "005.p/256", "005.p/017", "005.p/", "005.p/x", ".p/3", "00a", "x001/x002/x003/"
     "x004/x005/x006/x007/008"],
)  # fmt: skip
def test_non_canonical_or_malformed_index_paths_name_no_tile(path: str) -> None:
    with pytest.raises(NotFoundError):
        tiles.parse_index_path(path)


@pytest.mark.parametrize("level", ["00", "01", "64", "-1", "x", "", "1.0", " 1"])
def test_levels_outside_0_to_63_name_no_tile(level: str) -> None:
    with pytest.raises(NotFoundError):
        tiles.parse_level(level)
    assert tiles.parse_level("63") == 63 and tiles.parse_level("0") == 0


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_entry_bundles_round_trip(leaves: list[bytes]) -> None:
    bundle = tiles.encode_bundle(leaves)
    assert tiles.decode_bundle(bundle) == leaves
    assert len(bundle) == sum(2 + len(leaf) for leaf in leaves)
    for cut in range(1, min(len(bundle), 40)):  # every truncation is refused or shorter
        try:
            decoded = tiles.decode_bundle(bundle[:-cut])
        except EncodingError:
            continue
        assert decoded != leaves


def test_an_entry_longer_than_a_uint16_cannot_be_bundled() -> None:
    assert tiles.decode_bundle(tiles.encode_bundle([b"a" * 0xFFFF])) == [b"a" * 0xFFFF]
    with pytest.raises(EncodingError):
        tiles.encode_bundle([b"a" * 0x10000])


def test_a_bundle_matches_its_level_0_tile_and_nothing_else() -> None:
    leaves = [b"entry %d" % i for i in range(5)]
    tile = b"".join(merkle.leaf_hash(leaf) for leaf in leaves)
    bundle = tiles.encode_bundle(leaves)
    assert tiles.bundle_matches_tile(bundle, tile, 5)
    assert not tiles.bundle_matches_tile(bundle, tile, 4)
    assert not tiles.bundle_matches_tile(tiles.encode_bundle(leaves[::-1]), tile, 5)
    assert not tiles.bundle_matches_tile(bundle[:-1], tile, 5)


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(min_value=0, max_value=70_000))
def test_the_root_from_tiles_is_the_tree_head(size: int) -> None:
    leaf_hashes = _leaves(size)
    assert tiles.tree_root(size, _server(leaf_hashes)) == merkle.root(leaf_hashes)


@settings(max_examples=examples(40), deadline=None)
@given(st.integers(min_value=1, max_value=3_000), st.data())
def test_any_changed_byte_of_a_tile_changes_the_root(size: int, data: st.DataObject) -> None:
    leaf_hashes = _leaves(size)
    honest = _server(leaf_hashes)
    used: list[tuple[int, int, int]] = []

    def recording(level: int, index: int, width: int) -> bytes:
        used.append((level, index, width))
        return honest(level, index, width)

    root = tiles.tree_root(size, recording)
    target = data.draw(st.sampled_from(used))
    length = target[2] * 32
    position = data.draw(st.integers(min_value=0, max_value=length - 1))

    def lying(level: int, index: int, width: int) -> bytes:
        body = honest(level, index, width)
        if (level, index, width) != target:
            return body
        changed = bytearray(body)
        changed[position] ^= 1
        return bytes(changed)

    try:
        lied = tiles.tree_root(size, lying)
    except EncodingError:
        return
    # a byte the root does not depend on is a hash the tree of this size does not use
    ranges = tiles.tile_ranges(*target)
    start, end = ranges[position // 32]
    if end <= size and _covers(size, target[0], start, end):
        assert lied != root
    else:
        assert lied == root


def _covers(size: int, level: int, start: int, end: int) -> bool:
    """Whether the hash of [start, end) (height 8 level) is one the root is built from:
    inside a perfect subtree of the decomposition of [0, size) whose height 8 L + r is
    computed from level-L tiles (L = level)."""
    return any(
        p.start <= start and end <= p.end and p.level // 8 == level
        for p in merkle.range_subtrees(0, size)
    )


def test_a_tile_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(EncodingError):
        tiles.tree_root(3, lambda level, index, width: b"\x00" * (32 * width - 1))
    assert tiles.tree_root(0, lambda *a: b"") == hashlib.sha256(b"").digest()
