"""Migration 0032_map_buckets: the map of heads moves from ``map_nodes`` (one node a
row) into ``map_buckets`` (four trie levels a row) and back, per log, in place.

Two logs: a ledger's (its appends' map) and one holding 3,000 keys written directly
(buckets below the cached top, chains across bucket edges). The downgrade gives back
exactly the nodes the buckets hold, in ``map_nodes`` as 0026 left it (SQLite WITHOUT
ROWID, PostgreSQL fill factor 70); the upgrade gives back the same nodes as buckets in a
rowid table (SQLite; PostgreSQL: fill factor 70), leaving out a damaged ``map_nodes`` row; served proofs are the
same bytes before and after; an append afterwards extends the map and the audit's
replay agrees with every signed map root.
"""

from __future__ import annotations

import hashlib
import uuid

from alembic import command
from sqlalchemy import inspect, text

from ledger.map import update as map_update
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import positions
from ledger.map.trie import Head, unit_key
from ledger.service.ledger import Ledger
from ledger.store.database import _alembic_config, migrate
from ledger.store.mapnodes import write_buckets
from tests.factories import GTIN
from tests.integration.reloptions import reloptions
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


def _commission(world: LedgerWorld, serial: str) -> None:
    unit = {"gtin": GTIN, "serial": serial}
    world.append(world.world.sign("commission", "acme", unit=unit, prev=None))


def _buckets(ledger: Ledger) -> dict[int, dict[bytes, map_update.Stored]]:
    """Every log's map nodes by position, decoded from ``map_buckets``."""
    rows: dict[int, dict[bytes, bytes]] = {}
    with ledger.store.engines.reader.connect() as conn:
        for log, pos, data in conn.execute(text("SELECT log, pos, data FROM map_buckets")):
            rows.setdefault(log, {})[bytes(pos)] = bytes(data)
    return {log: positions(found) for log, found in rows.items()}


def _nodes(ledger: Ledger) -> dict[int, dict[bytes, map_update.Stored]]:
    """Every log's map nodes by position, from ``map_nodes``."""
    out: dict[int, dict[bytes, map_update.Stored]] = {}
    statement = text("SELECT log, pos, hash, key, idx, entry FROM map_nodes")
    with ledger.store.engines.reader.connect() as conn:
        for log, pos, value, key, idx, entry in conn.execute(statement):
            node = (
                map_update.Stored(hash=bytes(value))
                if key is None
                else map_update.Stored(key=bytes(key), head=Head(int(idx), bytes(entry)))
            )
            out.setdefault(log, {})[bytes(pos)] = node
    return out


def _tables(ledger: Ledger) -> set[str]:
    with ledger.store.engines.reader.connect() as conn:
        return set(inspect(conn).get_table_names())


def _sqlite_sql(ledger: Ledger, table: str) -> str:
    with ledger.store.engines.reader.connect() as conn:
        found = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table})
        return str(found.scalar_one())


def test_0032_map_buckets_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    sqlite = ledger.store.engines.is_sqlite
    for serial in ("MB-1", "MB-2", "MB-3"):
        _commission(world, serial)
    other = ledger.store.ensure_log(f"mb-{uuid.uuid4().hex[:10]}", "test.example/mb").id
    keys = [hashlib.sha256(b"mb %d" % i).digest() for i in range(3000)]
    built = BucketMap()
    built.update({k: Head(i, k) for i, k in enumerate(keys)})
    with ledger.store.engines.writer.begin() as conn:
        write_buckets(conn, other, built.rows(), sqlite)
    asked = [(ledger.log, unit_key(GTIN, "MB-2")), (ledger.log, unit_key(GTIN, "none"))]
    asked += [(other, k) for k in keys[:40]] + [(other, bytes(32))]
    proofs = [ledger.store.map_proof(log, key) for log, key in asked]
    before = _buckets(ledger)
    assert set(before) == {ledger.log, other}
    assert len(before[other]) > 2 * len(keys)

    with ledger.store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0030_event_key4")
    assert "map_buckets" not in _tables(ledger)
    assert _nodes(ledger) == before
    if sqlite:
        assert "WITHOUT ROWID" in _sqlite_sql(ledger, "map_nodes")
    else:
        assert reloptions(ledger, "map_nodes") == ["fillfactor=70"]
    with ledger.store.engines.writer.begin() as conn:  # a damaged row: left out
        conn.execute(
            text("INSERT INTO map_nodes (log, pos, hash) VALUES (:log, :pos, :h)"),
            {"log": other, "pos": bytes(20) + b"\x01", "h": b"short"},
        )

    migrate(ledger.store.engines)
    assert "map_nodes" not in _tables(ledger)
    assert _buckets(ledger) == before
    if sqlite:  # a rowid table: rows of ~1 KB stay in their b-tree pages
        assert "WITHOUT ROWID" not in _sqlite_sql(ledger, "map_buckets")
    else:
        assert reloptions(ledger, "map_buckets") == ["fillfactor=70"]
    assert [ledger.store.map_proof(log, key) for log, key in asked] == proofs
    _commission(world, "MB-4")
    assert ledger.audit().ok


def test_0032_on_an_empty_table(world: LedgerWorld) -> None:
    """No rows either way; the append after rebuilds the map from the entries."""
    ledger = world.ledger
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(text("DELETE FROM map_buckets"))
        command.downgrade(_alembic_config(conn), "0030_event_key4")
    assert _nodes(ledger) == {}
    migrate(ledger.store.engines)
    assert _buckets(ledger) == {}
    _commission(world, "MB-5")
    assert ledger.audit().ok
