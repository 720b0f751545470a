"""cartons and pallets: the containers (SSCCs) a unit is packed in

A unit's projection gains ``containers`` (the SSCCs it is in, outermost first,
comma-joined; empty when loose) and ``container`` (the outermost, indexed: a scan of a
pallet's label asks which units are on it). No existing unit is packed: ``pack`` is a
new kind, so the defaults (empty, null) are every existing row's exact values.

Revision ID: 0019_cartons
Revises: 0015_console
Create Date: 2026-12-03 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_cartons"
down_revision = "0015_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: add the two columns and the index."""
    # ADD COLUMN in place (units stays WITHOUT ROWID on SQLite, as in 0008_custody)
    op.add_column("units", sa.Column("containers", sa.Text(), nullable=False, server_default=""))
    op.add_column("units", sa.Column("container", sa.String(length=18), nullable=True))
    op.create_index("ix_units_container", "units", ["log", "container"])


def downgrade() -> None:
    """Revert this revision: drop the index and the columns."""
    op.drop_index("ix_units_container", table_name="units")
    for column in ("container", "containers"):
        op.drop_column("units", column)
