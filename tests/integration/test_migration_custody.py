"""Migration 0008_custody: an existing database gains a unit's custody history (holders,
retailer of record, sales, time of the last sale), filled from each row's own columns;
the audit names every unit whose fill differs from the replay, and
``rebuild_projections`` makes them exact. On SQLite and PostgreSQL."""

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


HISTORY = {"holders", "seller", "sales", "last_sold"}


def _columns(store: Store) -> set[str]:
    with store.engines.reader.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("units")}


def _unit(world: LedgerWorld, serial: str) -> UnitRecord:
    records = world.ledger.store.records(world.ledger.log, {UnitRecord: [(GTIN, serial)]})
    unit = records[0]
    assert isinstance(unit, UnitRecord)
    return unit


def test_0008_custody_fills_then_rebuilds_the_history(world: LedgerWorld) -> None:
    w, ledger = world.world, world.ledger
    for serial in ("MIG-SOLD", "MIG-DELIVERED", "MIG-HOME"):
        world.append(w.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None))
    steps = {
        "MIG-SOLD": [
            ("handoff", "acme", "ship-co"),
            ("receive", "ship-co", None),
            ("handoff", "ship-co", "shop"),
            ("receive", "shop", None),
            ("sell", "shop", None),
        ],
        "MIG-DELIVERED": [("sell", "acme", None), ("deliver", "acme", None)],
    }
    for serial, story in steps.items():
        for kind, actor, to in story:
            fields = {"to": to} if to else {}
            world.append(w.on_unit(kind, actor, serial=serial, **fields))
    exact = {s: _unit(world, s) for s in ("MIG-SOLD", "MIG-DELIVERED", "MIG-HOME")}
    assert exact["MIG-SOLD"].holders == ("acme", "ship-co", "shop")
    with ledger.store.engines.writer.begin() as conn:  # back to the 0005 shape
        command.downgrade(_alembic_config(conn), "0005_perf")
    assert HISTORY.isdisjoint(_columns(ledger.store))

    migrate(ledger.store.engines)  # an existing 0005 database upgrades in place
    assert HISTORY <= _columns(ledger.store)
    home, delivered, sold = (_unit(world, s) for s in ("MIG-HOME", "MIG-DELIVERED", "MIG-SOLD"))
    assert (home.holders, home.sales, home.seller) == (("acme",), 0, None)
    assert (delivered.holders, delivered.sales, delivered.seller) == (("acme",), 1, None)
    # what the row tells: the brand and the custodian held it, the custodian sold it
    assert (sold.holders, sold.sales, sold.seller) == (("acme", "shop"), 1, "shop")
    assert sold.last_sold is None
    assert home == exact["MIG-HOME"]  # nothing was missing for a unit that never moved

    report = audit_log(ledger.store, ledger.log, ledger.verifier_key)
    assert not report.ok  # the fill is not the replay, and the audit says so

    ledger.rebuild_projections()
    for serial, record in exact.items():
        assert _unit(world, serial) == record
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok
