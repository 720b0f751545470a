"""keys: scoped, recovered and compromised keys; the log's recovery wait

No one signs for another (docs/ARCHITECTURE.md section 4): a key may be scoped to some
kinds of work, recovered by an operator with a waiting period (``recovered_index``,
``effective``) or reported compromised as of a past time (``compromised_since``); the
genesis operator's row keeps the log's signed ``recovery_wait``. Every column is new and
empty for existing rows, which is what replaying their entries gives.

Revision ID: 0007_keys
Revises: 0006_privacy
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_keys"
down_revision = "0006_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("actor_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("recovered_index", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("effective", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("compromised_since", sa.String(length=32), nullable=True))
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recovery_wait", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.drop_column("recovery_wait")
    with op.batch_alter_table("actor_keys", schema=None) as batch_op:
        batch_op.drop_column("compromised_since")
        batch_op.drop_column("effective")
        batch_op.drop_column("recovered_index")
        batch_op.drop_column("scope")
