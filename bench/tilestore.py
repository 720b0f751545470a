"""The stored tree's bytes on PostgreSQL: tiles (0028_tiles) against a row per node.

Not part of the suite (docs/PERFORMANCE.md, "tiles"): the suite's storage figure
(bench/storage.py) appends 5,013 real entries, too few for more than two level-3 tiles.
Here a log of ``--entries`` synthetic entries (16-byte leaves) is written through the
append's own write path (`WriteTx.insert_entries` and `insert_nodes`, in transactions of
``--batch`` entries; with ``--vacuum-every N`` a plain ``VACUUM nodes`` each N entries,
autovacuum's part where the server runs it), once with ``tiles.hashes`` in each storage mode (EXTERNAL, the
schema's; EXTENDED, PostgreSQL's default for bytea: a pglz attempt first). For each:
``pg_total_relation_size`` (heap, TOAST, indexes, free-space and visibility maps) of
``nodes`` and ``tiles`` after ``VACUUM (ANALYZE)`` and after ``VACUUM FULL``, per entry,
and the seconds spent in ``insert_nodes``. Then the EXTERNAL database is migrated down
to 0027_storage_v2 (a row per node: the same tree) and measured the same way.

    .venv/bin/python -m bench.tilestore [--entries 200000] [--batch 1000] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence

import psycopg
from alembic import command

from ledger import merkle
from ledger.store.database import _alembic_config
from ledger.store.repository import Store
from ledger.store.writer import EntryValues

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TABLES = ("nodes", "tiles")


def _row(i: int) -> EntryValues:
    return EntryValues(
        i,
        b"leaf %011d" % i,
        bytes(32),
        hashlib.sha256(b"%d" % i).digest(),
        "commission",
        None,
        None,
        "t",
    )


def _grow(store: Store, log: int, entries: int, batch: int, vacuum: Callable[[int], None]) -> float:
    """Append ``entries`` synthetic entries (``vacuum(size)`` after each transaction);
    return the seconds spent in insert_nodes."""
    known: dict[merkle.Subtree, bytes] = {}
    spent = 0.0
    for start in range(0, entries, batch):
        end = min(entries, start + batch)
        new: dict[merkle.Subtree, bytes] = {}
        for i in range(start, end):
            for sub in merkle.subtrees_completed_by(i):
                if sub.level == 0:
                    value = merkle.leaf_hash(_row(i).leaf)
                else:
                    half = 1 << (sub.level - 1)
                    value = merkle.node_hash(
                        known[merkle.Subtree(sub.level - 1, sub.start)],
                        known[merkle.Subtree(sub.level - 1, sub.start + half)],
                    )
                known[sub] = new[sub] = value
        keep = set(merkle.range_subtrees(0, end))  # the frontier is all the next batch reads
        known = {s: h for s, h in known.items() if s in keep}
        with store.writer(log) as tx:
            tx.lock_head()
            tx.insert_entries([_row(i) for i in range(start, end)])
            began = time.perf_counter()
            tx.insert_nodes(new)
            spent += time.perf_counter() - began
            tx.set_head(end, bytes(32), bytes(32))
        vacuum(end)
    return spent


def _sizes(dsn: str, schema: str, full: bool) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path = {schema}")
        tables = [t for t in TABLES if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0]]
        for table in tables:
            conn.execute(f"VACUUM {'FULL' if full else '(ANALYZE)'} {table}")
        return {
            t: int(conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0])
            for t in tables
        }


def _line(label: str, sizes: dict[str, int], entries: int) -> str:
    per = {t: sizes.get(t, 0) / entries for t in TABLES}
    return f"| {label} | {per['nodes']:.1f} | {per['tiles']:.1f} | {sum(per.values()):.1f} |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--vacuum-every",
        type=int,
        default=0,
        help="plain VACUUM nodes each time the log passes a multiple of this (autovacuum's "
        "part, when the server runs it; 0: never during the run)",
    )
    args = parser.parse_args(argv)
    dsn = args.pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    print(
        f"{args.entries:,} entries, {args.batch} a transaction, VACUUM nodes every "
        f"{args.vacuum_every or 'never'}; bytes per entry"
    )
    print("| layout | nodes | tiles | total |\n|---|---:|---:|---:|")
    for mode in ("EXTERNAL", "EXTENDED"):
        schema = f"bench_tiles_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            store = Store.open(f"{args.pg_url}?options=-csearch_path%3D{schema}")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"ALTER TABLE {schema}.tiles ALTER COLUMN hashes SET STORAGE {mode}")
            log = store.ensure_log("bench-tiles", "bench.example/tiles").id
            every = args.vacuum_every

            def vacuum(size: int, schema: str = schema, every: int = every) -> None:
                if every and size // every != (size - args.batch) // every:
                    with psycopg.connect(dsn, autocommit=True) as conn:
                        conn.execute(f"VACUUM {schema}.nodes")

            spent = _grow(store, log, args.entries, args.batch, vacuum)
            label = f"tiles, STORAGE {mode} (insert_nodes {spent:.2f} s)"
            print(_line(f"{label}, VACUUM", _sizes(dsn, schema, False), args.entries))
            print(_line(f"{label}, VACUUM FULL", _sizes(dsn, schema, True), args.entries))
            if mode == "EXTERNAL":
                with store.engines.writer.begin() as conn:
                    command.downgrade(_alembic_config(conn), "0027_storage_v2")
                label = "row per node (migrated down to 0027)"
                print(_line(f"{label}, VACUUM", _sizes(dsn, schema, False), args.entries))
                print(_line(f"{label}, VACUUM FULL", _sizes(dsn, schema, True), args.entries))
            store.close()
            store.engines.dispose()
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
