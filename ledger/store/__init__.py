"""Persistence of logs on SQLAlchemy 2: SQLite (embedded default) or PostgreSQL.

`Store` is the only entry point; ledger.service is its only caller.
"""

from ledger.store.queries import LogHead, StoredCheckpoint, StoredEntry
from ledger.store.repository import Store
from ledger.store.writer import WriteTx

__all__ = ["LogHead", "Store", "StoredCheckpoint", "StoredEntry", "WriteTx"]
