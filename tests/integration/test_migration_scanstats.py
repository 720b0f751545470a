"""Migration 0023_scanstats: an existing database (at 0017_storage) with scans gains the
scan aggregates, back-filled from the scans it kept: equal to a recount of them (a scan
from before regions counts under its place, else ``unknown``), and new flushes add to
them. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import inspect, text

from ledger.store.database import _alembic_config, migrate
from tests.integration.scanstats_world import build, recount, scan_batches, stored
from tests.integration.signals_world import SignalWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
TABLES = {"scan_daily", "scan_first_regions", "scan_probes", "scan_probe_serials"}


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    build(world)
    yield world
    world.ledger.close()


def test_0023_scanstats_back_fills_the_aggregates_from_the_scans(sw: SignalWorld) -> None:
    ledger = sw.ledger
    scan_batches(sw, 11, batches=6)
    live = stored(ledger)
    with ledger.store.engines.writer.begin() as conn:  # back to the 0017 shape
        command.downgrade(_alembic_config(conn), "0017_storage")
    with ledger.store.engines.reader.connect() as conn:
        assert TABLES.isdisjoint(inspect(conn).get_table_names())
        assert "region" not in {c["name"] for c in inspect(conn).get_columns("scans")}
    migrate(ledger.store.engines)
    back = stored(ledger)
    assert back == recount(ledger)
    # the regions the scans carried are gone with the column; places still count
    assert sum(back["daily"].values()) == sum(live["daily"].values())
    assert back["probes"] == live["probes"]  # probing has no region
    with ledger.store.engines.reader.connect() as conn:
        regions = {r[0] for r in conn.execute(text("SELECT DISTINCT region FROM scan_daily"))}
    assert regions <= {"JP", "CN-BJ", "CN-SH", "CN-GD", "DE", "US", "unknown"}
    scan_batches(sw, 12, batches=3)  # the flushes after it add to the back-filled rows
    assert stored(ledger) == recount(ledger)
