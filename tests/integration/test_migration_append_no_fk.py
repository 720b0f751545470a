"""Migration 0033_append_no_fk: on PostgreSQL ``entries`` and ``units`` lose their
foreign key to ``logs`` and get it back on the downgrade (then refusing a row of a log
that does not exist again), keeping every row; SQLite keeps both keys at either
revision. Appends before, between and after land, and the audit agrees."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from ledger.errors import NotFoundError
from ledger.service.ledger import Ledger
from ledger.store.database import _alembic_config, migrate
from ledger.store.schema import PG_WITHOUT_FOREIGN_KEY
from tests.factories import GTIN
from tests.integration.old_revision import add_map_size, drop_map_size
from tests.integration.world import LedgerWorld, dump

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
_BEFORE = "0032_map_buckets"


def _foreign_keys(ledger: Ledger) -> dict[str, list[tuple[list[str], str]]]:
    """{table: its foreign keys as (columns, referred table)} of entries and units."""
    with ledger.store.engines.writer.connect() as conn:
        inspector = inspect(conn)
        return {
            table: [
                (fk["constrained_columns"], fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ]
            for table in PG_WITHOUT_FOREIGN_KEY
        }


def _commission(world: LedgerWorld, serial: str) -> None:
    unit = {"gtin": GTIN, "serial": serial}
    world.append(world.world.sign("commission", "acme", unit=unit, prev=None))


def _orphan_unit(ledger: Ledger) -> None:
    """A unit of a log that does not exist (what the foreign key refuses)."""
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO units (log, gtin, serial, brand, head_index, length,"
                " commissioned_index, sold, delivered, claimed, recalled, decommissioned,"
                " flags) VALUES (987654, :gtin, 'ORPHAN', 'acme', 0, 1, 0,"
                " false, false, false, false, false, 0)"
            ),
            {"gtin": GTIN},
        )


def _orphan_entry(ledger: Ledger) -> None:
    """An entry of a log that does not exist."""
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO entries (log, idx, leaf, chain, event_key, kind, signer)"
                " VALUES (987654, 0, :leaf, :chain, :key, 'commission', 'acme')"
            ),
            {"leaf": b"x", "chain": bytes(32), "key": bytes(8)},
        )


def _downgrade(ledger: Ledger) -> None:
    with ledger.store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), _BEFORE)
        add_map_size(conn)  # what today's code reads (tests.integration.old_revision)


def _upgrade(ledger: Ledger) -> None:
    with ledger.store.engines.writer.begin() as conn:
        drop_map_size(conn)
    migrate(ledger.store.engines)


def test_0033_append_no_fk_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    sqlite = ledger.store.engines.is_sqlite
    keyed = {table: [(["log"], "logs")] for table in PG_WITHOUT_FOREIGN_KEY}
    migrated = keyed if sqlite else {table: [] for table in PG_WITHOUT_FOREIGN_KEY}
    _commission(world, "AF-1")
    assert _foreign_keys(ledger) == migrated
    before = dump(ledger)

    _downgrade(ledger)
    assert _foreign_keys(ledger) == keyed  # both databases: the key of 0001
    assert dump(ledger) == before
    for orphan in (_orphan_unit, _orphan_entry):
        with pytest.raises(IntegrityError):  # the restored key checks again
            orphan(ledger)
    assert dump(ledger) == before  # the refused inserts left nothing
    _commission(world, "AF-2")
    between = dump(ledger)
    assert between != before

    _upgrade(ledger)
    assert _foreign_keys(ledger) == migrated
    assert dump(ledger) == between
    _commission(world, "AF-3")
    assert ledger.audit().ok

    _downgrade(ledger)  # a second round trip: the names the downgrade gave
    assert _foreign_keys(ledger) == keyed
    _upgrade(ledger)
    assert _foreign_keys(ledger) == migrated
    assert ledger.audit().ok


def test_0033_the_append_still_refuses_a_log_that_does_not_exist(world: LedgerWorld) -> None:
    """What the foreign key could have caught, the write transaction refuses first: a
    writer of a log id without a row finds no head to lock, and writes nothing."""
    ledger = world.ledger
    before = dump(ledger)
    with pytest.raises(NotFoundError), ledger.store.writer(987_654) as tx:
        tx.lock_head()
    assert dump(ledger) == before
