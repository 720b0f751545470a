"""Migration 0034_map_size: ``logs.map_size`` added (NULL: every map in step) and
dropped again, on SQLite and PostgreSQL. A log whose map was behind (the map's child
had not written a batch's rows) loses its ``map_buckets`` rows on the downgrade, which
the next append rebuilds from the entries; a log in step keeps every row. Appends
after the round trip land, and the audit agrees."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from ledger.service.ledger import Ledger
from ledger.store.database import _alembic_config, migrate
from tests.integration.test_map_deferred import (
    _map_size,
    _signed_root,
    _stored_root,
    _with_child,
)
from tests.integration.test_map_worker import _buckets, _units
from tests.integration.world import LedgerWorld, dump
from tests.rules_factories import NOW

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


def _columns(ledger: Ledger) -> set[str]:
    with ledger.store.engines.writer.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("logs")}


def _round_trip(ledger: Ledger) -> None:
    with ledger.store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0033_append_no_fk")
    assert "map_size" not in _columns(ledger)
    migrate(ledger.store.engines)
    assert "map_size" in _columns(ledger)


def test_0034_a_map_in_step_keeps_every_row(world: LedgerWorld) -> None:
    ledger = world.ledger
    ledger.append_batch(_units(world, "M1", 5), NOW)
    before = dump(ledger)
    _round_trip(ledger)
    assert dump(ledger) == before
    ledger.append_batch(_units(world, "M2", 5), NOW)
    assert ledger.audit().ok


def test_0034_a_map_behind_is_dropped_and_rebuilt(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, held, ledger = _with_child(world, monkeypatch)
    ledger.append_batch(_units(world, "B1"), NOW)
    held.drop()  # the child's rows never written
    assert _map_size(ledger) is not None and _buckets(ledger)
    entries = dump(ledger)["entries"]
    _round_trip(ledger)
    assert _buckets(ledger) == {}  # the map behind went; the entries stayed
    assert dump(ledger)["entries"] == entries
    with ledger.store.engines.reader.connect() as conn:
        assert conn.execute(text("SELECT map_size FROM logs")).scalars().all() == [None] * len(
            conn.execute(text("SELECT id FROM logs")).all()
        )
    ledger.append_batch(_units(world, "B2", 3), NOW)  # rebuilt from the entries
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    assert ledger.audit().ok
