"""hooks: the console's webhooks and their deliveries; a report's "where bought"

The tables of ledger/store/webhooks.py (docs/CONSOLE.md, "Webhooks"), none part of the
signed log, and the column ``reports.where_bought`` (a shop's name or a listing URL the
buyer gave, at most 300 characters; NULL for reports filed before it).

Revision ID: 0018_hooks
Revises: 0017_storage
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_hooks"
down_revision = "0017_storage"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("where_bought", sa.String(300), nullable=True))
    op.create_table(
        "console_webhooks",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display", sa.String(300), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_console_webhooks_org", "console_webhooks", ["org"])
    op.create_table(
        "console_webhook_seen",
        sa.Column("org", sa.String(64), primary_key=True),
        sa.Column("alert", sa.String(128), primary_key=True),
        sa.Column("at", sa.String(32), nullable=False),
    )
    op.create_table(
        "console_deliveries",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("webhook_id", sa.BigInteger(), nullable=False),
        sa.Column("alert", sa.String(128), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.String(32), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("done_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_console_deliveries_due", "console_deliveries", ["status", "next_at"])
    op.create_index("ix_console_deliveries_org", "console_deliveries", ["org", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_console_deliveries_org", table_name="console_deliveries")
    op.drop_index("ix_console_deliveries_due", table_name="console_deliveries")
    op.drop_table("console_deliveries")
    op.drop_table("console_webhook_seen")
    op.drop_index("ix_console_webhooks_org", table_name="console_webhooks")
    op.drop_table("console_webhooks")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("where_bought")
