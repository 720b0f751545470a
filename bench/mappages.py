"""The pages an append writes to SQLite's WAL, by table, with and without the map.

    .venv/bin/python -m bench.mappages [--units N] [--batches B] [--checkpoint-every K]

The large-map figure (`map/append/sqlite/batch-1000/map-100000`, bench.mapheads) is a
ratio of wall-clock rounds, and about half of what the map adds to a batch at 10^5
keys is its write: each page a transaction changes goes to the WAL at the commit
(written and fsynced) and again to the database at the checkpoint. This counts those
pages, which do not depend on the machine's load: two SQLite databases (one with the
map, one with the map step a no-op, bench.mapheads.NoMap), each after ``N``
commissions (untimed) and a warm-up batch, then ``B`` batches of 1,000 commissions;
after each batch the WAL's frames of that transaction are read back (the frames
carrying the WAL header's salts: SQLite's own test of a valid frame), their distinct
page numbers are attributed to tables and indexes through ``dbstat``, and the WAL is
checkpointed and truncated by hand, so that every batch starts on an empty WAL (the
store's checkpointer, ledger.store.checkpoints, is held back for the run: its thread
would restart the WAL under the count). It prints the median pages a batch of each
table on each side and the map's extra pages a batch (docs/PERFORMANCE.md, "map28").

``--checkpoint-every K`` checkpoints by hand after every ``K`` batches instead: a checkpoint copies each page
once, its latest frame, so pages rewritten by several batches are written to the
database once. It also prints the pages a checkpoint copied, a batch: what a larger
autocheckpoint would save of the second write.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from bench import appends, mapheads, streams
from bench.databases import SqliteTarget
from ledger.store import database

_HEADER = 32  # the WAL header's bytes
_FRAME_HEADER = 24


def wal_pages(path: Path) -> list[int]:
    """The page numbers of the valid frames in the WAL beside the database ``path``
    (those carrying the header's salts, in file order; empty if there is no WAL)."""
    wal = path.with_name(path.name + "-wal")
    if not wal.exists():
        return []
    data = wal.read_bytes()
    if len(data) < _HEADER:
        return []
    page_size = int.from_bytes(data[8:12], "big")
    salts = data[16:24]
    frame = _FRAME_HEADER + page_size
    pages = []
    for at in range(_HEADER, len(data) - frame + 1, frame):
        if data[at + 8 : at + 16] != salts:
            break  # a frame of an earlier generation of the WAL: the valid ones ended
        pages.append(int.from_bytes(data[at : at + 4], "big"))
    return pages


def by_table(side: sqlite3.Connection, pages: Sequence[int]) -> Counter[str]:
    """The distinct ``pages`` counted by the table or index holding them (``dbstat``;
    "?" for pages it does not list: free pages, the lock-byte page)."""
    owner = dict(side.execute("SELECT pageno, name FROM dbstat"))
    return Counter(owner.get(page, "?") for page in set(pages))


def run(
    units: int, batches: int, every: int = 1
) -> tuple[dict[bool, list[Counter[str]]], dict[bool, list[int]]]:
    """Per side (with the map: True), the pages by table of each timed batch, and the
    pages each checkpoint (after ``every`` batches) copied."""
    # The writers never autocheckpoint (ledger.store.checkpoints); with the checkpointer's
    # thresholds out of reach, only this run's own checkpoints copy the WAL.
    saved = database.SQLITE_CHECKPOINT_FRAMES, database.SQLITE_WAL_BOUND_FRAMES
    database.SQLITE_CHECKPOINT_FRAMES = database.SQLITE_WAL_BOUND_FRAMES = 1 << 62
    try:
        return _run(units, batches, every)
    finally:
        database.SQLITE_CHECKPOINT_FRAMES, database.SQLITE_WAL_BOUND_FRAMES = saved


def _run(
    units: int, batches: int, every: int
) -> tuple[dict[bool, list[Counter[str]]], dict[bool, list[int]]]:
    base = streams.base_events(streams.base_world())
    work = next(w for w in appends.workloads({1000: 1000 * batches}) if w.stream == "commission")
    target = SqliteTarget()
    out: dict[bool, list[Counter[str]]] = {False: [], True: []}
    copied: dict[bool, list[int]] = {False: [], True: []}
    try:
        for mapped in (False, True):
            url = target.fresh("mappages", slot=int(mapped))
            path = Path(make_url(url).database or "")
            ledger = appends.open_ledger(url, base)
            side = sqlite3.connect(path, isolation_level=None)
            try:
                for preload in streams.commission_slices("P", units):
                    mapheads._seconds(ledger, preload, 1000, mapped)
                    side.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                mapheads._seconds(ledger, work.warm, 1000, mapped)
                side.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                gc.collect()
                timed = appends.unverified(work.timed)
                done = 0  # frames of the WAL already counted
                for number, start in enumerate(range(0, len(timed), 1000), 1):
                    mapheads._seconds(ledger, timed[start : start + 1000], 1000, mapped)
                    pages = wal_pages(path)
                    out[mapped].append(by_table(side, pages[done:]))
                    done = len(pages)
                    if number % every == 0:
                        copied[mapped].append(len(set(pages)))
                        side.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                        done = 0
            finally:
                side.close()
                ledger.close()
    finally:
        target.close()
    return out, copied


def _median(counts: list[Counter[str]], names: set[str] | None = None) -> float:
    return statistics.median(
        sum(n for name, n in c.items() if names is None or name in names) for c in counts
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000, help="commissions first (map size)")
    parser.add_argument("--batches", type=int, default=8, help="batches of 1,000 counted")
    parser.add_argument(
        "--checkpoint-every", type=int, default=1, help="batches between checkpoints"
    )
    args = parser.parse_args(argv)
    out, copied = run(args.units, args.batches, args.checkpoint_every)
    names = {name for counts in out.values() for c in counts for name in c}
    for name in sorted(names, key=lambda n: -_median(out[True], {n})):
        print(
            f"  {name}: {_median(out[True], {name}):,.0f} pages a batch with the map, "
            f"{_median(out[False], {name}):,.0f} without"
        )
    total = {mapped: _median(counts) for mapped, counts in out.items()}
    print(
        f"sqlite, {args.units:,} units before: {total[True]:,.0f} pages a batch with the "
        f"map, {total[False]:,.0f} without; the map's {total[True] - total[False]:,.0f} "
        "(each written to the WAL at the commit and to the database at its checkpoint)"
    )
    every = args.checkpoint_every
    per = {mapped: statistics.median(c) / every for mapped, c in copied.items()}
    print(
        f"  checkpoints every {every} batches copied {per[True]:,.0f} pages a batch with "
        f"the map, {per[False]:,.0f} without"
    )


if __name__ == "__main__":
    main()
