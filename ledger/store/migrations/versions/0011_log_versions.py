"""log versions: the event format and rule set a log holds, and from which index

The genesis operator's row keeps the log's signed ``format`` and ``rules`` and the index
from which they apply (genesis: 0; a ``log.upgrade``: its next index). The columns are
filled from the entries themselves, as replaying them would: the ``log.upgrade`` if
there is one (from its next index), else what the genesis names (from 0); empty
(format 1 and rule set 1 throughout) for a log that has neither, which is every log
written before this revision.

Revision ID: 0011_log_versions
Revises: 0010_write_buckets
Create Date: 2026-12-03 13:15:00
"""

from __future__ import annotations

import json

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
    conn = op.get_bind()
    for log_id, leaf in conn.execute(sa.text("SELECT log, leaf FROM entries WHERE idx = 0")):
        genesis = json.loads(bytes(leaf))["event"]
        fmt, rules, since = genesis.get("format"), genesis.get("rules"), 0
        upgrade = conn.execute(
            sa.text(
                "SELECT idx, leaf FROM entries WHERE log = :log AND kind = 'log.upgrade' "
                "ORDER BY idx LIMIT 1"
            ),
            {"log": log_id},
        ).first()
        if upgrade is not None:  # the upgrade, where there is one, is what replay leaves
            event = json.loads(bytes(upgrade.leaf))["event"]
            fmt, rules, since = event["format"], event["rules"], upgrade.idx + 1
        elif fmt is None and rules is None:
            continue
        conn.execute(
            sa.text(
                "UPDATE actors SET log_format = :format, log_rules = :rules, log_since = :since"
                " WHERE log = :log AND id = :id"
            ),
            {
                "format": fmt,
                "rules": rules,
                "since": since,
                "log": log_id,
                "id": genesis["subject"],
            },
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("actors", schema=None) as batch_op:
        batch_op.drop_column("log_since")
        batch_op.drop_column("log_rules")
        batch_op.drop_column("log_format")
