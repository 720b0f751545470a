"""slim_log: smaller entry indexes (the duplicate lookup on a hash prefix)

Issue 20: bytes per entry of the log and its indexes. Two changes, none to a row:

- ``ix_entries_event_hash`` (unique, ``log, event_hash``: 32 bytes of key an entry) is
  replaced by ``ix_entries_event_key`` on ``log, substr(event_hash, 1, 8)``, not unique.
  The duplicate lookup (ledger.store.queries.find_event_hashes) probes the 8-byte
  prefix and keeps only rows whose full hash matches, so two events sharing a prefix
  are told apart. Uniqueness of an event in a log is the append's own check, made under
  the log's lock (it always was: the unique index only backed it up).
- ``ix_entries_unit`` drops its trailing ``idx``: ``log, gtin, serial``. A unit's
  entries share one key, which PostgreSQL's B-tree deduplication (13+) stores once with
  a list of row pointers; readers sort a unit's few rows by ``idx``. On SQLite the
  index still ends with the primary key (``log, idx``), so nothing changes there.

The units' row versions after plain ``VACUUM`` (every handoff and receive updates its
unit's row; on full pages each update moves to another one) were measured with fill
factors 100 to 40 and left as they are: 60 % full pages saved 22 bytes an entry after
``VACUUM`` and cost 24 after ``VACUUM FULL``, 50 % saved 44 and cost 39
(docs/PERFORMANCE.md "Storage, session 19").

Entries, proofs, receipts and the audit do not change across either step. The
downgrade restores the two indexes as they were (the unique one fails, as it should,
if the log now holds an event twice).

Revision ID: 0025_slim_log
Revises: 0023_scanstats
Create Date: 2026-12-03 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_slim_log"
down_revision = "0023_scanstats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: the two slimmer indexes."""
    op.drop_index("ix_entries_event_hash", table_name="entries")
    op.create_index("ix_entries_event_key", "entries", ["log", sa.text("substr(event_hash, 1, 8)")])
    op.drop_index("ix_entries_unit", table_name="entries")
    op.create_index("ix_entries_unit", "entries", ["log", "gtin", "serial"])


def downgrade() -> None:
    """Revert this revision: the indexes of 0001_initial_schema."""
    op.drop_index("ix_entries_unit", table_name="entries")
    op.create_index("ix_entries_unit", "entries", ["log", "gtin", "serial", "idx"])
    op.drop_index("ix_entries_event_key", table_name="entries")
    op.create_index("ix_entries_event_hash", "entries", ["log", "event_hash"], unique=True)
