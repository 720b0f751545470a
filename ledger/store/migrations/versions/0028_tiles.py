"""tiles: stored Merkle node hashes in complete tiles of 256, not a row per node

Issue 20, bytes per entry. The hashes of the perfect subtrees of level >= 3 were one
``nodes`` row each (PostgreSQL: ~46 bytes of tuple header, pointer, key and index entry
per 32-byte hash, about a quarter of a node per entry). Now a complete tile, the 256
consecutive hashes of nodes ``256 t .. 256 t + 255`` of one level, is one ``tiles`` row
(``hashes``: 8192 bytes), written once by the append that stores its last node; only
the nodes of each level's incomplete last tile stay ``nodes`` rows, deleted by the
append that completes their tile (ledger.store.nodetiles, docs/FORMAT.md "Stored tree").

On PostgreSQL ``hashes`` has ``STORAGE EXTERNAL``: an 8 KiB value cannot stay in an
8 KiB page, so it is moved to the TOAST table in any case, and hashes do not compress
(the default, EXTENDED, would try pglz on every tile first and fail).

The upgrade moves every complete tile of every log from ``nodes`` to ``tiles`` in key
order, in batches; nodes of incomplete tiles stay. The downgrade writes each tile's
nodes back as rows and drops ``tiles``. Either way run ``VACUUM`` (SQLite) or
``VACUUM FULL nodes`` (PostgreSQL) afterwards to hand the freed space back.

Revision ID: 0028_tiles
Revises: 0028_units_slim
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ledger.store import nodetiles

revision = "0028_tiles"
down_revision = "0028_units_slim"
branch_labels = None
depends_on = None

BATCH = 20_000  # node rows read at a time


def _after(table: str, value: str, last: tuple[int, int, int], n: int) -> Sequence[Any]:
    """The next ``n`` rows ``(log, level, idx, value)`` of ``table`` in key order after
    the key ``last`` (keyset paging: each batch one index range read)."""
    return (
        op.get_bind()
        .execute(
            sa.text(
                f"SELECT log, level, idx, {value} FROM {table}"  # noqa: S608 - our own names
                " WHERE (log, level, idx) > (:log, :lv, :idx)"
                " ORDER BY log, level, idx LIMIT :n"
            ),
            {"log": last[0], "lv": last[1], "idx": last[2], "n": n},
        )
        .all()
    )


def _move_tiles_out_of_nodes() -> None:
    """Every run of `nodetiles.WIDTH` stored nodes that fills a tile becomes a tile row;
    its node rows are deleted."""
    conn = op.get_bind()
    width = nodetiles.WIDTH
    last = (-1, -1, -1)
    pending: dict[tuple[int, int, int], list[bytes]] = {}  # (log, level, tile): hashes
    while True:
        rows = _after("nodes", "hash", last, BATCH)
        full = []
        for row in rows:
            key = (row.log, row.level, row.idx // width)
            hashes = pending.setdefault(key, [])
            # a tile needs every node, in order; a hole leaves the tile's rows as they are
            if row.idx % width == len(hashes) and len(bytes(row.hash)) == nodetiles.HASH:
                hashes.append(bytes(row.hash))
            if len(hashes) == width:
                full.append({"log": key[0], "lv": key[1], "t": key[2], "h": b"".join(hashes)})
        if full:
            conn.execute(
                sa.text("INSERT INTO tiles (log, level, idx, hashes) VALUES (:log, :lv, :t, :h)"),
                full,
            )
            conn.execute(
                sa.text(
                    "DELETE FROM nodes WHERE log = :log AND level = :lv"
                    " AND idx BETWEEN :first AND :last"
                ),
                [
                    {
                        "log": t["log"],
                        "lv": t["lv"],
                        "first": t["t"] * width,
                        "last": t["t"] * width + width - 1,
                    }
                    for t in full
                ],
            )
        if not rows:
            break
        last = (rows[-1].log, rows[-1].level, rows[-1].idx)
        for key in [k for k in pending if k[:2] != last[:2] or k[2] < last[2] // width]:
            del pending[key]  # finished: full (moved) or with a hole (left)


def _move_tiles_into_nodes() -> None:
    """Every tile row becomes its nodes' rows again."""
    conn = op.get_bind()
    width = nodetiles.WIDTH
    last = (-1, -1, -1)
    per_batch = max(1, BATCH // width)
    while True:
        tiles = _after("tiles", "hashes", last, per_batch)
        if not tiles:
            break
        nodes = [
            {"log": t.log, "lv": level, "idx": idx, "h": value}
            for t in tiles
            for level, idx, value in nodetiles.cut(t.level, t.idx * width, bytes(t.hashes))
        ]
        conn.execute(
            sa.text("INSERT INTO nodes (log, level, idx, hash) VALUES (:log, :lv, :idx, :h)"),
            nodes,
        )
        last = (tiles[-1].log, tiles[-1].level, tiles[-1].idx)


def upgrade() -> None:
    """Apply this revision: the ``tiles`` table, every complete tile moved into it."""
    op.create_table(
        "tiles",
        sa.Column("log", sa.Integer, sa.ForeignKey("logs.id"), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tiles ALTER COLUMN hashes SET STORAGE EXTERNAL")
    _move_tiles_out_of_nodes()


def downgrade() -> None:
    """Revert this revision: every tile's nodes as ``nodes`` rows, ``tiles`` dropped."""
    _move_tiles_into_nodes()
    op.drop_table("tiles")
