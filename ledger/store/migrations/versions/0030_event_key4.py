"""event key4: PostgreSQL's event key index on a 4-byte integer, not an 8-byte prefix

Issue 20, bytes per entry. ``ix_entries_event_key`` (0025_slim_log) indexes ``(log,
substr(event_hash, 1, 8))``: on PostgreSQL an index tuple of 8 bytes of header, 4 of
``log`` and 9 of ``bytea`` (1-byte length and the 8 bytes), aligned to 24, plus its
4-byte line pointer. On the first 4 bytes of the hash as a signed big-endian ``int4``
(``ledger.store.schema.EVENT_KEY_PG``) the tuple is 16 bytes: the index of the quick
storage run goes from 212,992 to 172,032 bytes (-8 bytes per entry). A probe still
compares the whole hash in the row (`ledger.store.queries.find_event_hashes`), so two
events sharing a key are never taken for one another; at 32 bits a probe in a log of 16
million entries meets another row of its key once in ~260.

SQLite keeps the 8-byte prefix: there an index entry is a record of its values,
without alignment, and the integer would save ~3 bytes of 18 per entry.

Revision ID: 0030_event_key4
Revises: 0029_node_runs
Create Date: 2026-12-04 17:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0030_event_key4"
down_revision = "0029_node_runs"
branch_labels = None
depends_on = None

# spelled out here (the same text as ledger.store.schema's, which a query must match):
# a later change there must not change what this revision did
EVENT_KEY = "substr(event_hash, 1, 8)"
EVENT_KEY_PG = (
    "((get_byte(event_hash, 0) << 24) | (get_byte(event_hash, 1) << 16)"
    " | (get_byte(event_hash, 2) << 8) | get_byte(event_hash, 3))"
)


def _index_on(key: str) -> None:
    op.execute("DROP INDEX ix_entries_event_key")
    op.execute(f"CREATE INDEX ix_entries_event_key ON entries (log, ({key}))")


def upgrade() -> None:
    """Apply this revision (PostgreSQL only): the index rebuilt on the 4-byte key."""
    if op.get_bind().dialect.name == "postgresql":
        _index_on(EVENT_KEY_PG)


def downgrade() -> None:
    """Revert this revision (PostgreSQL only): the index on the 8-byte prefix again."""
    if op.get_bind().dialect.name == "postgresql":
        _index_on(EVENT_KEY)
