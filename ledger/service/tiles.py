"""Serving the log as C2SP tlog-tiles: tiles of Merkle tree hashes and entry bundles.

The paths, widths and bundle format are ledger.tiles. Here: which tiles exist, and their
bytes. A tile or bundle exists when the log's latest signed checkpoint covers it (its
last hash or entry is below that checkpoint's size), so a client only ever gets what a
checkpoint commits to, and every resource, partial ones included, never changes once it
exists (the log is append-only): the HTTP layer marks them immutable.

The hashes come from the same place as the proofs (the store's in-memory tree, else its
stored subtree hashes: ledger.store.prooftree), so serving a tile reads at most the
latest checkpoint's size and, for a tree too large for memory, a few node rows. The
store keeps its node hashes in tiles of this same shape (ledger.store.nodetiles): a full
tile of level ``L >= 1`` is then the slice of one stored tile row of tree level ``8 L``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import merkle, tiles
from ledger.errors import LedgerError, NotFoundError, StorageError

if TYPE_CHECKING:
    from ledger.service.ledger import Ledger


class EntryTooLargeError(LedgerError):
    """An entry bundle would hold an entry longer than its uint16 length can say."""

    code = "entry-too-large-for-bundle"
    status = 404


def _published_size(ledger: Ledger) -> int:
    try:
        return ledger.stored_checkpoint().size
    except NotFoundError:
        return 0


def _check_covered(ledger: Ledger, what: str, level: int, index: int, width: int) -> int:
    """The latest checkpoint's size, which must cover the resource (else NotFoundError)."""
    size = _published_size(ledger)
    end = (index * tiles.TILE_WIDTH + width) << (8 * level)
    if end > size:
        raise NotFoundError(
            f"no {what} {tiles.tile_path(level if what == 'tile' else 'entries', index, width)}"
            f" in this log: its latest checkpoint has {size} entries",
            field="path",
        )
    return size


def tile(ledger: Ledger, level: int, index: int, width: int) -> bytes:
    """The bytes of tile (``level``, ``index``) of ``width`` hashes: ``32 * width`` bytes.

    Raises:
        NotFoundError: the latest signed checkpoint does not cover that tile.
        StorageError: the database failed.
    """
    size = _check_covered(ledger, "tile", level, index, width)
    hashes = ledger.store.range_hashes(ledger.log, size, tiles.tile_ranges(level, index, width))
    return b"".join(hashes)


def entry_bundle(ledger: Ledger, index: int, width: int) -> bytes:
    """The entry bundle ``index`` of ``width`` entries (ledger.tiles.encode_bundle).

    Raises:
        NotFoundError: the latest signed checkpoint does not cover that bundle.
        StorageError: the database failed, or a stored leaf does not hash to the tree's
            leaf hash (never served as an immutable bundle).
        EntryTooLargeError: one of its entries is longer than 65,535 bytes (written before
            the log refused such entries; its tiles and `GET /v1/entries` still serve it).
    """
    size = _check_covered(ledger, "entry bundle", 0, index, width)
    first = index * tiles.TILE_WIDTH
    stored = ledger.entries(first, first + width)
    if [e.index for e in stored] != list(range(first, first + width)):
        raise NotFoundError(f"entries {first} to {first + width - 1} are not all stored")
    # served immutable (a CDN keeps it for good): leaves that do not hash to the
    # tree's level-0 hashes (a damaged or edited row) are refused, not cached
    tree = ledger.store.range_hashes(ledger.log, size, tiles.tile_ranges(0, index, width))
    if [merkle.leaf_hash(e.leaf) for e in stored] != list(tree):
        raise StorageError(
            f"entries {first} to {first + width - 1}: a stored leaf does not hash to the "
            "tree's leaf hash (the row is damaged); the bundle is not served"
        )
    try:
        return tiles.encode_bundle([e.leaf for e in stored])
    except LedgerError as e:
        raise EntryTooLargeError(str(e), field="path") from None
