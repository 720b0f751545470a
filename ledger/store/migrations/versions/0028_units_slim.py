"""units slim: PostgreSQL keeps half of each ``units`` page free (issue 20, bytes per entry)

Every append that moves a unit rewrites its ``units`` row (head, custodian, holders...;
one write per unit and batch, `writer.ProjectionWriter.upsert` keeps the last). On
PostgreSQL an update writes a whole new row version; on a full page it goes to a new
page at the end of the file, with a new ``units_pkey`` entry, and the old version stays
until VACUUM. A batch moves whole runs of units (commissioned together, hence on the
same pages), so between vacuums the file grew to ~3 times its live rows, and a plain
``VACUUM`` cannot give back pages in the middle of it (docs/PERFORMANCE.md, branch
``pgunits``). With half of each page free, the new versions of a whole page's units fit
on that page: the updates are heap-only (no index entry), and the next write to the page
prunes the versions a committed batch left behind, so the file stays at ~2 times its
live rows in every state, and ``units_pkey`` stops growing with every update.

Less than half would not do: a batch that moves every unit of a page needs room for
every one of their new versions (60 measured worse than 50). Pages written before this
revision fill up to the new factor only when rewritten (``VACUUM FULL units`` rewrites
them all at once). SQLite rewrites a row in place: nothing changes there.

Also, PostgreSQL: ``logs`` and ``products`` lose their TOAST table (an empty one costs
a page of index, 8 KiB, in every database). A table gets one when a column could hold
an unbounded value stored out of line; every column of these two is bounded (hashes of
32 bytes, ``varchar(n)``: a row of at most ~1.3 and ~2.9 KB, under the 8 KB page), so
their columns are stored ``PLAIN`` (never moved out of line or compressed: a row above
2 KB, possible only for a product with three long names in 4-byte characters, is kept
whole) and the tables are rewritten (``CLUSTER``, a few rows) without one. The
downgrade stores them as before; ``ALTER TABLE`` creates the TOAST table again.

Revision ID: 0028_units_slim
Revises: 0027_storage_v2
Create Date: 2026-12-04 12:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0028_units_slim"
down_revision = "0027_storage_v2"
branch_labels = None
depends_on = None

FILLFACTOR = 50
#: the tables without a TOAST table, their variable-length columns, and the index to
#: rewrite them by; the storage each column had (the type's default) is given back on
#: the downgrade
BOUNDED = {
    "logs": (("name", "origin", "chain", "root"), "logs_pkey"),
    "products": (("gtin", "brand", "name", "name_zh", "support", "image"), "products_pkey"),
}


def _storage(table: str, columns: tuple[str, ...], storage: str) -> None:
    op.execute(
        f"ALTER TABLE {table} "
        + ", ".join(f"ALTER COLUMN {c} SET STORAGE {storage}" for c in columns)
    )


def upgrade() -> None:
    """Apply this revision (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE units SET (fillfactor = {FILLFACTOR})")
        for table, (columns, index) in BOUNDED.items():
            _storage(table, columns, "PLAIN")
            op.execute(f"CLUSTER {table} USING {index}")  # the rewrite leaves TOAST out
            op.execute(f"ALTER TABLE {table} SET WITHOUT CLUSTER")  # no mark left behind


def downgrade() -> None:
    """Revert this revision (PostgreSQL only): the default fill factor (100), the
    default storage of each column (``EXTENDED``: varchar and bytea) and with it a
    TOAST table for ``logs`` and ``products``."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE units RESET (fillfactor)")
        for table, (columns, _) in BOUNDED.items():
            _storage(table, columns, "EXTENDED")
