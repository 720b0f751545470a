"""Running today's store code on a database migrated down to an older revision (the
migration tests append and audit there, to show their data forms are read both ways).

Today's code reads and writes the stored tree in ``tiles`` as well as ``nodes``
(ledger.store.nodetiles, 0028_tiles), a table older revisions do not have: `downgrade`
gives the old revision an empty one (its downgrade moved every tile back into ``nodes``
rows, which the code reads as the incomplete tiles' rows), and `upgrade` drops it again
before migrating up, checking that nothing was written to it meanwhile (these logs are
far below the 2048 entries that complete a tile).

Today's code also reads and writes ``entries.event_key``, the 8-byte key of each event
hash, and no ``units.head`` (0031_from_leaves): `downgrade` gives the old revision that
layout (the revision's own `cut_hashes` and `drop_heads`), and `upgrade` puts the whole
hashes and heads back from the leaves first, as that revision's downgrade does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import cast

from alembic import command
from sqlalchemy import Connection, Table, text

from ledger.store.database import Engines, _alembic_config, migrate
from ledger.store.schema import TileRow

TILES = cast(Table, TileRow.__table__)
VERSIONS = Path(__file__).parents[2] / "ledger" / "store" / "migrations" / "versions"


def revision_module(name: str) -> ModuleType:
    """The migration module ``name`` (its file name without ``.py``), loaded by path."""
    spec = importlib.util.spec_from_file_location(f"revision_{name}", VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FROM_LEAVES = revision_module("0031_from_leaves")


def _before_event_key(conn: Connection) -> bool:
    """Whether the database is at a revision before 0025_slim_log, which replaced the
    unique index on the whole hash (``ix_entries_event_hash``) by the key index."""
    version = str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    return int(version[:4]) < 25


def downgrade(engines: Engines, revision: str) -> None:
    """Migrate down to ``revision``, then add an empty ``tiles`` table and the event keys
    for today's code."""
    with engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)
        TILES.create(conn, checkfirst=True)
        # before 0025 the unique index on the whole hash follows the column's new name
        FROM_LEAVES.cut_hashes(conn, key_index=not _before_event_key(conn))
        FROM_LEAVES.drop_heads(conn)


def upgrade(engines: Engines) -> None:
    """Drop the (still empty) ``tiles`` table `downgrade` added, restore the whole event
    hashes, then migrate up."""
    with engines.writer.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM tiles")).scalar() == 0
        TILES.drop(conn)
        FROM_LEAVES.restore_heads(conn)
        FROM_LEAVES.restore_hashes(conn, key_index=not _before_event_key(conn))
    migrate(engines)
