"""map of heads: the nodes of each log's map of unit and actor heads (issue 18)

The table starts empty; a log written before this revision gets its map built from its
entries by its next append (ledger.service.append), whose checkpoint is the first to
carry a map root.

Revision ID: 0012_map
Revises: 0011_log_versions
Create Date: 2026-12-03 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_map"
down_revision = "0011_log_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "map_nodes",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("pos", sa.LargeBinary(length=33), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("key", sa.LargeBinary(length=32), nullable=True),
        sa.Column("idx", sa.BigInteger(), nullable=True),
        sa.Column("entry", sa.LargeBinary(length=32), nullable=True),
        sa.ForeignKeyConstraint(["log"], ["logs.id"]),
        sa.PrimaryKeyConstraint("log", "pos"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("map_nodes")
