"""log versions: the event format and rule set a log holds, and from which index

The genesis operator's row keeps the log's signed ``format`` and ``rules`` and the index
from which they apply (genesis: 0; a ``log.upgrade``: its next index). Every column is
new and empty for existing rows, which is what replaying their entries gives (format 1
and rule set 1 throughout, until an upgrade).

Revision ID: 0011_log_versions
Revises: 0010_write_buckets
Create Date: 2026-12-03 13:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_log_versions"
down_revision = "0010_write_buckets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_format", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("log_rules", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("log_since", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.drop_column("log_since")
        batch_op.drop_column("log_rules")
        batch_op.drop_column("log_format")
