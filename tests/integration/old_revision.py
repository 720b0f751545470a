"""Running today's store code on a database migrated down to an older revision (the
migration tests append and audit there, to show their data forms are read both ways).

Today's code reads and writes the stored tree in ``tiles`` as well as ``nodes``
(ledger.store.nodetiles, 0028_tiles), a table older revisions do not have: `downgrade`
gives the old revision an empty one (its downgrade moved every tile back into ``nodes``
rows, which the code reads as the incomplete tiles' rows), and `upgrade` drops it again
before migrating up, checking that nothing was written to it meanwhile (these logs are
far below the 2048 entries that complete a tile).

Today's code also reads and writes ``entries.event_key``, the 8-byte key of each event
hash, and no ``units.head`` (0031_from_leaves): `downgrade` gives a revision before it
that layout (the revision's own `cut_hashes` and `drop_heads`), and `upgrade` puts the
whole hashes and heads back from the leaves first, as that revision's downgrade does.

Today's code keeps the map of heads in ``map_buckets`` (0032_map_buckets), which older
revisions keep as ``map_nodes``: `downgrade` gives the old revision a ``map_buckets``
converted from its ``map_nodes`` (today's code reads and extends it there), and
`upgrade` (or a further `downgrade`) first puts that map back into ``map_nodes``
(ledger.store.mapnodes.buckets_to_nodes) and drops ``map_buckets``, so the migrations
see the map as an older revision would have kept it.

Today's code reads and writes ``logs.map_size`` (0034_map_size): `downgrade` gives an
older revision the column (NULL: the map in step), and `upgrade` drops it again first,
asserting it is still NULL (an append there leaves it set only while the map's child has
a large batch's rows to write: `upgrade` after one has the test settle it first,
`AppendMemo.settle_map`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import cast

from alembic import command
from sqlalchemy import Connection, Table, inspect, text

from ledger.store.database import Engines, _alembic_config, migrate
from ledger.store.mapnodes import MAP_BUCKETS, buckets_to_nodes, nodes_to_buckets
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


def _revision(conn: Connection) -> int:
    """The number of the database's revision (``0030_event_key4`` -> 30)."""
    version = str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    return int(version[:4])


def downgrade(engines: Engines, revision: str) -> None:
    """Migrate down to ``revision``, then add what today's code needs of the newer
    layouts: an empty ``tiles`` table, the event keys and no stored heads (before 0031),
    the map as ``map_buckets`` (before 0032), ``logs.map_size`` (before 0034)."""
    with engines.writer.begin() as conn:
        _fold_buckets(conn)
        if _revision(conn) < 34:
            drop_map_size(conn)
        command.downgrade(_alembic_config(conn), revision)
        TILES.create(conn, checkfirst=True)
        number = _revision(conn)
        if number < 31:
            # before 0025 the unique index on the whole hash follows the column's new name
            FROM_LEAVES.cut_hashes(conn, key_index=number >= 25)
            FROM_LEAVES.drop_heads(conn)
        if number < 32:
            MAP_BUCKETS.create(conn)
            nodes_to_buckets(conn)
        if number < 34:
            add_map_size(conn)


def upgrade(engines: Engines) -> None:
    """Drop the (still empty) ``tiles`` table `downgrade` added, put the map back into
    ``map_nodes`` and the whole event hashes and heads back, then migrate up."""
    with engines.writer.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM tiles")).scalar() == 0
        TILES.drop(conn)
        _fold_buckets(conn)
        number = _revision(conn)
        if number < 34:
            drop_map_size(conn)
        if number < 31:
            FROM_LEAVES.restore_heads(conn)
            FROM_LEAVES.restore_hashes(conn, key_index=number >= 25)
    migrate(engines)


def add_map_size(conn: Connection) -> None:
    """At a revision before 0034: ``logs.map_size`` as today's code reads it (NULL)."""
    conn.execute(text("ALTER TABLE logs ADD COLUMN map_size BIGINT"))


def drop_map_size(conn: Connection) -> None:
    """At a revision before 0034: the ``logs.map_size`` `add_map_size` added goes
    (every value NULL: no map was left behind its log)."""
    assert conn.execute(text("SELECT count(*) FROM logs WHERE map_size IS NOT NULL")).scalar() == 0
    conn.execute(text("ALTER TABLE logs DROP COLUMN map_size"))


def _fold_buckets(conn: Connection) -> None:
    """At an older revision: ``map_nodes`` replaced by the map in ``map_buckets``, which
    goes (at the newest revision, where ``map_nodes`` is gone: nothing)."""
    tables = set(inspect(conn).get_table_names())
    if {"map_nodes", "map_buckets"} <= tables:
        conn.execute(text("DELETE FROM map_nodes"))
        buckets_to_nodes(conn)
        MAP_BUCKETS.drop(conn)
