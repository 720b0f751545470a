"""A table's storage options as PostgreSQL's catalog holds them (the migration tests
check the fill factors their revisions set)."""

from __future__ import annotations

from sqlalchemy import text

from ledger.service.ledger import Ledger
from ledger.store import Store


def reloptions(ledger: Ledger, table: str) -> list[str] | None:
    """``table``'s storage options (PostgreSQL: ``pg_class.reloptions``, [] for none), or
    None on SQLite, which has none."""
    with ledger.store.engines.writer.connect() as conn:
        if conn.dialect.name != "postgresql":
            return None
        found = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE oid = to_regclass(:table)"),
            {"table": table},
        ).scalar_one()
        return list(found or [])


def attstorage(store: Store, table: str, column: str) -> str:
    """PostgreSQL's storage mode of ``table.column`` (``pg_attribute.attstorage``: 'p'
    plain, 'm' main, 'e' external, 'x' extended)."""
    with store.engines.reader.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT attstorage FROM pg_attribute"
                    " WHERE attrelid = to_regclass(:table) AND attname = :column"
                ),
                {"table": table, "column": column},
            ).scalar_one()
        )
