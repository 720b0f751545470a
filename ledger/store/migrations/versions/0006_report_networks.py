"""report networks: each consumer report keeps its reporter's network pseudonym

An open report changes a unit's verdict only when independent reporters agree: distinct
clients from distinct /24 IPv4 or /48 IPv6 networks over at least two days
(ledger.signals.reports). The network is kept as a per-unit keyed hash (no address);
reports filed before this revision have none and count as no network.

Revision ID: 0006_report_networks
Revises: 0005_perf
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_report_networks"
down_revision = "0005_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("reports", sa.Column("network", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("network")
