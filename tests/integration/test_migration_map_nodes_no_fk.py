"""Migration 0026_map_nodes_no_fk: ``map_nodes`` loses its foreign key to ``logs`` and
gets it back on the downgrade, keeping every row (SQLite rebuilds the table, WITHOUT
ROWID still; PostgreSQL keeps its fill factor). Appends before, between and after extend
the map, and the audit's replay agrees with every signed map root.

Since 0032_map_buckets the newest revision keeps the map in ``map_buckets`` (no foreign
key either); the nodes compared are the map's, decoded from its buckets (today's code
keeps them there at the older revision too: tests/integration/old_revision.py), and the
layout of ``map_nodes`` is checked as 0032's downgrade gives it back."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from ledger.map.buckets import positions
from ledger.service.ledger import Ledger
from ledger.store.database import _alembic_config, migrate
from tests.factories import GTIN
from tests.integration import old_revision
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
_ROWS = "SELECT log, pos, data FROM map_buckets ORDER BY log, pos"


def _foreign_keys(ledger: Ledger, table: str = "map_nodes") -> list[tuple[list[str], str]]:
    with ledger.store.engines.writer.connect() as conn:
        found = inspect(conn).get_foreign_keys(table)
    return [(fk["constrained_columns"], fk["referred_table"]) for fk in found]


def _rows(ledger: Ledger) -> dict[int, dict[bytes, object]]:
    """Every log's map nodes by position, from its buckets."""
    out: dict[int, dict[bytes, bytes]] = {}
    with ledger.store.engines.writer.connect() as conn:
        for log, pos, data in conn.exec_driver_sql(_ROWS):
            out.setdefault(log, {})[bytes(pos)] = bytes(data)
    return {log: dict(positions(rows)) for log, rows in out.items()}


def _layout(ledger: Ledger) -> str:
    """SQLite: the table's SQL; PostgreSQL: its storage options."""
    with ledger.store.engines.writer.connect() as conn:
        if conn.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = 'map_nodes'"
        else:
            sql = "SELECT reloptions::text FROM pg_class WHERE oid = to_regclass('map_nodes')"
        return str(conn.exec_driver_sql(sql).scalar_one())


def _commission(world: LedgerWorld, serial: str) -> None:
    unit = {"gtin": GTIN, "serial": serial}
    world.append(world.world.sign("commission", "acme", unit=unit, prev=None))


def _orphan_insert(ledger: Ledger) -> None:
    """A node of a log that does not exist (what the foreign key refused)."""
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text("INSERT INTO map_nodes (log, pos, hash) VALUES (:log, :pos, :hash)"),
            {"log": 987_654, "pos": b"\x80", "hash": bytes(32)},
        )


def test_0026_map_nodes_no_fk_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    sqlite = ledger.store.engines.is_sqlite
    _commission(world, "NF-1")
    assert _foreign_keys(ledger, "map_buckets") == []
    before = _rows(ledger)
    with ledger.store.engines.writer.begin() as conn:  # map_nodes as 0032 gives it back
        command.downgrade(_alembic_config(conn), "0030_event_key4")
    assert _foreign_keys(ledger) == []
    layout = _layout(ledger)
    assert ("WITHOUT ROWID" in layout) if sqlite else ("fillfactor=70" in layout)
    migrate(ledger.store.engines)
    assert _rows(ledger) == before

    old_revision.downgrade(ledger.store.engines, "0025_map_fillfactor")
    assert _foreign_keys(ledger) == [(["log"], "logs")]
    assert _rows(ledger) == before
    with pytest.raises(IntegrityError):  # the restored key checks again
        _orphan_insert(ledger)
    assert _rows(ledger) == before  # the refused insert left nothing
    _commission(world, "NF-2")
    between = _rows(ledger)
    assert between != before

    old_revision.upgrade(ledger.store.engines)
    assert _foreign_keys(ledger, "map_buckets") == []
    assert _rows(ledger) == between
    with ledger.store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0030_event_key4")
    assert _foreign_keys(ledger) == []
    assert _layout(ledger) == layout
    migrate(ledger.store.engines)
    _commission(world, "NF-3")
    assert ledger.audit().ok
