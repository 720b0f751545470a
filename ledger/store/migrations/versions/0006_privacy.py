"""privacy: random daily scan salts, report quotas per day

Revision ID: 0006_privacy
Revises: 0005_perf
Create Date: 2026-12-03 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_privacy"
down_revision = "0005_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "scan_salts",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "report_quotas",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["log"], ["logs.id"]),
        sa.PrimaryKeyConstraint("log", "scope", "subject", "day"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("report_quotas")
    op.drop_table("scan_salts")
