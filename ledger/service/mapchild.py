"""The map's child process (ledger.service.mapworker): its loop, run as
``python -P -c "...; from ledger.service.mapchild import serve; serve()"``.

It reads the database's URL and log number (its first message), says it is ready, then
answers each request (the stored root row, the predicted unit entries) with the new
root and the root's bucket row, or with the failure's text: the parent then updates the
map itself. It keeps the other changed rows of its last answer (all are answered when the
request says not to keep them), and writes them when the
parent, whose append took that answer and committed, asks (`WRITE`): in a transaction
of its own, only if the log's row still says that the stored map is the one of the
log's size before that batch (`LogHead.map_size`, set by the append); it then says the
map is the whole log's. It keeps the map's top buckets between requests (`MapCache`:
used only while their root is the stored root the request carries) and reads the
committed buckets below them through its own connection, keeping up to
`DEEP_BUCKETS` of those too (a map of ~10^5 keys whole: its batches then read nothing).
A request whose rows it keeps is answered as soon as the root is known: the rows are
made after the answer, while the append finishes. On SQLite it keeps the rowids of the
rows it read or wrote (up to `ROWIDS_KEPT`), and rewrites those rows by rowid, in rowid
order (ledger.store.mapnodes.write_buckets), and after each write it has a thread
flush the WAL file (ledger.store.checkpoints.WalSyncer): its commits do not fsync, and
the append's next commit, which does, would otherwise flush its frames under the log's
lock.
Python's cyclic collector is paused while it updates and while it writes (as the
parent's map step: ledger.service.collector): collections set off by a batch's
allocations walked its young objects mid-batch, and the full ones every bucket dict
held (tens of thousands with the map held whole).
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

from sqlalchemy import Engine, create_engine

from ledger.map.heads import unit_heads_of
from ledger.map.update import ROOT
from ledger.service import collector
from ledger.service.headmap import MapCache
from ledger.service.mapworker import CODE_ID, STALE, WRITE, WROTE, Answer, receive, send
from ledger.store.checkpoints import WalSyncer
from ledger.store.database import map_writer
from ledger.store.mapnodes import read_buckets, write_buckets
from ledger.store.snapshot import sqlite_file

#: buckets below the cached top the child keeps between requests: a map of 10^5 keys has
#: ~34,500 (~1 KB each); at 10^6 keys those a batch touches are 0.6-2.4 KB, ~100 MB in
#: all before they are dropped (docs/OPERATIONS.md)
DEEP_BUCKETS = 65_536
#: rowids of bucket rows the child keeps (SQLite; ~100 bytes each): as many as the deep
#: buckets it keeps, plus the top buckets (~4,400 at most) and a batch's new rows; past
#: this many (checked after each message) they are forgotten, and learned again as rows
#: are read and written
ROWIDS_KEPT = DEEP_BUCKETS + 8_192


def serve() -> None:
    """The child's loop (see the module doc): updates a cached map per request, reading
    the committed buckets below its cached top through its own connection, and writes
    the rows of the last update when told to."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    first = receive(stdin)
    if first is None:
        return
    url, log = first[0]
    engine = create_engine(url, pool_size=1)  # reads only: no pragma, no migration
    writer: Engine | None = None  # made at the first write
    cache = MapCache(keep_deep=DEEP_BUCKETS)
    #: (request, its rows) not written yet; or (request, why it has none): the write's answer
    kept: tuple[int, list[Any] | str] | None = None
    #: bucket rows' rowids by position (SQLite; None on PostgreSQL)
    rowids: dict[bytes, int] | None = {} if engine.dialect.name == "sqlite" else None
    path = sqlite_file(url)
    syncer = None if path is None else WalSyncer(path)
    send(stdout, (0, CODE_ID, None, "ready"))
    try:
        while (received := receive(stdin)) is not None:
            if rowids is not None and len(rowids) > ROWIDS_KEPT:
                rowids.clear()
            message, digest = received
            answer: Answer
            if message[0] == WRITE:
                _, number, size = message
                rows = kept[1] if kept is not None and kept[0] == number else None
                kept = None
                if rows is None:
                    outcome = STALE
                elif isinstance(rows, str):  # the rows failed after the answer
                    outcome = rows
                else:
                    try:
                        writer = writer or map_writer(url)
                        with collector.paused():
                            outcome = write_rows(writer, log, size, rows, rowids)
                    except Exception as e:  # told to the parent; the next append catches up
                        outcome = f"{type(e).__name__}: {e}"[:500]
                        if rowids is not None:  # some may be of rows its rollback undid
                            rowids.clear()
                if outcome != WROTE:
                    cache.drop()  # its top is the map that was not written
                send(stdout, (number, digest, None, outcome))
                if outcome == WROTE and syncer is not None:
                    syncer.sync()  # after the answer: the parent does not wait for it
                continue
            number, root_row, units, keep = message
            kept = None
            answered = False
            try:
                with collector.paused(), engine.connect() as conn:
                    read = partial(read_buckets, conn, log, rowids=rowids)
                    bucket_map = cache.open(read, root_row)
                    root = bucket_map.update(unit_heads_of(units))
                    if keep:  # the append needs the root bucket only: the rest after
                        send(stdout, (number, digest, root, [(ROOT, bucket_map.root_row())]))
                        answered = True
                    rows = bucket_map.rows()
                    bucket_map.forget_deep(DEEP_BUCKETS)
                if keep:
                    kept = (number, rows)
                    continue
                answer = (number, digest, root, rows)
            except Exception as e:  # told to the parent, which updates the map itself
                cache.drop()
                failure = f"{type(e).__name__}: {e}"[:500]
                # after the answer (not expected: the rows are only joined), the failure
                # is the write's answer: the parent logs it, and its next append catches
                # the map up, as after any write that did not land
                if answered:
                    kept = (number, failure)
                    continue
                answer = (number, digest, None, failure)
            send(stdout, answer)
    finally:
        if syncer is not None:
            syncer.close()
        engine.dispose()
        if writer is not None:
            writer.dispose()


def write_rows(
    engine: Engine,
    log: int,
    size: int,
    rows: list[tuple[bytes, bytes]],
    rowids: dict[bytes, int] | None = None,
) -> str:
    """Write ``rows`` (an update of the stored map of the log's first ``size`` entries)
    and mark the stored map as the whole log's, in one transaction, if the log's row
    still says the stored map is that of ``size`` entries: `WROTE`; else nothing is
    written (another writer caught the map up, or the append did not commit): `STALE`.
    ``rowids``: as `write_buckets` takes them (SQLite)."""
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    with engine.begin() as conn:
        if not sqlite:  # a lost write leaves the map behind, which is caught up
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        moved = conn.exec_driver_sql(
            f"UPDATE logs SET map_size = NULL WHERE id = {mark} AND map_size = {mark}",  # noqa: S608
            (log, size),
        ).rowcount
        if moved != 1:
            return STALE
        write_buckets(conn, log, rows, sqlite, rowids)
    return WROTE
