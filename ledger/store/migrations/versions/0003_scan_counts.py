"""scan counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 13:24:58.544271
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "scan_counts",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.String(length=32), nullable=False),
        sa.Column("first_place", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["log"],
            ["logs.id"],
        ),
        sa.PrimaryKeyConstraint("log", "gtin", "serial"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("scan_counts")
