"""The machine's limits, measured in the run: Ed25519 verifies/s and bulk insert rows/s.

- Verify rates (bench.verify): raw Ed25519 verifications per second over real event
  messages, on one core and on all cores (one process per core, the sum), with
  cryptography (OpenSSL) and libsodium (PyNaCl). `verify_rate` measures one of them
  on demand, so a figure can take its baseline right before (and after) itself.
- Bulk inserts: rows per second of entry-shaped rows (an index, a 350-byte blob, three
  32-byte hashes) into a plain table, committed durably every 1,000 rows: SQLite
  ``executemany`` (WAL, synchronous=FULL, as the store runs), PostgreSQL ``COPY``.

No ledger logic here beyond reading signed events.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench import streams, verify
from bench.figures import Figure, Run

ROWS_PER_COMMIT = 1000


def samples(run: Run) -> list[verify.Sample]:
    """Verification samples from pre-signed commissions (made once per run, checked)."""

    def make() -> list[verify.Sample]:
        items = verify.samples(streams.commission_stream("V", run.pick(3000, 6000)))
        verify.check_all(items)
        return items

    return run.shared("verify-samples", make)  # type: ignore[no-any-return]


def verify_rate(run: Run, which: str = "libsodium", cores: str = "all") -> float:
    """Ed25519 verifications per second now (``cores``: ``all`` or ``1``)."""
    items = samples(run)
    if cores == "1":
        return verify.one_core(which, items)
    return verify.all_cores(which, items)[0]


def _rows(count: int) -> list[tuple[int, bytes, bytes, bytes, bytes]]:
    blob = os.urandom(350)
    return [(i, blob, os.urandom(32), os.urandom(32), os.urandom(32)) for i in range(count)]


def sqlite_insert_rate(count: int) -> float:
    """Rows per second: executemany into a WAL, synchronous=FULL SQLite file."""
    rows = _rows(count)
    with tempfile.TemporaryDirectory(prefix="bench-insert-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "insert.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, a BLOB, b BLOB, c BLOB, d BLOB)")
        start = time.perf_counter()
        for at in range(0, count, ROWS_PER_COMMIT):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows[at : at + ROWS_PER_COMMIT]
            )
            conn.execute("COMMIT")
        seconds = time.perf_counter() - start
        conn.close()
    return count / seconds


def postgres_insert_rate(url: str, count: int) -> float:
    """Rows per second: COPY into a temporary PostgreSQL table, one commit per 1,000."""
    rows = _rows(count)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        conn.execute(
            "CREATE TEMPORARY TABLE bench_perf_insert "
            "(i bigint PRIMARY KEY, a bytea, b bytea, c bytea, d bytea)"
        )
        conn.commit()
        start = time.perf_counter()
        for at in range(0, count, ROWS_PER_COMMIT):
            with conn.cursor().copy("COPY bench_perf_insert FROM STDIN") as copy:
                for row in rows[at : at + ROWS_PER_COMMIT]:
                    copy.write_row(row)
            conn.commit()
        seconds = time.perf_counter() - start
    return count / seconds


def postgres_reachable(run: Run) -> bool:
    """Whether the run's PostgreSQL server answers (printed once when it does not)."""

    def probe() -> bool:
        if run.pg_url is None:
            print("  PostgreSQL: skipped (--no-postgres)")
            return False
        try:
            conninfo = make_url(run.pg_url).set(drivername="postgresql").render_as_string(False)
            psycopg.connect(conninfo, connect_timeout=5).close()
        except psycopg.Error as e:
            print(f"  PostgreSQL: skipped, cannot connect: {' '.join(str(e).split())}")
            return False
        return True

    return run.shared("postgres-reachable", probe)  # type: ignore[no-any-return]


def figures(run: Run) -> list[Figure]:
    """Every verify baseline, and the bulk insert rates of both databases."""
    out = []
    for which in verify.VERIFIERS:
        for cores in ("1", "all"):
            rate = verify_rate(run, which, cores)
            label = "1-core" if cores == "1" else "all-cores"
            out.append(Figure.info(f"baseline/verify/{label}/{which}", rate, "verifies/s"))
    count = run.pick(20_000, 100_000)
    out.append(Figure.info("baseline/insert/sqlite", sqlite_insert_rate(count), "rows/s"))
    if postgres_reachable(run):
        rate = postgres_insert_rate(run.pg_url or "", count)
        out.append(Figure.info("baseline/insert/postgresql", rate, "rows/s"))
    for f in out:
        print(f"  {f.name}: {f.value:,.0f} {f.unit}")
    return out
