"""map fillfactor: PostgreSQL keeps 30 % of each ``map_nodes`` page free (issue 18)

Every append rewrites the map's nodes on the changed keys' paths, the ones near the
root every time. On PostgreSQL an update writes a new row version; on a full page it
goes to another page, with a new index entry, and the old version stays until VACUUM,
so the table grew to 2-3 times its live size between vacuums (docs/PERFORMANCE.md,
"The map of heads"). With room left on each page the new version stays on its page
(a heap-only tuple: no index entry) and the page's dead versions are pruned in place
by later writes. Pages written before this revision fill up to the new factor only
when rewritten (``VACUUM FULL map_nodes`` rewrites them all). SQLite: nothing changes.

Revision ID: 0025_map_fillfactor
Revises: 0025_slim_log
Create Date: 2026-12-04 00:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0025_map_fillfactor"
down_revision = "0025_slim_log"
branch_labels = None
depends_on = None

FILLFACTOR = 70


def upgrade() -> None:
    """Apply this revision (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE map_nodes SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    """Revert this revision (PostgreSQL only): the default fill factor (100)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE map_nodes RESET (fillfactor)")
