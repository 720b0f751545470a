"""Migration 0028_tiles: complete tiles of 256 node hashes move from ``nodes`` rows to
one ``tiles`` row each (ledger.store.nodetiles); the downgrade writes every tile's nodes
back as rows and drops ``tiles``. Both ways every log's hashes and proofs are the same,
and a tile with a hole in its nodes is left as node rows."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from ledger import merkle
from ledger.store import Store
from ledger.store.database import _alembic_config, migrate
from tests.integration.reloptions import attstorage
from tests.integration.test_node_tiles import _check_layout, _levels, _rows
from tests.integration.test_proof_tree import _leaf_hash, _open, grow

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
BIG = 3 * 2048 + 100  # level 3: 3 tiles and 12 nodes; level 4: a tile and 134 nodes
SMALL = 2049


def _all_nodes(size: int) -> dict[tuple[int, int], bytes]:
    """Every stored node of a log of ``size`` entries as one row each (before 0028)."""
    levels = _levels([_leaf_hash(i) for i in range(size)])
    return {(lv, i): h for lv in range(3, len(levels)) for i, h in enumerate(levels[lv])}


def _proofs(store: Store, log: int, size: int) -> list[list[bytes]]:
    return [store.inclusion_proof(log, i, size) for i in (0, 2047, 2048, 4097, size - 1)] + [
        store.consistency_proof(log, old, size) for old in (1, 2047, 2049, 4096, 6143)
    ]


def test_0028_tiles_round_trip(db_url: str) -> None:
    store, big = _open(db_url, 0)
    small = store.ensure_log("tiles-small", "tiles.example/s").id
    try:
        for count in (2000, 2100, BIG - 4100):
            grow(store, big, count)
        grow(store, small, SMALL)
        tiled = {log: _rows(store, log) for log in (big, small)}
        assert len(tiled[big][0]) == 4 and len(tiled[small][0]) == 1
        proofs = _proofs(store, big, BIG)
        assert proofs[0] == merkle.inclusion_proof([_leaf_hash(i) for i in range(BIG)], 0, BIG)
        if not store.engines.is_sqlite:
            assert attstorage(store, "tiles", "hashes") == "e"
    finally:
        store.close()

    with store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0028_units_slim")
    with store.engines.reader.connect() as conn:
        assert "tiles" not in inspect(conn).get_table_names()
        for log, size in ((big, BIG), (small, SMALL)):
            rows = conn.execute(
                text("SELECT level, idx, hash FROM nodes WHERE log = :log"), {"log": log}
            ).all()
            assert {(r.level, r.idx): bytes(r.hash) for r in rows} == _all_nodes(size)
        # a hole in the first level-4 tile's nodes: that tile stays rows when upgraded
        hole = bytes(
            conn.execute(
                text("SELECT hash FROM nodes WHERE log = :log AND level = 4 AND idx = 10"),
                {"log": big},
            ).scalar_one()
        )
    with store.engines.writer.begin() as conn:
        conn.execute(
            text("DELETE FROM nodes WHERE log = :log AND level = 4 AND idx = 10"), {"log": big}
        )

    migrate(store.engines)
    fresh = Store(store.engines)
    tiles, nodes = _rows(fresh, big)
    assert set(tiles) == set(tiled[big][0]) - {(4, 0)}
    assert {k for k in nodes if k[0] == 4 and k[1] < 256} == {(4, i) for i in range(256)} - {
        (4, 10)
    }
    assert _rows(fresh, small) == tiled[small]
    with store.engines.writer.begin() as conn:  # repaired: read as a row beside its tile's rows
        conn.execute(
            text("INSERT INTO nodes (log, level, idx, hash) VALUES (:log, 4, 10, :h)"),
            {"log": big, "h": hole},
        )
    every = [merkle.Subtree(lv, i << lv) for lv, i in _all_nodes(BIG)]
    assert fresh.subtrees(big, every) == {
        merkle.Subtree(lv, i << lv): h for (lv, i), h in _all_nodes(BIG).items()
    }
    assert _proofs(fresh, big, BIG) == proofs

    with store.engines.writer.begin() as conn:  # down and up again: the layout as written
        command.downgrade(_alembic_config(conn), "0028_units_slim")
    migrate(store.engines)
    fresh = Store(store.engines)
    try:
        assert _rows(fresh, big) == tiled[big]
        _check_layout(fresh, big, BIG)
        _check_layout(fresh, small, SMALL)
        assert _proofs(fresh, big, BIG) == proofs
        if not store.engines.is_sqlite:
            assert attstorage(fresh, "tiles", "hashes") == "e"
        assert grow(fresh, small, 2047) == 4096  # appends go on: level 3's second tile
        _check_layout(fresh, small, 4096)
    finally:
        fresh.close()
