"""storage: leaves stored packed (DEFLATE against a fixed dictionary), low Merkle nodes not stored

New entries are written packed whatever the revision (readers accept both forms: a raw
leaf starts with ``{``, a packed one with ``0x01``); this revision packs the leaves an
existing log already holds, in batches, so old and new rows cost the same. A custody
leaf of ~350 bytes is stored in ~200. The leaf bytes the log hashes and serves do not
change, nor does any other column.

Merkle nodes of levels 1 and 2 (3/4 of the ``nodes`` rows) are deleted: readers
compute them from their 2 or 4 leaves (ledger.store.queries.LOWEST_NODE_LEVEL), and the
append no longer writes them. The downgrade computes them again from the leaves.

PostgreSQL: the primary keys of ``entries`` and ``nodes`` get ``fillfactor = 100``.
Both grow at their right end within a log (``idx`` only increases), where a B-tree
split leaves the left page ``fillfactor`` full: 100 packs them instead of leaving the
default 10 % of every page empty for inserts that never come.

The rewrite leaves the old row versions as free space: run ``VACUUM`` (SQLite) or
``VACUUM FULL entries`` (PostgreSQL; it also rebuilds the indexes at the new fill
factor) afterwards to hand it back to the file system. The downgrade unpacks every
leaf in place and resets the fill factors.

Revision ID: 0017_storage
Revises: 0022_product_data
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from ledger.merkle import leaf_hash, node_hash
from ledger.store.leafpack import pack, unpack

revision = "0017_storage"
down_revision = "0022_product_data"
branch_labels = None
depends_on = None

BATCH = 5000
#: right-growing primary keys (see the module docstring)
PACKED_INDEXES = ("entries_pkey", "nodes_pkey")


def _rewrite(convert: Callable[[bytes], bytes]) -> None:
    """Replace each stored leaf by ``convert(leaf)`` where that differs, in key order."""
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
            value = convert(stored)
            if value != stored:
                changed.append({"leaf": value, "log": row.log, "idx": row.idx})
        if changed:
            conn.execute(
                sa.text("UPDATE entries SET leaf = :leaf WHERE log = :log AND idx = :idx"),
                changed,
            )
        last = (rows[-1].log, rows[-1].idx)


def upgrade() -> None:
    """Apply this revision: pack every raw leaf (an unreadable packed one stays as is)."""
    _rewrite(lambda stored: pack(stored) if stored[:1] == b"{" else stored)
    op.execute("DELETE FROM nodes WHERE level < 3")
    if op.get_bind().dialect.name == "postgresql":
        for index in PACKED_INDEXES:
            op.execute(f"ALTER INDEX {index} SET (fillfactor = 100)")


def downgrade() -> None:
    """Revert this revision: every leaf stored raw again."""
    _rewrite(unpack)
    _restore_low_nodes()
    if op.get_bind().dialect.name == "postgresql":
        for index in PACKED_INDEXES:
            op.execute(f"ALTER INDEX {index} RESET (fillfactor)")


def _restore_low_nodes() -> None:
    """Write the nodes of levels 1 and 2 of every complete group of leaves, per log."""
    conn = op.get_bind()
    for log, size in conn.execute(sa.text("SELECT id, size FROM logs")).all():
        for start in range(0, size - size % 2, BATCH):  # BATCH is a multiple of 4
            leaves = [
                leaf_hash(unpack(bytes(r.leaf)))
                for r in conn.execute(
                    sa.text(
                        "SELECT leaf FROM entries WHERE log = :log AND idx >= :a AND idx < :b"
                        " ORDER BY idx"
                    ),
                    {"log": log, "a": start, "b": min(start + BATCH, size)},
                )
            ]
            ones = [node_hash(leaves[i], leaves[i + 1]) for i in range(0, len(leaves) - 1, 2)]
            twos = [node_hash(ones[i], ones[i + 1]) for i in range(0, len(ones) - 1, 2)]
            rows = [
                {"log": log, "level": level, "idx": (start >> level) + i, "hash": h}
                for level, hashes in ((1, ones), (2, twos))
                for i, h in enumerate(hashes)
            ]
            if rows:
                insert = (
                    "INSERT INTO nodes (log, level, idx, hash) VALUES (:log, :level, :idx, :hash)"
                )
                conn.execute(sa.text(insert), rows)
