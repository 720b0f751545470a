"""perf: entries no longer repeat the leaf's key id and receive time

Both are inside the leaf bytes (``JCS({"event", "key", "received", "sig"})``), which
are what is hashed and kept; the columns cost about 46 bytes per entry and nothing
queried them. `ledger.store.queries.entry_from_row` reads them from the leaf.

SQLite 3.35+ and PostgreSQL both drop a column in place (no table rebuild, so the
entries table stays WITHOUT ROWID on SQLite). The downgrade restores both columns from
the leaf bytes.

Revision ID: 0005_perf
Revises: 0004_signals, 0004_cosignatures
Create Date: 2026-11-28 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_perf"
# after both parallel 0004 migrations (this merges the two heads)
down_revision = ("0004_signals", "0004_cosignatures")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute("ALTER TABLE entries DROP COLUMN key_id")
    op.execute("ALTER TABLE entries DROP COLUMN received")


def downgrade() -> None:
    """Revert this revision: re-add the columns, filled from each leaf."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column, size in (("key_id", 22), ("received", 32)):
        op.execute(f"ALTER TABLE entries ADD COLUMN {column} VARCHAR({size}) NOT NULL DEFAULT ''")
    if sqlite:
        op.execute(
            "UPDATE entries SET key_id = json_extract(CAST(leaf AS TEXT), '$.key'), "
            "received = json_extract(CAST(leaf AS TEXT), '$.received')"
        )
    else:
        op.execute(
            "UPDATE entries SET key_id = convert_from(leaf, 'UTF8')::json->>'key', "
            "received = convert_from(leaf, 'UTF8')::json->>'received'"
        )
        for column in ("key_id", "received"):
            op.alter_column("entries", column, server_default=None, existing_type=sa.String())
