"""witness cosignatures

Revision ID: 0004_cosignatures
Revises: 0003
Create Date: 2026-11-28 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_cosignatures"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "cosignatures",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("key_hash", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["log"], ["logs.id"]),
        sa.PrimaryKeyConstraint("log", "witness", "key_hash", "size"),
    )
    op.create_index("ix_cosignatures_size", "cosignatures", ["log", "size"], unique=False)
    op.create_table(
        "witness_heads",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("key_hash", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["log"], ["logs.id"]),
        sa.PrimaryKeyConstraint("log", "witness", "key_hash"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("witness_heads")
    op.drop_index("ix_cosignatures_size", table_name="cosignatures")
    op.drop_table("cosignatures")
