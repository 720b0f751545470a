"""privacy: random daily scan salts, report quotas per day, legacy photos marked

Photos are re-encoded without metadata on intake from this revision on; the photos
stored before it are as they were sent (EXIF with GPS included). Their type is marked
``legacy:<type>``, so that `ReportService.report_photo` re-encodes them when it serves
them (a migration does not decode images).

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
    op.execute(
        "UPDATE reports SET photo_type = 'legacy:' || photo_type "
        "WHERE photo IS NOT NULL AND photo_type NOT LIKE 'legacy:%'"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute(
        "UPDATE reports SET photo_type = substr(photo_type, 8) WHERE photo_type LIKE 'legacy:%'"
    )
    op.drop_table("report_quotas")
    op.drop_table("scan_salts")
