"""Persistence of logs on SQLAlchemy 2: SQLite (embedded default) or PostgreSQL.

`Store` is the only entry point; ledger.service.ledger is its only caller.
"""

from ledger.store import (
    catalog,  # noqa: F401  (registers the picture and print batch tables)
    console,  # noqa: F401  (registers the console tables)
    documents,  # noqa: F401  (registers the operator's documents table)
    privacy_schema,  # noqa: F401  (registers the salt and quota tables)
    scanstats,  # noqa: F401  (registers the scan aggregate tables)
    signals_schema,  # noqa: F401  (registers the signal tables)
    webhooks,  # noqa: F401  (registers the webhook tables)
)
from ledger.store.catalog import CatalogStore
from ledger.store.console import ConsoleStore
from ledger.store.documents import DocumentStore
from ledger.store.quotas import QuotaStore
from ledger.store.replicas import ReplicaStatus
from ledger.store.repository import ProjectionsBehindError, Store
from ledger.store.retention import RetentionStore
from ledger.store.salts import SaltStore
from ledger.store.scanstats import ScanStatsStore
from ledger.store.signals import SignalStore
from ledger.store.webhooks import WebhookStore
from ledger.store.writer import WriteTx
from ledger.store.writetimes import WriteTotals

__all__ = [
    "CatalogStore",
    "ConsoleStore",
    "DocumentStore",
    "ProjectionsBehindError",
    "QuotaStore",
    "ReplicaStatus",
    "RetentionStore",
    "SaltStore",
    "ScanStatsStore",
    "SignalStore",
    "Store",
    "WebhookStore",
    "WriteTotals",
    "WriteTx",
]
