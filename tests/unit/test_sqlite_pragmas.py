"""The SQLite engines' settings (ledger.store.database.connect): every connection in
WAL mode with the busy timeout; the ledger's writer durable (``synchronous=FULL``) with
its larger page cache; the bookkeeping engine not durable per commit; readers with
SQLite's default cache."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ledger.store.database import SQLITE_WRITER_CACHE_KIB, connect

_DEFAULT_CACHE = -2000  # SQLite's own default: 2,000 KiB


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_each_engine_has_its_settings(tmp_path: Path) -> None:
    engines = connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        for engine in (engines.reader, engines.writer, engines.bookkeeping):
            assert _pragma(engine, "journal_mode") == "wal"
            assert _pragma(engine, "busy_timeout") == 30000
            assert _pragma(engine, "foreign_keys") == 1
        assert _pragma(engines.writer, "synchronous") == 2  # FULL
        assert _pragma(engines.bookkeeping, "synchronous") == 1  # NORMAL
        assert _pragma(engines.writer, "cache_size") == -SQLITE_WRITER_CACHE_KIB
        assert _pragma(engines.reader, "cache_size") == _DEFAULT_CACHE
        assert _pragma(engines.bookkeeping, "cache_size") == _DEFAULT_CACHE
    finally:
        engines.dispose()
