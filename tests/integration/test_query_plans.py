"""SQLite's plans for the lookups that must not read the whole log: the duplicate lookup
under the log lock (the 8-byte event-key index, 0025_slim_log) and a unit's entries (the
unit index). SQLite keeps no statistics here, and without them its planner took the
primary key (``log = ?``: every entry) for both; the statements name their index
(``INDEXED BY``). The statements checked are the ones the store really runs, captured
from its connections and explained with their own parameters."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from ledger.rules.state import UnitRecord
from ledger.service.ledger import Ledger
from ledger.store.signals import SignalStore
from tests.factories import GTIN
from tests.integration.world import LedgerWorld, clock, config
from tests.rules_factories import SERIAL


@pytest.fixture
def sqlite_world(tmp_path: Any) -> Iterator[tuple[LedgerWorld, str]]:
    path = tmp_path / "plans.db"
    ledger = Ledger.open(f"sqlite:///{path}", config("plans"), clock=clock)
    ledger.init(name="Registry")
    try:
        yield LedgerWorld.base(ledger), str(path)
    finally:
        ledger.close()


def _captured(ledger: Ledger, run: Any, needle: str) -> list[tuple[str, Any]]:
    """The statements holding ``needle`` that ``run()`` executes, with their parameters."""
    seen: list[tuple[str, Any]] = []
    engines = ledger.store.engines

    def spy(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if needle in statement:
            seen.append((statement, params))

    for engine in (engines.reader, engines.writer):
        event.listen(engine, "before_cursor_execute", spy)
    try:
        run()
    finally:
        for engine in (engines.reader, engines.writer):
            event.remove(engine, "before_cursor_execute", spy)
    assert seen, f"no statement with {needle!r} ran"
    return seen


def _plans(path: str, statements: list[tuple[str, Any]]) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [
            " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in statements
        ]


def test_the_duplicate_lookup_uses_the_event_key_index(
    sqlite_world: tuple[LedgerWorld, str],
) -> None:
    world, path = sqlite_world
    ledger = world.ledger
    hashes = [bytes([i]) * 32 for i in range(3)]
    statements = _captured(
        ledger, lambda: ledger.store.find_event_hashes(ledger.log, hashes), "event_key IN"
    )
    for plan in _plans(path, statements):
        assert "USING INDEX ix_entries_event_key" in plan, plan
        assert "PRIMARY KEY" not in plan, plan


def test_a_units_entries_and_its_latest_claim_use_the_unit_index(
    sqlite_world: tuple[LedgerWorld, str],
) -> None:
    world, path = sqlite_world
    ledger = world.ledger
    store = ledger.store

    def read() -> None:
        assert store.unit_entries(ledger.log, GTIN, SERIAL)  # the base world's unit
        SignalStore(store.engines, store).claim_leaves(ledger.log, [(GTIN, SERIAL)])

    statements = _captured(ledger, read, "gtin =")
    for plan in _plans(path, statements):
        assert "USING INDEX ix_entries_unit" in plan, plan


def test_a_containers_units_use_the_partial_container_index(
    sqlite_world: tuple[LedgerWorld, str],
) -> None:
    """``ix_units_container`` holds only units in a container (0027_storage_v2); the
    lookup's ``container IN (...)`` implies that, so SQLite may and does use it."""
    world, path = sqlite_world
    ledger = world.ledger
    store = ledger.store
    with sqlite3.connect(path) as conn:  # statistics: a log whose units are mostly loose
        conn.execute("ANALYZE")

    def read() -> None:
        store.records_in(ledger.log, UnitRecord, "container", ["095060000000000015"])

    statements = _captured(ledger, read, "container IN")
    for plan in _plans(path, statements):
        assert "INDEX ix_units_container" in plan, plan
