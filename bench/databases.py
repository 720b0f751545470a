"""Fresh, throw-away databases for benchmarks: SQLite files and a PostgreSQL schema.

`SqliteTarget` hands out new files in a temporary folder; `PostgresTarget` drops and
re-creates one dedicated schema (``bench_perf_<pid>``) for each run and points the
SQLAlchemy URL at it with ``options=-csearch_path=...``, so the benchmark never touches
another schema. Both measure their storage: SQLite after ``VACUUM`` (file size and, via
the ``dbstat`` virtual table, bytes per table including its indexes), PostgreSQL with
``pg_total_relation_size`` (heap, indexes, TOAST, free-space and visibility maps).

No ledger logic here.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

#: one schema per benchmark process, so two runs never drop each other's tables
SCHEMA = f"bench_perf_{os.getpid()}"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class SqliteTarget:
    """New SQLite files (WAL, synchronous=FULL as the store sets them) in a temp folder."""

    name = "sqlite"

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bench-appends-")
        self.path = Path(self._folder.name)
        self._made = 0

    def fresh(self, tag: str, slot: int = 0) -> str:
        """Return the URL of a new, empty database file (never one handed out before;
        ``slot`` as for `PostgresTarget.fresh`: every file is one of its own)."""
        self._made += 1
        return f"sqlite:///{self.path / f'{tag}-{self._made}.db'}"

    def storage(self, url: str) -> tuple[int, dict[str, int]]:
        """VACUUM the (closed) database; return (file bytes, {part: bytes}).

        A part is a table's own b-tree (``entries``) or one of its indexes
        (``entries/ix_entries_unit``); empty when SQLite lacks ``dbstat``.
        """
        path = make_url(url).database or ""
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            try:
                rows = conn.execute(
                    "SELECT m.tbl_name, m.name, SUM(d.pgsize) FROM dbstat AS d "
                    "JOIN sqlite_master AS m ON m.name = d.name GROUP BY m.name"
                ).fetchall()
            except sqlite3.OperationalError:  # built without SQLITE_ENABLE_DBSTAT_VTAB
                rows = []
        parts = {
            (str(table) if table == name else f"{table}/{name}"): int(size)
            for table, name, size in rows
        }
        return Path(path).stat().st_size, parts

    def average_leaf(self, url: str) -> float:
        """Mean length of the stored leaf values (packed: ledger.store.leafpack)."""
        with sqlite3.connect(make_url(url).database or "") as conn:
            return float(conn.execute("SELECT AVG(LENGTH(leaf)) FROM entries").fetchone()[0])

    def version(self) -> str:
        """The SQLite library version."""
        return sqlite3.sqlite_version

    def close(self) -> None:
        """Delete the temporary folder."""
        self._folder.cleanup()


class PostgresTarget:
    """One dedicated schema in a PostgreSQL database, re-created for each run."""

    name = "postgresql"

    def __init__(self, url: str = DEFAULT_PG_URL) -> None:
        self.url = url
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)

        self._slots = {0}

    def _drop(self, schema: str) -> None:
        self._admin.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )

    def fresh(self, tag: str, slot: int = 0) -> str:
        """Re-create a schema empty; return a URL whose search_path is that schema.

        ``slot`` 0 is `SCHEMA` (the one `storage` measures); another slot n is
        ``SCHEMA_n``, so a benchmark can keep several databases open at once.
        """
        schema = _schema(slot)
        self._slots.add(slot)
        self._drop(schema)
        self._admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}options={quote(f'-csearch_path={schema}')}"

    def storage(self, url: str, full: bool) -> tuple[int, dict[str, int]]:
        """VACUUM (FULL when ``full``) the schema's tables; return (total, {part: bytes}).

        A part is a table without its indexes (``pg_table_size``: heap, TOAST, free-space
        and visibility maps) or one index (``entries/ix_entries_unit``); the total is
        the sum of ``pg_total_relation_size`` over the tables.
        """
        tables = [
            str(row[0])
            for row in self._admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (SCHEMA,)
            )
        ]
        command = "VACUUM (FULL, ANALYZE) {}" if full else "VACUUM (ANALYZE) {}"
        parts: dict[str, int] = {}
        total = 0
        for table in tables:
            self._admin.execute(sql.SQL(command).format(sql.Identifier(SCHEMA, table)))
            total += self._size("pg_total_relation_size", table)
            parts[table] = self._size("pg_table_size", table)
            for (index,) in self._admin.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                (SCHEMA, table),
            ).fetchall():
                parts[f"{table}/{index}"] = self._size("pg_relation_size", str(index))
        return total, parts

    def _size(self, function: str, relation: str) -> int:
        query = sql.SQL("SELECT {}(%s::regclass)").format(sql.Identifier(function))
        row = self._admin.execute(query, (f"{SCHEMA}.{relation}",)).fetchone()
        return int(row[0]) if row else 0

    def average_leaf(self, url: str) -> float:
        """Mean length of the stored leaf values (packed: ledger.store.leafpack)."""
        query = sql.SQL("SELECT AVG(octet_length(leaf)) FROM {}").format(
            sql.Identifier(SCHEMA, "entries")
        )
        row = self._admin.execute(query).fetchone()
        return float(row[0]) if row else 0.0

    def version(self) -> str:
        """The server's version string."""
        row = self._admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def close(self) -> None:
        """Drop the schemas and disconnect."""
        for slot in sorted(self._slots):
            self._drop(_schema(slot))
        self._admin.close()


def _schema(slot: int) -> str:
    return SCHEMA if slot == 0 else f"{SCHEMA}_{slot}"
