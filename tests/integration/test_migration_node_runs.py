"""Migration 0029_node_runs: the ``nodes`` rows of each incomplete tile merge into runs of
consecutive nodes (ledger.store.nodetiles); the downgrade cuts every run into one row
per node. Both ways every stored node and every proof is the same, a damaged row is
left as it is, and appends go on in the layout of the revision."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from ledger.store import Store, nodetiles
from ledger.store.database import _alembic_config, migrate
from tests.integration.reloptions import attstorage
from tests.integration.test_migration_tiles import _proofs
from tests.integration.test_node_tiles import _check_layout, _rows, _runs
from tests.integration.test_proof_tree import _open, grow

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
SIZE = 6200  # level 3: 3 tiles and 7 nodes; level 4: a tile and 131 nodes
DAMAGED = (30, 0, b"\x01" * 31)  # (level, idx, hash): not whole hashes, kept as it is


def test_0029_node_runs_round_trip(db_url: str) -> None:
    store, log = _open(db_url, 0)
    other = store.ensure_log("runs-other", "runs.example/o").id
    try:
        for count in (2000, 2100, 1500, 1, 599):  # several runs a level
            grow(store, log, count)
        for _ in range(5):
            grow(store, other, 100)
        written = {lg: (_rows(store, lg), _runs(store, lg)) for lg in (log, other)}
        assert len([k for k in written[log][1] if k[0] == 5]) == 4  # one per append
        proofs = _proofs(store, log, SIZE)
        if not store.engines.is_sqlite:
            assert attstorage(store, "nodes", "hash") == "m"
    finally:
        store.close()

    with store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0028_tiles")
        conn.execute(
            text("INSERT INTO nodes (log, level, idx, hash) VALUES (:log, :lv, :i, :h)"),
            {"log": log, "lv": DAMAGED[0], "i": DAMAGED[1], "h": DAMAGED[2]},
        )
    old = Store(store.engines)
    for lg in (log, other):
        runs = _runs(old, lg)
        runs.pop(DAMAGED[:2], None)
        assert all(len(h) == nodetiles.HASH for h in runs.values())  # a row per node
        assert {k: h for k, h in runs.items()} == written[lg][0][1]
    if not store.engines.is_sqlite:
        assert attstorage(old, "nodes", "hash") == "x"

    migrate(store.engines)
    fresh = Store(store.engines)
    try:
        for lg in (log, other):
            runs = _runs(fresh, lg)
            assert runs.pop(DAMAGED[:2], None) == (DAMAGED[2] if lg == log else None)
            # merged: each stretch of consecutive nodes of a tile one run
            assert runs == {(lv, i): h for lv, i, h in nodetiles.runs_of(written[lg][0][1])}
        with store.engines.writer.begin() as conn:
            conn.execute(
                text("DELETE FROM nodes WHERE log = :log AND level = :lv"),
                {"log": log, "lv": DAMAGED[0]},
            )
        _check_layout(fresh, log, SIZE)
        _check_layout(fresh, other, 500)
        assert _proofs(fresh, log, SIZE) == proofs
        if not store.engines.is_sqlite:
            assert attstorage(fresh, "nodes", "hash") == "m"
        assert grow(fresh, other, 3596) == 4096  # appends go on: level 3's second tile
        _check_layout(fresh, other, 4096)
    finally:
        fresh.close()
