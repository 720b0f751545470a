"""Stored Merkle node hashes in tiles and runs (0028_tiles, 0029_node_runs; docs/FORMAT.md
"Stored tree").

The hashes of the perfect subtrees of level >= 3 (ledger.store.queries.LOWEST_NODE_LEVEL)
are kept in two tables:

- ``tiles(log, level, idx, hashes)``: a *complete* tile, the `WIDTH` (256) consecutive
  hashes of nodes ``idx * WIDTH .. idx * WIDTH + WIDTH - 1`` of ``level``, concatenated
  (8192 bytes). Written once, by the append that stores its last node, and never
  changed (the log is append-only): on PostgreSQL a tile never leaves a dead tuple.
- ``nodes(log, level, idx, hash)``: a *run* of a level's incomplete last tile, the
  consecutive hashes of nodes ``idx ..`` that one append added to that tile (``hash``
  is 32 bytes a node; a run never crosses a tile boundary). The append that completes
  the tile writes its row and deletes its runs, in its own transaction (so a
  rolled-back append changes neither table).

One row per node cost PostgreSQL ~46 bytes of tuple header, pointer, key and index
entry for each 32-byte hash, and every one of them became a dead tuple when its tile
completed; a tile row costs its 8192 bytes plus ~0.3 KiB, a run one row an append and
level (an append of 1,000 entries adds ~125 level-3 nodes: one 4,000-byte row).

Readers ask for ranges of node indices of one level (`range_select`); the database
cuts the asked nodes out of tiles and runs alike (``substr``), and the slice comes back
with its level negated (a leaf row's level is 0) for `rows` to cut into nodes. A tile
or run whose length is not whole hashes yields only the whole 32-byte hashes inside it:
a damaged row reads as missing or wrong nodes, which the audit reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.errors import StorageError

#: node hashes in one tile row (the C2SP tlog-tiles width: a level-8k tile row is the
#: full tlog-tile of tile level k)
WIDTH = 256
HASH = 32


def range_select(mark: str) -> str:
    """The SELECT that reads nodes ``first..last`` of one level (params: `range_params`):
    from each run in ``nodes`` and each complete tile holding some, the slice of them:
    rows ``(-level, idx, hashes)``, idx the slice's first node (a run or tile holding
    none of them gives an empty slice). ``mark`` is the driver's parameter marker,
    ``?`` or ``%s`` (only that is formatted in: every value is bound).

    The database cuts the slice (``substr``): a proof wants one hash of each tile it
    reads, and on PostgreSQL an EXTERNAL value's slice is read from its TOAST chunks
    alone. A run starts in the tile of its nodes, so the runs that may hold ``first``
    start at or after its tile's first node."""
    w, m = WIDTH, mark
    # off, hi: the first and last wanted position inside the run (0 .. WIDTH - 1)
    node = (
        f"SELECT -level, idx + off, substr(hash, off * {HASH} + 1, (hi - off + 1) * {HASH}) "  # noqa: S608
        f"FROM (SELECT level, idx, hash, "
        f"CAST(CASE WHEN {m} > idx THEN {m} - idx ELSE 0 END AS INTEGER) AS off, "
        f"CAST(CASE WHEN {m} < idx + {w - 1} THEN {m} - idx ELSE {w - 1} END AS INTEGER) AS hi "
        f"FROM nodes WHERE log = {m} AND level = {m} AND idx BETWEEN {m} AND {m}) AS run"
    )
    # off, hi: the first and last wanted position inside the tile (0 .. WIDTH - 1)
    tile = (
        f"SELECT -level, idx * {w} + off, substr(hashes, off * {HASH} + 1, (hi - off + 1) * {HASH}) "  # noqa: S608, E501
        f"FROM (SELECT level, idx, hashes, "
        f"CAST(CASE WHEN {m} > idx * {w} THEN {m} - idx * {w} ELSE 0 END AS INTEGER) AS off, "
        f"CAST(CASE WHEN {m} < idx * {w} + {w - 1} THEN {m} - idx * {w} ELSE {w - 1} END "
        f"AS INTEGER) AS hi "
        f"FROM tiles WHERE log = {m} AND level = {m} AND idx BETWEEN {m} AND {m}) AS cut"
    )
    return f"{node} UNION ALL {tile}"


def range_params(log: int, level: int, first: int, last: int) -> tuple[int, ...]:
    """The parameters of `range_select` for nodes ``first..last`` of ``level``."""
    return (
        first,
        first,
        last,
        last,
        log,
        level,
        first - first % WIDTH,
        last,
        first,
        first,
        last,
        last,
        log,
        level,
        first // WIDTH,
        last // WIDTH,
    )


def runs_select(
    mark: str, log: int, runs: Sequence[tuple[int, int, int]]
) -> tuple[str, tuple[int, ...]]:
    """One ``UNION ALL`` statement and its parameters reading ``runs`` of a log's tree:
    ``(level, first, last)``, level 0 the stored leaves of entries ``first..last``
    (rows ``(0, idx, leaf)``), any other level `range_select`'s nodes; read its rows
    with `rows`. ``mark`` as for `range_select`."""
    leaf = (
        f"SELECT 0, idx, leaf FROM entries WHERE log = {mark} "  # noqa: S608
        f"AND idx BETWEEN {mark} AND {mark}"
    )
    node = range_select(mark)
    parts: list[str] = []
    params: list[int] = []
    for level, first, last in runs:
        if level:
            parts.append(node)
            params.extend(range_params(log, level, first, last))
        else:
            parts.append(leaf)
            params.extend((log, first, last))
    return " UNION ALL ".join(parts), tuple(params)


