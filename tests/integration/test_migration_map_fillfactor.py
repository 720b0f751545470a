"""Migration 0025_map_fillfactor: on PostgreSQL ``map_nodes`` gains a fill factor of 70
and loses it on the downgrade; SQLite is left as it was. The map round-trips: appends
before, between and after extend it, and the audit's replay agrees with every signed
map root. (Since 0032_map_buckets the newest revision has no ``map_nodes``: its fill
factor is checked at 0030, as 0032's downgrade gives the table back.)"""

from __future__ import annotations

from alembic import command

from ledger.service.ledger import Ledger
from ledger.store.database import _alembic_config, migrate
from tests.factories import GTIN
from tests.integration import old_revision
from tests.integration.reloptions import reloptions
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


def _options(ledger: Ledger) -> list[str] | None:
    return reloptions(ledger, "map_nodes")


def _at_0030(ledger: Ledger) -> None:
    with ledger.store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0030_event_key4")


def _commission(world: LedgerWorld, serial: str) -> None:
    unit = {"gtin": GTIN, "serial": serial}
    world.append(world.world.sign("commission", "acme", unit=unit, prev=None))


def test_0025_map_fillfactor_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    postgres = ledger.store.engines.writer.dialect.name == "postgresql"
    _commission(world, "FF-1")
    _at_0030(ledger)
    assert _options(ledger) == (["fillfactor=70"] if postgres else None)
    migrate(ledger.store.engines)
    old_revision.downgrade(ledger.store.engines, "0025_slim_log")
    assert _options(ledger) == ([] if postgres else None)
    _commission(world, "FF-2")
    old_revision.upgrade(ledger.store.engines)
    _at_0030(ledger)
    assert _options(ledger) == (["fillfactor=70"] if postgres else None)
    migrate(ledger.store.engines)
    _commission(world, "FF-3")
    assert ledger.audit().ok
