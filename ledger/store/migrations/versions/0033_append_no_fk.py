"""append_no_fk: on PostgreSQL, ``entries.log`` and ``units.log`` no longer reference
``logs.id`` (issue 20)

Every append inserts one ``entries`` row an event and (a commission) one ``units`` row,
and PostgreSQL checks a foreign key with a trigger per inserted row: queued after the
row, then run at the statement's end as an SPI query that looks the ``logs`` row up and
locks it ``FOR KEY SHARE``. For a batch of 1,000 commissions that was 2,000 queries, the
largest single cost of the server's append after the inserts themselves
(docs/PERFORMANCE.md, "wtx32, session 32"). As for ``map_nodes`` (0026_map_nodes_no_fk),
the check could never fail: these rows are written only by a log's write transaction
(ledger.store.writer), after that log's row was read and locked ``FOR UPDATE``
(`WriteTx.lock_head` refuses a log that does not exist), and logs are never deleted.

SQLite keeps both keys: it cannot drop a constraint without rebuilding the table (for
``entries``, the whole log), and its check is one primary-key probe of ``logs`` a row,
not a trigger and a query. The model (ledger.store.schema) keeps them too, as SQLite's;
`PG_WITHOUT_FOREIGN_KEY` names the tables whose key PostgreSQL lacks.

PostgreSQL drops the constraints (no rewrite); the downgrade adds them back (PostgreSQL
checks every row then).

Revision ID: 0033_append_no_fk
Revises: 0032_map_buckets
Create Date: 2026-12-05 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_append_no_fk"
down_revision = "0032_map_buckets"
branch_labels = None
depends_on = None

#: the tables and the names PostgreSQL gave their unnamed constraints (0001, and the
#: downgrade's)
_TABLES = {"entries": "entries_log_fkey", "units": "units_log_fkey"}


def upgrade() -> None:
    """Apply this revision: PostgreSQL drops the two foreign keys."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    inspector = sa.inspect(bind)
    for table, name in _TABLES.items():
        for found in inspector.get_foreign_keys(table):
            if found["referred_table"] == "logs":
                op.drop_constraint(found["name"] or name, table, type_="foreignkey")


def downgrade() -> None:
    """Revert this revision: the foreign keys of 0001 again (PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, name in _TABLES.items():
        op.create_foreign_key(name, table, "logs", ["log"], ["id"])