def rows(found: Iterable[tuple[Any, Any, Any]]) -> Iterator[tuple[int, int, bytes]]:
    """``(level, idx, hash)`` for every row of a `range_select` or `runs_select` read: a
    leaf row as it is, a slice of a run or tile (negative level) cut into its nodes. A
    damaged run or tile (not whole hashes) yields only the whole hashes its slice holds."""
    for level, idx, value in found:
        if level >= 0:
            yield level, idx, bytes(value)
        else:
            yield from cut(-level, idx, bytes(value))


def cut(level: int, first: int, hashes: bytes) -> Iterator[tuple[int, int, bytes]]:
    """``(level, first + k, hash k)`` for each whole 32-byte hash of ``hashes``."""
    for k in range(len(hashes) // HASH):
        yield level, first + k, hashes[k * HASH : (k + 1) * HASH]


Rows = dict[tuple[int, int], bytes]


def split(level_rows: Mapping[tuple[int, int], bytes]) -> tuple[Rows, Rows]:
    """``{(level, idx): hash}`` cut into complete tiles ``{(level, tile): hashes}`` and
    the remaining single nodes: a bulk writer's rows (every node of each tile given)."""
    tiles: dict[tuple[int, int], bytes] = {}
    singles = dict(level_rows)
    for level, idx in list(level_rows):
        if idx % WIDTH == WIDTH - 1:
            first = idx - WIDTH + 1
            keys = [(level, i) for i in range(first, idx + 1)]
            if all(k in singles for k in keys):
                tiles[(level, idx // WIDTH)] = b"".join(singles.pop(k) for k in keys)
    return tiles, singles


def write(
    conn: Connection, log: int, new: Mapping[tuple[int, int], bytes], is_sqlite: bool
) -> None:
    """Store an append's new nodes ``{(level, idx): hash}`` (levels >= 3): each tile
    this append completes as one tile row, the runs stored by earlier appends in it
    deleted, the others as runs (`runs_of`: one row for each tile and stretch of
    consecutive nodes). Runs in the append's transaction.

    Raises:
        StorageError: a tile being completed lacks a node (a damaged store: the append
            is rolled back rather than writing a tile with a hole).
    """
    mark = "?" if is_sqlite else "%s"
    completing = {(lv, i // WIDTH) for lv, i in new if i % WIDTH == WIDTH - 1}
    merged = dict(new)
    had_rows = set()  # tiles with nodes stored by earlier appends: those rows go
    for level, tile in sorted(completing):
        first, last = tile * WIDTH, tile * WIDTH + WIDTH - 1
        if any((level, i) not in merged for i in range(first, last + 1)):
            stored = conn.exec_driver_sql(
                f"SELECT idx, hash FROM nodes WHERE log = {mark} AND level = {mark} "  # noqa: S608
                f"AND idx BETWEEN {mark} AND {mark}",
                (log, level, first, last),
            )
            for idx, value in stored:
                for _, i, node in cut(level, int(idx), bytes(value)):
                    merged.setdefault((level, i), node)
                had_rows.add((level, tile))
    tiles, singles = split(merged)
    if set(tiles) != completing:
        missing = sorted(completing - set(tiles))
        raise StorageError(f"log {log}: nodes missing in tile(s) (level, tile) {missing}")
    for level, tile in sorted(had_rows):
        first = tile * WIDTH
        conn.exec_driver_sql(
            f"DELETE FROM nodes WHERE log = {mark} AND level = {mark} "  # noqa: S608
            f"AND idx BETWEEN {mark} AND {mark}",
            (log, level, first, first + WIDTH - 1),
        )
    if tiles:
        conn.exec_driver_sql(
            f"INSERT INTO tiles (log, level, idx, hashes) VALUES ({mark}, {mark}, {mark}, {mark})",  # noqa: S608
            [(log, lv, t, h) for (lv, t), h in sorted(tiles.items())],
        )
    fresh = [(log, *run) for run in runs_of({k: h for k, h in singles.items() if k in new})]
    if fresh:
        conn.exec_driver_sql(
            f"INSERT INTO nodes (log, level, idx, hash) VALUES ({mark}, {mark}, {mark}, {mark})",  # noqa: S608
            fresh,
        )


def runs_of(nodes: Mapping[tuple[int, int], bytes]) -> list[tuple[int, int, bytes]]:
    """``{(level, idx): hash}`` as ``nodes`` rows ``(level, first idx, hashes)``: each
    stretch of consecutive indices of one level within one tile, concatenated in order
    (a run never crosses a tile boundary, so a reader finds it from the tile's start)."""
    out: list[tuple[int, int, bytes]] = []
    for level, idx in sorted(nodes):
        if (
            out
            and out[-1][0] == level
            and idx % WIDTH
            and out[-1][1] + len(out[-1][2]) // HASH == idx
        ):
            out[-1] = (level, out[-1][1], out[-1][2] + nodes[(level, idx)])
        else:
            out.append((level, idx, nodes[(level, idx)]))
    return out
