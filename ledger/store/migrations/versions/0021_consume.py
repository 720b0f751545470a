"""consume: a unit's current owner (hash) and when its owner marked it used up

The ``consume`` rule (docs/ARCHITECTURE.md section 5) checks the revealed owner token
against the latest claim's ``owner``, so the unit row keeps it; ``consumed_at`` is when
the owner marked the unit used up. Existing rows start with neither: the exact values
come from the log (``Ledger.rebuild_projections()`` replays it into fresh projections,
and the audit reports every unit whose stored row differs from the replay), so run it
after this upgrade on a log with claimed units: until then their owners cannot mark
them used up (the rule refuses, nothing is written).

Revision ID: 0021_consume
Revises: 0019_cartons
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_consume"
down_revision = "0019_cartons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: add the two columns (in place, no table rebuild)."""
    op.add_column("units", sa.Column("owner", sa.String(length=43), nullable=True))
    op.add_column("units", sa.Column("consumed_at", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Revert this revision: drop the two columns."""
    for column in ("consumed_at", "owner"):
        op.drop_column("units", column)
