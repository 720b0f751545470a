"""Running today's store code on a database migrated down to an older revision (the
migration tests append and audit there, to show their data forms are read both ways).

Today's code reads and writes the stored tree in ``tiles`` as well as ``nodes``
(ledger.store.nodetiles, 0028_tiles), a table older revisions do not have: `downgrade`
gives the old revision an empty one (its downgrade moved every tile back into ``nodes``
rows, which the code reads as the incomplete tiles' rows), and `upgrade` drops it again
before migrating up, checking that nothing was written to it meanwhile (these logs are
far below the 2048 entries that complete a tile).

Today's code keeps the map of heads in ``map_buckets`` (0032_map_buckets), which older
revisions keep as ``map_nodes``: `downgrade` gives the old revision a ``map_buckets``
converted from its ``map_nodes`` (today's code reads and extends it there), and
`upgrade` (or a further `downgrade`) first puts that map back into ``map_nodes``
(ledger.store.mapnodes.buckets_to_nodes) and drops ``map_buckets``, so the migrations
see the map as an older revision would have kept it.
"""

from __future__ import annotations

from typing import cast

from alembic import command
from sqlalchemy import Connection, Table, inspect, text

from ledger.store.database import Engines, _alembic_config, migrate
from ledger.store.mapnodes import MAP_BUCKETS, buckets_to_nodes, nodes_to_buckets
from ledger.store.schema import TileRow

TILES = cast(Table, TileRow.__table__)


def downgrade(engines: Engines, revision: str) -> None:
    """Migrate down to ``revision``, then add an empty ``tiles`` table and the map as
    ``map_buckets`` for today's code."""
    with engines.writer.begin() as conn:
        _fold_buckets(conn)
        command.downgrade(_alembic_config(conn), revision)
        TILES.create(conn, checkfirst=True)
        MAP_BUCKETS.create(conn)
        nodes_to_buckets(conn)


def upgrade(engines: Engines) -> None:
    """Drop the (still empty) ``tiles`` table `downgrade` added, put the map back into
    ``map_nodes``, then migrate up."""
    with engines.writer.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM tiles")).scalar() == 0
        TILES.drop(conn)
        _fold_buckets(conn)
    migrate(engines)


def _fold_buckets(conn: Connection) -> None:
    """At an older revision: ``map_nodes`` replaced by the map in ``map_buckets``, which
    goes (at the newest revision, where ``map_nodes`` is gone: nothing)."""
    tables = set(inspect(conn).get_table_names())
    if {"map_nodes", "map_buckets"} <= tables:
        conn.execute(text("DELETE FROM map_nodes"))
        buckets_to_nodes(conn)
        MAP_BUCKETS.drop(conn)
