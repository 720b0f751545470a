"""map_size: the size of the log whose map of heads the stored map is, when it is
behind the log (issue 18)

A large batch's map rows are written by the map's child process after the append
commits, in a transaction of their own (ledger.service.mapworker, docs/FORMAT.md
14.2): the append signs the new map root and commits the entries without them. Until
the child's rows land, the stored map is that of the log's first ``map_size`` entries,
whose checkpoint signs its root; NULL (every log at this revision) means the stored map
is the log's whole map, as every map written in the append's own transaction is.

The downgrade drops the column; a log whose map was behind then has its ``map_buckets``
rows deleted first, so that the earlier code, which knows no map behind its log,
rebuilds the map from the entries at its next append (docs/FORMAT.md 14.2's recovery)
instead of refusing it as diverged.

Revision ID: 0034_map_size
Revises: 0033_append_no_fk
Create Date: 2026-12-05 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034_map_size"
down_revision = "0033_append_no_fk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: ``logs.map_size``, NULL for every log (its map in step)."""
    op.add_column("logs", sa.Column("map_size", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert this revision: the maps behind their logs deleted (rebuilt from the
    entries at the next append), then the column dropped."""
    op.execute(
        "DELETE FROM map_buckets WHERE log IN (SELECT id FROM logs WHERE map_size IS NOT NULL)"
    )
    # SQLite (3.35+) drops a plain column in place: a batch copy of ``logs`` would drop
    # the table the entries' foreign keys name
    op.execute("ALTER TABLE logs DROP COLUMN map_size")
