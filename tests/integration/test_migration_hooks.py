"""Migration 0018_hooks: the webhook tables and ``reports.where_bought`` come and go; a
report's other columns survive the round trip and a report filed before the column
reads ``where_bought`` as NULL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from ledger.service.ledger import Ledger
from ledger.store.database import _alembic_config
from tests.factories import GTIN
from tests.integration.world import LedgerWorld

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True
TABLES = {"console_webhooks", "console_webhook_seen", "console_deliveries"}


def _schema(ledger: Ledger) -> tuple[set[str], set[str]]:
    with ledger.store.engines.writer.connect() as conn:
        found = inspect(conn)
        return set(found.get_table_names()), {c["name"] for c in found.get_columns("reports")}


def test_0018_hooks_round_trip(world: LedgerWorld) -> None:
    ledger = world.ledger
    filed = ledger.reports.report(GTIN, "SN-1", "seller", where="Stall 9", client="c1")
    tables, columns = _schema(ledger)
    assert TABLES <= tables and "where_bought" in columns
    with ledger.store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0017_storage")
    tables, columns = _schema(ledger)
    assert not TABLES & tables and "where_bought" not in columns
    with ledger.store.engines.writer.connect() as conn:
        reason = conn.execute(
            text("SELECT reason FROM reports WHERE id = :id"), {"id": filed["id"]}
        ).scalar_one()
    assert reason == "seller"
    with ledger.store.engines.writer.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    row = ledger.reports.find(int(filed["id"]))
    assert row is not None and row["where_bought"] is None and row["reason"] == "seller"
    assert TABLES <= _schema(ledger)[0]
