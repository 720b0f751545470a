"""map buckets: the map of heads stored four trie levels a row (issue 18)

``map_nodes`` held one row a node (~6,150 rows written a batch of 1,000 keys); a
``map_buckets`` row holds the nodes at the four depths below a node at a depth
divisible by 4 (ledger.map.buckets, docs/FORMAT.md 14.2): ~1,150 rows a batch, and an
update that works on the rows themselves (ledger.map.bucketmap). The nodes, hashes,
roots and proofs are unchanged: only where they are stored.

The upgrade groups each log's ``map_nodes`` rows into buckets in Python and drops
``map_nodes``; the downgrade cuts every bucket into its nodes again, into ``map_nodes``
as 0026 left it (no foreign key; SQLite WITHOUT ROWID, PostgreSQL fill factor 70), and
drops ``map_buckets``. ``map_buckets`` is a rowid table on SQLite (rows of up to ~1 KB:
an index b-tree would spill them to overflow pages) and has a fill factor of 70 on
PostgreSQL (a batch rewrites most of the top buckets). Run ``VACUUM`` (SQLite) afterwards
to hand the freed pages back.

Revision ID: 0032_map_buckets
Revises: 0031_from_leaves
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.store.mapnodes import buckets_to_nodes, nodes_to_buckets

revision = "0032_map_buckets"
down_revision = "0031_from_leaves"
branch_labels = None
depends_on = None

#: PostgreSQL: room on each page for the rewritten buckets' new versions (heap-only
#: updates, pruned in the page): map/bytes 74 bytes/entry against 154 at 100, 102 at
#: 85 (docs/PERFORMANCE.md "buckets, session 24")
FILLFACTOR = 70


def upgrade() -> None:
    """Apply this revision: ``map_buckets`` filled from ``map_nodes``, which goes."""
    op.create_table(
        "map_buckets",
        sa.Column("log", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pos", sa.LargeBinary(length=33), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("log", "pos"),
        postgresql_with={"fillfactor": FILLFACTOR},
    )
    nodes_to_buckets(op.get_bind())
    op.drop_table("map_nodes")


def downgrade() -> None:
    """Revert this revision: ``map_nodes`` as 0026 left it, filled from the buckets."""
    op.create_table(
        "map_nodes",
        sa.Column("log", sa.Integer(), nullable=False),
        sa.Column("pos", sa.LargeBinary(length=33), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("key", sa.LargeBinary(length=32), nullable=True),
        sa.Column("idx", sa.BigInteger(), nullable=True),
        sa.Column("entry", sa.LargeBinary(length=32), nullable=True),
        sa.PrimaryKeyConstraint("log", "pos"),
        sqlite_with_rowid=False,
        postgresql_with={"fillfactor": 70},
    )
    buckets_to_nodes(op.get_bind())
    op.drop_table("map_buckets")
