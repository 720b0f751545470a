"""write buckets: the write quota per actor, shared by every worker (ledger.store.quotas)

Revision ID: 0010_write_buckets
Revises: 0009_networks
Create Date: 2026-12-03 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_write_buckets"
down_revision = "0009_networks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "write_buckets",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["log"], ["logs.id"]),
        sa.PrimaryKeyConstraint("log", "actor"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("write_buckets")
