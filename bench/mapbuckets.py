"""Probe: the map of heads stored four trie levels a row, updated bucket by bucket.

    .venv/bin/python -m bench.mapbuckets [--keys N] [--batches N] [--seed N] [--pg]
    .venv/bin/python -m bench.mapbuckets --append [--runs N] [--pg]
    .venv/bin/python -m bench.mapbuckets --figure {now,buckets}

Not the product's code: a measurement of a layout the map could move to (issue 18,
docs/PERFORMANCE.md "maplayout, session 23"), kept so the next step starts from numbers.

The layout (bench.bucketmap): a *bucket* is the canonical trie (ledger.map.trie) below a
node at a depth ``T`` divisible by 4, cut four levels down: its row, keyed by the
position of that top node, holds every node at depths ``T + 1 .. T + 4`` under it (up
to 30) as one entry each. A node is in exactly one row, so the rows hold the same nodes
as ``map_nodes`` does one a row.

By default the probe replays the same batches (1,000 random keys each, into a map of
``--keys`` keys) through the current map step (`ledger.map.update.update` with the cache
of the top levels, `ledger.store.mapnodes.write_nodes`, `MapCache.wrote`) and through
`bench.bucketmap.BucketMap` (update, encode, one upsert per changed bucket into a
scratch table), alternating, and prints the CPU of each part per batch, the writes'
wall time, proofs' median time and both tables' bytes per key. It stops if the roots
differ after any batch, if the buckets do not decode to exactly the rows of
``map_nodes`` at the end, or if any proof differs. ``--append`` runs `bench.mapstep`
with `bench.bucketkeeper.BucketKeeper` as the append's map step; ``--figure`` runs the
suite's quick ``map/append`` figures (bench.mapheads) with the real map step or with it.
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path as FilePath
from typing import Any

from sqlalchemy.engine import make_url

from bench import mapheads, mapstep
from bench.bucketkeeper import BucketKeeper, read_buckets, write_buckets
from bench.bucketmap import BucketMap, positions, prove
from bench.databases import PostgresTarget, SqliteTarget
from bench.figures import DEFAULT_PG_URL, Run
from ledger.map import update as map_update
from ledger.map.trie import Head
from ledger.service import append as append_module
from ledger.service.headmap import MapCache
from ledger.store import Store
from ledger.store.mapnodes import read_nodes, write_nodes


def _proof_times(store: Store, log: int, pg: bool, keys: list[bytes]) -> dict[str, float]:
    """Median µs of a proof now (`Store.map_proof`) and from buckets (a read transaction
    and one query each), each checked against the other."""
    if pg:  # both tables were just written: plan their reads on statistics
        with store.engines.writer.begin() as conn:
            conn.exec_driver_sql("ANALYZE map_nodes")
            conn.exec_driver_sql("ANALYZE map_buckets")
    now, buckets = [], []
    for key in keys:
        start = time.perf_counter()
        proof = store.map_proof(log, key)
        now.append(time.perf_counter() - start)
        start = time.perf_counter()
        with store.engines.reader.connect() as conn:
            other = prove(partial(read_buckets, conn, log, pg=pg), key)
        buckets.append(time.perf_counter() - start)
        if other != proof:
            raise SystemExit("mapbuckets: the proofs differ")
    return {"now": 1e6 * statistics.median(now), "buckets": 1e6 * statistics.median(buckets)}


def _timer(spent: dict[str, float]) -> Callable[..., Any]:
    """A caller of functions adding their CPU seconds to ``spent[name]``; a write's wall
    seconds also go to ``spent["<way>: wall"]`` (the server's share is only there)."""

    def timed(name: str, call: Callable[..., Any], *args: Any) -> Any:
        start, wall = time.process_time(), time.perf_counter()
        try:
            return call(*args)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - start
            if name.endswith("write") or name.endswith("write_nodes"):
                way = name.split(":")[0] + ": wall"
                spent[way] = spent.get(way, 0.0) + time.perf_counter() - wall

    return timed


def _size(store: Store, url: str, table: str, pg: bool) -> int:
    """Bytes of ``table`` with its primary key, after a VACUUM (PostgreSQL: a plain one,
    as a live database is kept)."""
    if pg:
        with store.engines.writer.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM {table}")
            query = f"SELECT pg_total_relation_size('{table}')"
            return int(conn.exec_driver_sql(query).scalar_one())
    with sqlite3.connect(make_url(url).database or "") as conn:
        conn.execute("VACUUM")
        query = "SELECT SUM(pgsize) FROM dbstat WHERE name = ?"
        return int(conn.execute(query, (table,)).fetchone()[0] or 0)


def run(url: str, keys: int, batches: int, seed: int) -> dict[str, float]:
    """Replay the batches both ways (module doc). Returns, by name: CPU ms a batch of
    each part (``"now: update"`` ...), the writes' wall ms a batch (``"now: wall"``),
    rows written a batch (``"rows: now"``), median µs of a proof (``"proof: now"``) and
    table bytes per key (``"size: map_nodes"``). Raises SystemExit if the two ways give
    different roots, nodes or proofs."""
    rng = random.Random(seed)
    pg = not url.startswith("sqlite")
    store = Store.open(url)
    try:
        log = store.ensure_log("map", "bench.example/map").id
        first = {rng.randbytes(32): Head(i, bytes(32)) for i in range(keys)}
        built = map_update.update(lambda _ps: {}, first)
        buckets = BucketMap()
        if buckets.update(first) != built.root:
            raise SystemExit("mapbuckets: the first build's roots differ")
        first_rows = buckets.rows()
        buckets.forget_deep()
        with store.engines.writer.begin() as conn:
            write_nodes(conn, log, built, not pg)
            conn.exec_driver_sql(
                "CREATE TABLE map_buckets (log INTEGER, pos BYTEA, data BYTEA, PRIMARY KEY "
                "(log, pos))" if pg else "CREATE TABLE map_buckets (log INTEGER, pos BLOB, "
                "data BLOB, PRIMARY KEY (log, pos))"
            )  # fmt: skip
            write_buckets(conn, log, first_rows, pg)
        cache = MapCache()
        cache.check(map_update.Stored(built.root))
        cache.wrote(built)
        spent: dict[str, float] = {}
        timed = _timer(spent)
        index = keys
        rows_now = rows_buckets = 0
        for batch in range(batches + 1):  # the first is a warm-up, not counted
            changes = {rng.randbytes(32): Head(index + i, bytes(32)) for i in range(1000)}
            index += 1000
            if batch == 1:
                spent.clear()
                rows_now = rows_buckets = 0
            with store.engines.writer.begin() as conn:
                gc.disable()  # as the map step does (headmap._collector_paused)
                roots = {}
                for way in ("now", "buckets") if batch % 2 else ("buckets", "now"):
                    if way == "now":
                        cache.check(read_nodes(conn, log, [map_update.ROOT])[map_update.ROOT])
                        read = cache.reader(partial(read_nodes, conn, log))
                        result = timed("now: update", map_update.update, read, changes, cache.known)
                        timed("now: write_nodes", write_nodes, conn, log, result, not pg)
                        timed("now: MapCache.wrote", cache.wrote, result)
                        roots[way] = result.root
                        rows_now += len(result.nodes) + len(result.leaves)
                    else:
                        buckets.read = partial(read_buckets, conn, log, pg=pg)
                        roots[way] = timed("buckets: update", buckets.update, changes)
                        rows = timed("buckets: encode", buckets.rows)
                        timed("buckets: write", write_buckets, conn, log, rows, pg)
                        buckets.forget_deep()
                        rows_buckets += len(rows)
                gc.enable()
            if roots["now"] != roots["buckets"]:
                raise SystemExit(f"mapbuckets: the roots differ after batch {batch}")
        with store.engines.reader.connect() as conn:
            rows = conn.exec_driver_sql("SELECT pos FROM map_nodes WHERE log = %s" if pg else
                                        "SELECT pos FROM map_nodes WHERE log = ?", (log,))  # fmt: skip
            stored = read_nodes(conn, log, [bytes(pos) for (pos,) in rows])
            every = conn.exec_driver_sql("SELECT pos, data FROM map_buckets").all()
        if stored != positions({bytes(pos): bytes(data) for pos, data in every}):
            raise SystemExit("mapbuckets: the buckets do not hold the rows of map_nodes")
        present = list(first)
        asked = [rng.choice(present) for _ in range(200)] + [rng.randbytes(32) for _ in range(50)]
        out = {name: 1e3 * value / batches for name, value in spent.items()}  # ms a batch
        out["rows: now"] = rows_now / batches
        out["rows: buckets"] = rows_buckets / batches
        for way, median in _proof_times(store, log, pg, asked).items():
            out[f"proof: {way}"] = median
        for table in ("map_nodes", "map_buckets"):
            out[f"size: {table}"] = _size(store, url, table, pg) / index
        return out
    finally:
        store.close()


def _append(pg: bool, runs: int) -> None:
    """`bench.mapstep`'s run with `BucketKeeper` as the map step (timed the same way)."""
    real = vars(append_module)["MapKeeper"]
    setattr(append_module, "MapKeeper", mapstep._timed(BucketKeeper))  # noqa: B010
    target: Any = PostgresTarget(DEFAULT_PG_URL) if pg else SqliteTarget()
    try:
        mapstep.run(target, runs)
    finally:
        target.close()
        setattr(append_module, "MapKeeper", real)  # noqa: B010


def _figure(buckets: bool) -> None:
    """`bench.mapheads`' quick ``map/append`` figures (both databases, ABBA rounds), the
    map step being `BucketKeeper` if ``buckets``, else the real one."""
    real = vars(append_module)["MapKeeper"]
    if buckets:
        setattr(append_module, "MapKeeper", BucketKeeper)  # noqa: B010
    try:
        for figure in mapheads._overhead(Run(quick=True)):
            print(
                f"{figure.name}: {figure.value:,.0f} / {figure.baseline:,.0f} = {figure.ratio:.3f}"
            )
    finally:
        setattr(append_module, "MapKeeper", real)  # noqa: B010


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=4000, help="keys in the map at the start")
    parser.add_argument("--batches", type=int, default=6, help="timed batches of 1,000 keys")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--append", action="store_true", help="bench.mapstep's appends with bench.bucketkeeper"
    )
    parser.add_argument("--runs", type=int, default=2, help="with --append: runs")
    parser.add_argument(
        "--figure",
        choices=("now", "buckets"),
        help="the suite's map/append figures (quick), with MapKeeper or BucketKeeper",
    )
    args = parser.parse_args(argv)
    if args.append:
        _append(args.pg, args.runs)
        return
    if args.figure:
        _figure(args.figure == "buckets")
        return
    with tempfile.TemporaryDirectory() as folder:
        target = PostgresTarget(DEFAULT_PG_URL) if args.pg else None
        try:
            url = target.fresh("mapbuckets") if target else f"sqlite:///{FilePath(folder) / 'm.db'}"
            spent = run(url, args.keys, args.batches, args.seed)
        finally:
            if target:
                target.close()
    for way in ("now", "buckets"):
        parts = {k.split(": ")[1]: v for k, v in spent.items() if k.startswith(way + ":")}
        rows, wall = spent[f"rows: {way}"], parts.pop("wall")
        text = ", ".join(f"{name} {value:.1f}" for name, value in parts.items())
        print(
            f"{way}: {sum(parts.values()):.1f} ms CPU a batch ({text}); write wall "
            f"{wall:.1f} ms; {rows:,.0f} rows"
        )
    print(f"proof, median µs: now {spent['proof: now']:.0f}, buckets {spent['proof: buckets']:.0f}")
    sizes = ", ".join(f"{t} {spent[f'size: {t}']:.0f}" for t in ("map_nodes", "map_buckets"))
    print(f"table bytes per key: {sizes}")


if __name__ == "__main__":
    main()
