"""node runs: a ``nodes`` row holds the run of consecutive nodes one append added

Issue 20, bytes per entry (PostgreSQL after a plain VACUUM). Since 0028_tiles the nodes
of each level's incomplete last tile were one ``nodes`` row each, deleted when their tile
completed: ~46 bytes of tuple header, pointer, key and index entry for every 32-byte
hash, all of it dead space once the tile was written (reused only after a VACUUM during
the appends). Now a ``nodes`` row ``(log, level, idx, hash)`` is a *run*: ``hash``
holds the hashes of nodes ``idx, idx + 1, ...`` concatenated, 32 bytes each, never
across a tile boundary (ledger.store.nodetiles, docs/FORMAT.md "Stored tree"). An append
writes one run per level and tile it adds nodes to. A single-node row is a run of one,
so rows written before this revision read the same.

On PostgreSQL ``nodes.hash`` gets ``STORAGE MAIN``: a run of up to 255 hashes (8,160
bytes) stays in the row while it fits the page, instead of going to the TOAST table
from 2 KB on (its chunks, chunk index and maps would cost more than the run).

The upgrade merges each tile's stored node rows into runs (per log, level and tile:
each stretch of consecutive indices one row). The downgrade cuts every run into one row
per node and gives ``hash`` its default storage (``EXTENDED``) back. Either way run
``VACUUM`` (SQLite) or ``VACUUM FULL nodes`` (PostgreSQL) afterwards to hand the freed
space back.

Revision ID: 0029_node_runs
Revises: 0028_tiles
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ledger.store import nodetiles

revision = "0029_node_runs"
down_revision = "0028_tiles"
branch_labels = None
depends_on = None

BATCH = 20_000  # node rows read at a time


def _after(last: tuple[int, int, int], n: int) -> Sequence[Any]:
    """The next ``n`` ``nodes`` rows ``(log, level, idx, hash)`` in key order after the
    key ``last`` (keyset paging: each batch one index range read)."""
    return (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT log, level, idx, hash FROM nodes"
                " WHERE (log, level, idx) > (:log, :lv, :idx)"
                " ORDER BY log, level, idx LIMIT :n"
            ),
            {"log": last[0], "lv": last[1], "idx": last[2], "n": n},
        )
        .all()
    )


def _rewrite(rows: Sequence[Any], as_runs: bool) -> None:
    """Replace ``rows`` (whole tiles' worth: no run is cut at a batch's edge) by their
    nodes as runs (`nodetiles.runs_of`) or as one row per node. A row that is not whole
    hashes (damaged) is left as it is, for the audit to report."""
    rows = [r for r in rows if len(bytes(r.hash)) % nodetiles.HASH == 0 and r.hash]
    if not rows:
        return
    nodes: dict[int, dict[tuple[int, int], bytes]] = {}
    for row in rows:
        for level, idx, value in nodetiles.cut(row.level, row.idx, bytes(row.hash)):
            nodes.setdefault(row.log, {})[(level, idx)] = value
    conn = op.get_bind()
    conn.execute(
        sa.text("DELETE FROM nodes WHERE log = :log AND level = :lv AND idx = :idx"),
        [{"log": r.log, "lv": r.level, "idx": r.idx} for r in rows],
    )
    fresh = [
        {"log": log, "lv": level, "idx": idx, "h": value}
        for log, by_key in nodes.items()
        for level, idx, value in (
            nodetiles.runs_of(by_key)
            if as_runs
            else [(lv, i, h) for (lv, i), h in sorted(by_key.items())]
        )
    ]
    if fresh:
        conn.execute(
            sa.text("INSERT INTO nodes (log, level, idx, hash) VALUES (:log, :lv, :idx, :h)"),
            fresh,
        )


def _convert(as_runs: bool) -> None:
    """Every log's ``nodes`` rows rewritten, a batch at a time; a batch is cut only
    between tiles, so the rows of one tile are merged (or cut) together."""
    last = (-1, -1, -1)
    carried: list[Any] = []  # rows of the last tile of the previous batch
    while True:
        rows = _after(last, BATCH)
        if rows:
            last = (rows[-1].log, rows[-1].level, rows[-1].idx)
        work = carried + list(rows)
        if not work:
            break
        if rows:  # hold back the last tile: the next batch may hold more of its rows
            tile = (last[0], last[1], last[2] // nodetiles.WIDTH)
            carried = [r for r in work if (r.log, r.level, r.idx // nodetiles.WIDTH) == tile]
            work = work[: len(work) - len(carried)]
        else:
            carried = []
        _rewrite(work, as_runs)


def upgrade() -> None:
    """Apply this revision: ``nodes.hash`` kept in the row (PostgreSQL), each tile's
    node rows merged into runs."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE nodes ALTER COLUMN hash SET STORAGE MAIN")
    _convert(as_runs=True)


def downgrade() -> None:
    """Revert this revision: every run cut into one row per node, ``nodes.hash`` back to
    its default storage (PostgreSQL)."""
    _convert(as_runs=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE nodes ALTER COLUMN hash SET STORAGE EXTENDED")
