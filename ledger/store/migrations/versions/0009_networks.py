"""networks: reports and scans keep their client's network as a pseudonym

An open report changes a unit's verdict only when independent reporters agree: distinct
clients from distinct /24 IPv4 or /48 IPv6 networks over at least two days
(ledger.signals.reports); ``many-scanners`` counts distinct networks, so addresses drawn
from one network (an IPv6 /64 holds 2^64) are one scanner (ledger.signals.compute). The
network is kept as a per-unit keyed hash (no address); rows written before this
revision have none (a report then counts as no network, a scan as its client).

Revision ID: 0009_networks
Revises: 0008_custody
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_networks"
down_revision = "0008_custody"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("reports", sa.Column("network", sa.String(length=32), nullable=True))
    op.add_column("scans", sa.Column("network", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    for table in ("scans", "reports"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("network")
