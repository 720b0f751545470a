"""map_nodes_no_fk: ``map_nodes.log`` no longer references ``logs.id`` (issue 18)

Every append inserts the map nodes of its new keys (about five rows a key), and a
foreign key is checked on every inserted row: on PostgreSQL a trigger per row that
looks the ``logs`` row up and locks it (``FOR KEY SHARE``), on SQLite a lookup per row.
The map's only writer is the append (ledger.service.headmap), which writes a log's
nodes inside that log's own write transaction, after the log row was read and locked,
and logs are never deleted: the check could never fail, it only cost time
(docs/PERFORMANCE.md, "The map of heads").

PostgreSQL drops the constraint (no rewrite). SQLite cannot drop a constraint: the
table is rebuilt without it (same columns, same primary key, WITHOUT ROWID) and its
rows copied. The downgrade puts the foreign key back (PostgreSQL checks the rows then).

Revision ID: 0026_map_nodes_no_fk
Revises: 0025_map_fillfactor
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_map_nodes_no_fk"
down_revision = "0025_map_fillfactor"
branch_labels = None
depends_on = None

#: the name PostgreSQL gave the unnamed constraint of 0012_map (and the downgrade's)
_PG_NAME = "map_nodes_log_fkey"
_COLUMNS = "log, pos, hash, key, idx, entry"


def upgrade() -> None:
    """Apply this revision: the foreign key is gone."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(foreign_key=False)
        return
    for found in sa.inspect(bind).get_foreign_keys("map_nodes"):
        op.drop_constraint(found["name"] or _PG_NAME, "map_nodes", type_="foreignkey")


def downgrade() -> None:
    """Revert this revision: the foreign key of 0012_map again."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(foreign_key=True)
        return
    op.create_foreign_key(_PG_NAME, "map_nodes", "logs", ["log"], ["id"])


def _rebuild_sqlite(foreign_key: bool) -> None:
    """Copy ``map_nodes`` into a new table with or without the foreign key, then swap."""
    temporary = "_map_nodes_0026"
    constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint("log", "pos")]
    if foreign_key:
        constraints.append(sa.ForeignKeyConstraint(["log"], ["logs.id"]))
    op.create_table(
        temporary,
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("pos", sa.LargeBinary(length=33), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("key", sa.LargeBinary(length=32), nullable=True),
        sa.Column("idx", sa.BigInteger(), nullable=True),
        sa.Column("entry", sa.LargeBinary(length=32), nullable=True),
        *constraints,
        sqlite_with_rowid=False,
    )
    op.execute(f"INSERT INTO {temporary} ({_COLUMNS}) SELECT {_COLUMNS} FROM map_nodes")  # noqa: S608 (constants)
    op.drop_table("map_nodes")
    op.rename_table(temporary, "map_nodes")
