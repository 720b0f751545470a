"""A table's storage options as PostgreSQL's catalog holds them (the migration tests
check the fill factors their revisions set)."""

from __future__ import annotations

from sqlalchemy import text

from ledger.service.ledger import Ledger


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
