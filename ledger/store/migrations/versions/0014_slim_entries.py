"""slim entries: the leaf hash is computed from the leaf bytes, not stored beside them

``leaf_hash`` is ``SHA-256(0x00 || leaf)`` of the row's own ``leaf`` column: 33 bytes
per entry on either database that say nothing the leaf does not. Readers hash the leaf
(ledger.store.queries: entries, level-0 subtrees of proofs and right edges, duplicate
receipts); a stored copy could only disagree with the leaf, which the audit then had to
report. Old logs stay readable: nothing else about a row changes.

SQLite 3.35+ and PostgreSQL both drop a column in place (no table rebuild, so the
entries table stays WITHOUT ROWID on SQLite). The downgrade restores the column,
computed from each leaf in Python (SQLite has no SHA-256), in batches.

Revision ID: 0014_slim_entries
Revises: 0012_map
Create Date: 2026-12-03 15:05:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0014_slim_entries"
down_revision = "0012_map"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    """Apply this revision."""
    op.execute("ALTER TABLE entries DROP COLUMN leaf_hash")


def downgrade() -> None:
    """Revert this revision: re-add the column, filled with each leaf's hash."""
    op.add_column(
        "entries",
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False, server_default=""),
    )
    conn = op.get_bind()
    last: tuple[int, int] = (-1, -1)
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT log, idx, leaf FROM entries WHERE log > :log OR (log = :log AND idx > :idx)"
                " ORDER BY log, idx LIMIT :n"
            ),
            {"log": last[0], "idx": last[1], "n": BATCH},
        ).all()
        if not rows:
            break
        conn.execute(
            sa.text("UPDATE entries SET leaf_hash = :h WHERE log = :log AND idx = :idx"),
            [
                {"h": hashlib.sha256(b"\x00" + bytes(r.leaf)).digest(), "log": r.log, "idx": r.idx}
                for r in rows
            ],
        )
        last = (rows[-1].log, rows[-1].idx)
    if conn.dialect.name != "sqlite":  # SQLite would rebuild the table to drop a default
        op.alter_column("entries", "leaf_hash", server_default=None, existing_type=sa.LargeBinary())
