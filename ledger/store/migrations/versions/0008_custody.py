"""custody history: a unit's holders, retailer of record, number and time of sales

The custody rules (docs/ARCHITECTURE.md section 5) read who held a unit (a ``return``
goes only to one of them), who sold it (only that retailer or the brand returns a sold
unit) and whether it was ever sold (a return never hides a sale from the verdict).

Existing rows get what their own columns tell: the brand and the custodian as holders,
one sale for a sold or delivered unit, the custodian of a sold, undelivered unit as its
seller, no sale time. The exact values come from the log: ``Ledger.rebuild_projections()``
replays it into fresh projections, and the audit reports every unit whose stored row
differs from the replay, so run it after this upgrade on a log that already has units.

Revision ID: 0008_custody
Revises: 0007_keys
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_custody"
down_revision = "0007_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: add the four columns, filled from each row's own columns."""
    # ADD COLUMN in place on both databases (no table rebuild: units stays WITHOUT ROWID
    # on SQLite); NOT NULL columns need a server default for the rows already there.
    op.add_column("units", sa.Column("holders", sa.Text(), nullable=False, server_default=""))
    op.add_column("units", sa.Column("seller", sa.String(length=64), nullable=True))
    op.add_column("units", sa.Column("sales", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("units", sa.Column("last_sold", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE units SET holders = CASE WHEN custodian IS NULL OR custodian = brand "
        "THEN brand ELSE brand || ',' || custodian END"
    )
    op.execute("UPDATE units SET sales = 1 WHERE sold OR delivered")
    op.execute("UPDATE units SET seller = custodian WHERE sold AND NOT delivered")


def downgrade() -> None:
    """Revert this revision: drop the four columns."""
    for column in ("last_sold", "sales", "seller", "holders"):
        op.drop_column("units", column)
