"""C2SP tlog-tiles: the log's Merkle tree and entries as static, immutable resources.

The log serves, besides its RFC 9162 proofs, the resources of C2SP tlog-tiles
(https://c2sp.org/tlog-tiles) under the prefix ``/v1/`` (docs/API.md, "Tiles"):

- ``tile/<L>/<N>[.p/<W>]``: the ``W`` (default 256) consecutive Merkle tree hashes of the
  perfect subtrees of height ``8 L`` numbered ``256 N`` to ``256 N + W - 1``: at level 0
  the leaf hashes, at level 1 the roots of full level-0 tiles, and so on;
- ``tile/entries/<N>[.p/<W>]``: an entry bundle, the leaves ``256 N`` to ``256 N + W - 1``
  themselves, each as a big-endian uint16 length and the leaf's bytes.

``N`` is written in groups of three digits, all but the last prefixed with ``x``
(1234067 is ``x001/x234/067``); a partial tile (``.p/W``, 1 <= W <= 255) is the rightmost
tile of its level in a tree whose size is not a multiple of its span.

This module is pure: paths, widths, the bundle codec, and what a client computes from
tiles it fetched (`tree_root`: the root of any size, to compare with a signed
checkpoint). Serving them is ledger.service.tiles.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from ledger.errors import EncodingError, NotFoundError
from ledger.merkle import HASH_SIZE, Range, leaf_hash, range_root, range_subtrees

#: hashes in a full tile (tiles are subtrees of height 8)
TILE_WIDTH = 256
#: bytes of a full tile
FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
#: the largest entry an entry bundle can hold (its length is a uint16)
MAX_ENTRY_BYTES = 0xFFFF
#: the highest tile level the specification allows
MAX_LEVEL = 63

_GROUP = re.compile(r"x\d{3}")
_LAST = re.compile(r"\d{3}")
_WIDTH = re.compile(r"[1-9]\d{0,2}")

#: fetches the tile (level, index, width) the way a client does; returns its bytes
TileFetcher = Callable[[int, int, int], bytes]


def encode_index(index: int) -> str:
    """``index`` as tlog-tiles path elements: ``x001/x234/067`` for 1234067, ``000`` for 0."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a tile below the prefix: ``tile/<L>/<N>[.p/<W>]``; ``level`` may be
    ``"entries"`` for an entry bundle."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


def parse_index_path(path: str) -> tuple[int, int]:
    """The (index, width) named by ``<N>[.p/<W>]``, the part of a tile path after the level.

    Only the canonical spelling is accepted (the one `tile_path` writes: no leading
    ``x000`` group, a width of 1-255 without leading zeros), so each resource has one
    address a cache can key on.

    Raises:
        NotFoundError: the path names no tile (not canonical, or malformed).
    """
    width = TILE_WIDTH
    head, dot, tail = path.partition(".p/")
    if dot:
        if not _WIDTH.fullmatch(tail) or not 1 <= int(tail) < TILE_WIDTH:
            raise NotFoundError(f"no tile at {path!r}: a partial width is 1-255", field="path")
        width = int(tail)
    parts = head.split("/")
    if (
        len(parts) > 7  # 2**64 has 20 digits: 7 groups
        or not _LAST.fullmatch(parts[-1])
        or not all(_GROUP.fullmatch(p) for p in parts[:-1])
    ):
        raise NotFoundError(
            f"no tile at {path!r}: the index is x-prefixed 3-digit groups", field="path"
        )
    index = int("".join(p.lstrip("x") for p in parts))
    if encode_index(index) != head:
        raise NotFoundError(
            f"no tile at {path!r}: the index is not written canonically", field="path"
        )
    return index, width


def parse_level(text: str) -> int:
    """A tile level: a decimal integer 0-63 without leading zeros.

    Raises:
        NotFoundError: anything else.
    """
    if not re.fullmatch(r"0|[1-9]\d?", text) or int(text) > MAX_LEVEL:
        raise NotFoundError(f"no tile level {text!r}: levels are 0-63", field="level")
    return int(text)


