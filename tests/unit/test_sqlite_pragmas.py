"""The SQLite engines' settings (ledger.store.database.connect, map_writer): every
connection in WAL mode with the busy timeout; the ledger's writer durable
(``synchronous=FULL``) with its larger page cache; the bookkeeping engine not durable per
commit; readers with SQLite's default cache; the map child's writer (which rewrites the
map's bucket rows) with the writer's larger cache, not durable per commit and leaving
the WAL's checkpoints to the ledger's writer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ledger.store.database import SQLITE_WRITER_CACHE_KIB, connect, map_writer

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


def test_the_map_writer_keeps_the_writers_cache(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    connect(url).dispose()  # the file and its WAL mode
    engine = map_writer(url)
    try:
        assert _pragma(engine, "journal_mode") == "wal"
        assert _pragma(engine, "synchronous") == 1  # NORMAL: a lost write is caught up
        assert _pragma(engine, "wal_autocheckpoint") == 0
        # a batch rewrites ~2,000 bucket rows on random pages: SQLite's default 2 MiB
        # spilled them to the WAL mid-transaction (docs/PERFORMANCE.md "cycles47")
        assert _pragma(engine, "cache_size") == -SQLITE_WRITER_CACHE_KIB
    finally:
        engine.dispose()
