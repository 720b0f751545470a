"""Persistence of logs on SQLAlchemy 2: SQLite (embedded default) or PostgreSQL.

`Store` is the only entry point; ledger.service.ledger is its only caller.
"""

from ledger.store import signals_schema  # noqa: F401  (registers the signal tables)
from ledger.store.quotas import QuotaStore
from ledger.store.replicas import ReplicaStatus
from ledger.store.repository import Store
from ledger.store.signals import SignalStore
from ledger.store.writer import WriteTx

__all__ = [
    "QuotaStore",
    "ReplicaStatus",
    "SignalStore",
    "Store",
    "WriteTx",
]
