"""The map step on bucket rows, in place of `ledger.service.headmap.MapKeeper` (a probe).

Not the product's code: ``python -m bench.mapbuckets --append`` puts `BucketKeeper` in
the append (as `bench.mapstep` times the real keeper) to measure the whole append with
the map kept as buckets (bench.bucketmap) in a ``map_buckets`` table, created on first
use. It keeps one `BucketMap` per log between appends (on the log's `MapCache`, which
the appender hands every keeper), checks its root against the stored root bucket at
each append, and has no backfill or diverged check: fresh databases only.
"""

from __future__ import annotations

import gc
from functools import partial
from itertools import accumulate
from typing import Any

from sqlalchemy import Connection

from bench.bucketmap import BucketMap, decode
from ledger.events import Event
from ledger.map import commit as map_commit
from ledger.map import update as map_update
from ledger.map.heads import HeadTracker
from ledger.rules.state import State
from ledger.service.headmap import MapCache
from ledger.store import WriteTx

_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS map_buckets (log INTEGER, pos BLOB, data BLOB, "
    "PRIMARY KEY (log, pos))",  # a rowid table: rows of ~1 KB (bench.mapbuckets' doc)
    "postgresql": "CREATE TABLE IF NOT EXISTS map_buckets (log INTEGER, pos BYTEA, "
    "data BYTEA, PRIMARY KEY (log, pos))",
}


class BucketKeeper:
    """`MapKeeper`'s interface (open, `add`, `commit`) over bucket rows (module doc)."""

    def __init__(self, tx: WriteTx, size: int, state: State, cache: MapCache | None = None) -> None:
        del size  # fresh databases only: nothing to backfill or compare
        conn: Connection = tx.conn
        self._pg = conn.dialect.name != "sqlite"
        conn.exec_driver_sql(_TABLE["postgresql" if self._pg else "sqlite"])
        self._conn, self._log, self._state = conn, tx.log, state
        holder: Any = cache if cache is not None else MapCache()
        buckets: BucketMap | None = getattr(holder, "buckets_probe", None)
        stored = read_buckets(conn, tx.log, [map_update.ROOT], pg=self._pg)
        root = decode(stored[map_update.ROOT]).get(1) if stored else None
        if buckets is None or buckets.buckets[0].get(1) != root:
            if buckets is not None or root is not None:
                raise SystemExit("bucketkeeper: the stored map moved under this process")
            buckets = BucketMap()
            holder.buckets_probe = buckets
        buckets.read = partial(read_buckets, conn, tx.log, pg=self._pg)
        self._buckets = buckets
        self._tracker = HeadTracker(buckets.lookup, self._partner_of)

    def _partner_of(self, authorization: str) -> str | None:
        record = self._state.authorizations.get(authorization)
        return None if record is None else record.partner

    def add(self, index: int, leaf_hash: bytes, event: Event) -> None:
        """The entry at ``index`` holds ``event``: move the heads it touches."""
        self._tracker.add(index, leaf_hash, event)

    def commit(self) -> str:
        """Write the changed buckets; return the extension line of the new root."""
        was_on = gc.isenabled()
        gc.disable()  # as MapKeeper.commit (headmap._collector_paused)
        try:
            root = self._buckets.update(self._tracker.changes)
            write_buckets(self._conn, self._log, self._buckets.rows(), self._pg)
            self._buckets.forget_deep()
        finally:
            if was_on:
                gc.enable()
        return map_commit.extension(root)


_UPSERT = (
    "INSERT INTO map_buckets (log, pos, data) {} ON CONFLICT (log, pos) "
    "DO UPDATE SET data = excluded.data"
)


def write_buckets(conn: Connection, log: int, rows: list[tuple[bytes, bytes]], pg: bool) -> None:
    """Upsert the bucket rows (SQLite: 300 a statement)."""
    if pg:  # one statement whose rows the server cuts from packed columns (as mapnodes)
        starts = list(accumulate((len(data) for _, data in rows), initial=0))
        select = (
            "SELECT %(log)s, substring(%(pos)s::bytea from i * 33 + 1 for get_byte(%(lens)s, i)),"
            " substring(%(data)s::bytea from (%(starts)s::int4[])[i + 1] + 1 for "
            "(%(starts)s::int4[])[i + 2] - (%(starts)s::int4[])[i + 1])"
            " FROM generate_series(0, %(n)s - 1) AS i"
        )
        params = {
            "log": log,
            "n": len(rows),
            "pos": b"".join(pos.ljust(33, b"\0") for pos, _ in rows),
            "lens": bytes(len(pos) for pos, _ in rows),
            "data": b"".join(data for _, data in rows),
            "starts": starts,
        }
        conn.exec_driver_sql(_UPSERT.format(select), params)
        return
    for start in range(0, len(rows), 300):
        part = rows[start : start + 300]
        flat = tuple(x for pos, data in part for x in (log, pos, data))
        conn.exec_driver_sql(_UPSERT.format("VALUES " + ", ".join(["(?, ?, ?)"] * len(part))), flat)


def read_buckets(
    conn: Connection, log: int, positions: list[bytes], *, pg: bool
) -> dict[bytes, bytes]:
    """The bucket rows at ``positions`` (absent ones left out)."""
    out: dict[bytes, bytes] = {}
    if pg:
        query = "SELECT pos, data FROM map_buckets WHERE log = %s AND pos = ANY(%s)"
        parts: list[tuple[Any, ...]] = [(log, positions)]
    else:
        query = "SELECT pos, data FROM map_buckets WHERE log = ? AND pos IN ({})"
        parts = [(log, *positions[i : i + 500]) for i in range(0, len(positions), 500)]
    for params in parts:
        marks = ", ".join("?" * (len(params) - 1))
        for pos, data in conn.exec_driver_sql(query.format(marks) if not pg else query, params):
            out[bytes(pos)] = bytes(data)
    return out