def width_at(level: int, index: int, size: int) -> int:
    """How many hashes tile (``level``, ``index``) has in the tree of ``size`` leaves:
    256 when full, 1-255 for the rightmost partial tile, 0 when it has none yet."""
    span = 1 << (8 * (level + 1))  # leaves under a full tile
    if (index + 1) * span <= size:
        return TILE_WIDTH
    if index * span >= size:
        return 0
    return (size >> (8 * level)) % TILE_WIDTH


def tile_ranges(level: int, index: int, width: int) -> list[Range]:
    """The leaf ranges whose Merkle tree hashes make up tile (``level``, ``index``) of
    ``width`` hashes: ``[(256 index + i) 256**level, (256 index + i + 1) 256**level)``."""
    span = 1 << (8 * level)
    first = index * TILE_WIDTH
    return [((first + i) * span, (first + i + 1) * span) for i in range(width)]


def encode_bundle(leaves: Sequence[bytes]) -> bytes:
    """An entry bundle: each leaf as a big-endian uint16 length and its bytes.

    Raises:
        EncodingError: a leaf longer than `MAX_ENTRY_BYTES` (a bundle cannot hold it).
    """
    out = bytearray()
    for leaf in leaves:
        if len(leaf) > MAX_ENTRY_BYTES:
            raise EncodingError(
                f"an entry of {len(leaf)} bytes is longer than an entry bundle holds "
                f"({MAX_ENTRY_BYTES})",
                field="entries",
            )
        out += len(leaf).to_bytes(2, "big") + leaf
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The leaves of an entry bundle, in order.

    Raises:
        EncodingError: the bundle ends inside a length or an entry.
    """
    leaves, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise EncodingError("the entry bundle ends inside a length", field="bundle")
        end = at + 2 + int.from_bytes(data[at : at + 2], "big")
        if end > len(data):
            raise EncodingError("the entry bundle ends inside an entry", field="bundle")
        leaves.append(bytes(data[at + 2 : end]))
        at = end
    return leaves


def split_tile(data: bytes, width: int) -> list[bytes]:
    """The hashes of a tile's bytes, checked to be exactly ``width`` hashes.

    Raises:
        EncodingError: the length is not ``32 * width``.
    """
    if len(data) != width * HASH_SIZE:
        raise EncodingError(
            f"a tile of {width} hashes is {width * HASH_SIZE} bytes, got {len(data)}",
            field="tile",
        )
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]


def bundle_matches_tile(bundle: bytes, tile: bytes, width: int) -> bool:
    """Whether each entry of ``bundle`` hashes (RFC 9162 leaf hash) to the matching hash
    of the level-0 ``tile``, and both hold ``width`` items."""
    try:
        leaves, hashes = decode_bundle(bundle), split_tile(tile, width)
    except EncodingError:
        return False
    return len(leaves) == width and [leaf_hash(leaf) for leaf in leaves] == hashes


def tree_root(size: int, fetch: TileFetcher) -> bytes:
    """The Merkle tree hash of the first ``size`` leaves, computed from tiles alone.

    ``fetch(level, index, width)`` returns a tile's bytes as served (a client's HTTP GET).
    The tree splits into perfect subtrees (the binary digits of ``size``); a subtree of
    height ``8 L + r`` is the hash of ``2**r`` consecutive hashes of a level-``L`` tile.
    A client compares the result with a verified checkpoint's root: equal, and every tile
    it used is the log's (a different hash anywhere changes the root).

    Raises:
        EncodingError: a fetched tile has the wrong length.
    """
    tiles: dict[tuple[int, int], list[bytes]] = {}
    pieces = []
    for sub in range_subtrees(0, size):
        level, rest = divmod(sub.level, 8)
        count = 1 << rest
        first = sub.start >> (8 * level)  # position among the level-L hashes
        index = first // TILE_WIDTH
        key = (level, index)
        if key not in tiles:
            width = width_at(level, index, size)
            tiles[key] = split_tile(fetch(level, index, width), width)
        at = first % TILE_WIDTH
        hashes = tiles[key][at : at + count]
        while len(hashes) > 1:
            hashes = [_node(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        pieces.append(hashes[0])
    return range_root(pieces)


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()
