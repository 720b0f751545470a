"""storage_v2: leaves packed with their random fields raw; a partial container index

Issue 20, bytes per entry. Three changes, none to what the log hashes, signs or serves:

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
- ``entries.chain`` keeps the running chain hash only where
  ``ledger.store.queries.CHAIN_EVERY`` says (every 256th entry, the last entry of each
  append: every checkpoint's and the head's); the other rows hold it empty (32 of
  their bytes). Readers get ``None`` there (as from a remote audit source), and
  ``Store.chain_at`` folds a chain forward from the nearest stored one. The audit
  computes every chain from the leaves and compares the stored ones, as before. The
  downgrade computes and stores every chain again.

The rewrite leaves the old row versions as free space: run ``VACUUM`` (SQLite) or
``VACUUM FULL entries`` (PostgreSQL) afterwards to hand it back to the file system.

Revision ID: 0027_storage_v2
Revises: 0026_map_nodes_no_fk
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from ledger.entry import ZERO_HASH, chain_hash
from ledger.merkle import leaf_hash
from ledger.store import queries
from ledger.store.leafpack import PACKED_V1, PACKED_V2, pack, pack_v1, unpack

revision = "0027_storage_v2"
down_revision = "0026_map_nodes_no_fk"
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


def _thin_chains() -> None:
    """Empty the chains `queries.chain_to_store` would not have kept: kept are every
    `queries.CHAIN_EVERY`-th and the last entry of each checkpoint and of the head."""
    op.get_bind().execute(
        sa.text(
            "UPDATE entries SET chain = :empty WHERE length(chain) > 0"
            " AND idx % :every <> :every - 1"
            " AND NOT EXISTS (SELECT 1 FROM checkpoints AS c"
            "  WHERE c.log = entries.log AND c.size = entries.idx + 1)"
            " AND NOT EXISTS (SELECT 1 FROM logs AS l"
            "  WHERE l.id = entries.log AND l.size = entries.idx + 1)"
        ),
        {"empty": b"", "every": queries.CHAIN_EVERY},
    )


def _fill_chains() -> None:
    """Store every empty chain again, computed from the leaves in index order."""
    conn = op.get_bind()
    for (log,) in conn.execute(sa.text("SELECT id FROM logs ORDER BY id")).all():
        chain, last = ZERO_HASH, -1
        while True:
            rows = conn.execute(
                sa.text(
                    "SELECT idx, leaf, chain FROM entries WHERE log = :log AND idx > :idx"
                    " ORDER BY idx LIMIT :n"
                ),
                {"log": log, "idx": last, "n": BATCH},
            ).all()
            if not rows:
                break
            changed = []
            for row in rows:
                chain = chain_hash(chain, leaf_hash(unpack(bytes(row.leaf))))
                if not bytes(row.chain):
                    changed.append({"chain": chain, "log": log, "idx": row.idx})
            if changed:
                conn.execute(
                    sa.text("UPDATE entries SET chain = :chain WHERE log = :log AND idx = :idx"),
                    changed,
                )
            last = rows[-1].idx


def upgrade() -> None:
    """Apply this revision: leaves in the second packed form, chains kept sparsely,
    the partial index."""
    _rewrite(PACKED_V1, pack)
    _thin_chains()
    _container_index("container IS NOT NULL")


def downgrade() -> None:
    """Revert this revision: leaves in the first packed form, every chain stored, the
    full index."""
    _rewrite(PACKED_V2, pack_v1)
    _fill_chains()
    _container_index(None)
