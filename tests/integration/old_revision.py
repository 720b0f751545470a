"""Running today's store code on a database migrated down to an older revision (the
migration tests append and audit there, to show their data forms are read both ways).

Today's code reads and writes the stored tree in ``tiles`` as well as ``nodes``
(ledger.store.nodetiles, 0028_tiles), a table older revisions do not have: `downgrade`
gives the old revision an empty one (its downgrade moved every tile back into ``nodes``
rows, which the code reads as the incomplete tiles' rows), and `upgrade` drops it again
before migrating up, checking that nothing was written to it meanwhile (these logs are
far below the 2048 entries that complete a tile).
"""

from __future__ import annotations

from typing import cast

from alembic import command
from sqlalchemy import Table, text

from ledger.store.database import Engines, _alembic_config, migrate
from ledger.store.schema import TileRow

TILES = cast(Table, TileRow.__table__)


def downgrade(engines: Engines, revision: str) -> None:
    """Migrate down to ``revision``, then add an empty ``tiles`` table for today's code."""
    with engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)
        TILES.create(conn, checkfirst=True)


def upgrade(engines: Engines) -> None:
    """Drop the (still empty) ``tiles`` table `downgrade` added, then migrate up."""
    with engines.writer.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM tiles")).scalar() == 0
        TILES.drop(conn)
    migrate(engines)
