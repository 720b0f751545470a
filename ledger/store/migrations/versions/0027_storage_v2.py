"""storage_v2: leaves packed with their random fields raw; a partial container index

Issue 20, bytes per entry. Two changes, none to what the log hashes, signs or serves:

- Leaves are packed in the second form of ledger.store.leafpack (tag ``0x02``): the
  key id, the previous hash and the signature stored as raw bytes (112 bytes where
  their text took 151), the rest compressed against ``DICTIONARY_V2``. A custody leaf
  is stored in ~160 bytes instead of ~195. New rows are written so whatever the
  revision (readers accept every form); this revision repacks the rows an existing
  log already holds, in batches. The downgrade repacks them in the first form
  (``0x01``), which code from before this revision reads; raw rows stay raw.
- ``ix_units_container`` indexes only the units packed in a container (``WHERE
  container IS NOT NULL``): most units never are, and every lookup asks for an SSCC
  (``container IN (...)``, which implies the condition on both databases).

The rewrite leaves the old row versions as free space: run ``VACUUM`` (SQLite) or
``VACUUM FULL entries`` (PostgreSQL) afterwards to hand it back to the file system.

Revision ID: 0027_storage_v2
Revises: 0025_map_fillfactor
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from ledger.store.leafpack import PACKED_V1, PACKED_V2, pack, pack_v1, unpack

revision = "0027_storage_v2"
# the lead rechains this after 0026_map_nodes_no_fk (written on another branch)
down_revision = "0025_map_fillfactor"
branch_labels = None
depends_on = None

BATCH = 5000


def _rewrite(tag: int, convert: Callable[[bytes], bytes]) -> None:
    """Replace each stored leaf packed under ``tag`` by ``convert(leaf)`` (unpacked),
    in key order; rows that do not unpack (damaged) stay as they are."""
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
        changed = []
        for row in rows:
            stored = bytes(row.leaf)
            leaf = unpack(stored)
            if stored[:1] == bytes([tag]) and leaf != stored:
                value = convert(leaf)
                if value != stored:
                    changed.append({"leaf": value, "log": row.log, "idx": row.idx})
        if changed:
            conn.execute(
                sa.text("UPDATE entries SET leaf = :leaf WHERE log = :log AND idx = :idx"),
                changed,
            )
        last = (rows[-1].log, rows[-1].idx)


def _container_index(where: str | None) -> None:
    op.drop_index("ix_units_container", table_name="units")
    condition = None if where is None else sa.text(where)
    op.create_index(
        "ix_units_container",
        "units",
        ["log", "container"],
        sqlite_where=condition,
        postgresql_where=condition,
    )


def upgrade() -> None:
    """Apply this revision: leaves in the second packed form, the partial index."""
    _rewrite(PACKED_V1, pack)
    _container_index("container IS NOT NULL")


def downgrade() -> None:
    """Revert this revision: leaves in the first packed form, the full index."""
    _rewrite(PACKED_V2, pack_v1)
    _container_index(None)
