"""Migration 0019_cartons: an existing database (at 0015_console) gains a unit's
``containers`` and ``container`` in place, every existing unit loose (no ``pack``
existed before); a ``pack`` after it is kept and found by container, and the audit
agrees. On SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from ledger.rules.state import UnitRecord
from ledger.service.audit import audit_log
from ledger.store import Store
from ledger.store.database import _alembic_config, migrate
from tests.factories import GTIN
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


COLUMNS = {"containers", "container"}
CARTON = "095060000000000015"


def _columns(store: Store) -> set[str]:
    with store.engines.reader.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("units")}


def _unit(world: LedgerWorld, serial: str) -> UnitRecord:
    records = world.ledger.store.records(world.ledger.log, {UnitRecord: [(GTIN, serial)]})
    unit = records[0]
    assert isinstance(unit, UnitRecord)
    return unit


def test_0019_cartons_adds_loose_units_in_place(world: LedgerWorld) -> None:
    w, ledger = world.world, world.ledger
    world.append(w.sign("commission", "acme", unit={"gtin": GTIN, "serial": "MIG-C"}, prev=None))
    with ledger.store.engines.writer.begin() as conn:  # back to the 0015 shape
        command.downgrade(_alembic_config(conn), "0015_console")
    assert COLUMNS.isdisjoint(_columns(ledger.store))
    migrate(ledger.store.engines)
    assert COLUMNS <= _columns(ledger.store)
    unit = _unit(world, "MIG-C")
    assert (unit.containers, unit.container) == ((), None)
    world.append(w.on_unit("pack", "acme", serial="MIG-C", container=CARTON))
    assert _unit(world, "MIG-C").containers == (CARTON,)
    assert ledger.store.records_in(ledger.log, UnitRecord, "container", [CARTON])
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok
