"""ledger.store: migrations match the schema; failures surface as StorageError and
leave nothing behind."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import OperationalError

from ledger.errors import StorageError
from ledger.service.ledger import Ledger
from ledger.store import Store, WriteTx
from ledger.store.database import head_revisions
from ledger.store.schema import EVENT_KEY, PG_WITHOUT_FOREIGN_KEY, Base
from tests.integration.world import LedgerWorld, dump
from tests.rules_factories import NOW


def test_migrations_create_exactly_the_declared_schema(db_url: str) -> None:
    store = Store.open(db_url)
    with store.engines.reader.connect() as conn:
        context = MigrationContext.configure(conn)
        assert frozenset(context.get_current_heads()) == head_revisions()
        with warnings.catch_warnings():
            # PostgreSQL's index on an expression (EVENT_KEY_PG) is not reflected
            for skipped in ("Skipped unsupported reflection", "autogenerate skipping"):
                warnings.filterwarnings("ignore", f"{skipped}.*ix_entries_event_key")
            diff = compare_metadata(context, Base.metadata)
        if store.engines.is_sqlite:
            assert diff == []
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_entries_event_key'"
            ).scalar_one()
            assert sql == f"CREATE INDEX ix_entries_event_key ON entries (log, ({EVENT_KEY}))"
        else:
            # PostgreSQL's event key index is on EVENT_KEY_PG (0030_event_key4), not the
            # model's (SQLite's) column: alembic sees a changed index, checked here
            changed = [d for d in diff if getattr(d[1], "name", "") == "ix_entries_event_key"]
            assert sorted(d[0] for d in changed) == ["add_index", "remove_index"]
            # the foreign keys SQLite keeps and PostgreSQL dropped (0033_append_no_fk)
            keys = [d for d in diff if d[0] == "add_fk"]
            assert sorted(d[1].parent.name for d in keys) == sorted(PG_WITHOUT_FOREIGN_KEY)
            assert all(d[1].referred_table.name == "logs" for d in keys)
            assert [d for d in diff if d not in changed and d not in keys] == []
            sql = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_entries_event_key'"
                " AND schemaname = current_schema()"
            ).scalar_one()
            assert all(f"get_byte(event_key, {i})" in sql for i in range(4)), sql
            assert "(log, " in sql and "substr" not in sql, sql
    Store.open(db_url).close()  # a second open finds the schema at head and does nothing
    store.close()


def test_a_failure_mid_append_writes_nothing(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dump(world.ledger)
    signed = world.world.on_unit("handoff", "acme", to="ship-co")

    def broken(self: WriteTx, nodes: object) -> None:
        raise OperationalError("INSERT INTO nodes", {}, Exception("disk I/O error"))

    monkeypatch.setattr(WriteTx, "insert_nodes", broken)
    with pytest.raises(StorageError, match="nothing was written"):
        world.ledger.append(signed, NOW)
    assert dump(world.ledger) == before
    monkeypatch.undo()
    assert world.ledger.append(signed, NOW).receipts[0].index == 13


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
        "sqlite:///:memory:",
        "mysql://nobody@localhost/x",
    ],
)
def test_unusable_databases_are_storage_errors(url: str) -> None:
    with pytest.raises(StorageError):
        Store.open(url)


def test_a_log_keeps_its_origin(db_url: str) -> None:
    from tests.integration.world import clock, config

    first = Ledger.open(db_url, config("same-name"), clock=clock)
    other = config("same-name")
    changed = type(other)(
        origin="elsewhere.example/log",
        operator_key=other.operator_key,
        name="same-name",
        log_key=other.log_key,
    )
    with pytest.raises(StorageError, match="origin"):
        Ledger.open(db_url, changed, clock=clock)
    first.close()


def test_numbers_beyond_64_bits_are_validation_errors(ledger: Ledger) -> None:
    from ledger.errors import ValidationError

    with pytest.raises(ValidationError, match="out of range"):
        ledger.store.checkpoint(ledger.log, 2**63)
