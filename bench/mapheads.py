"""The map of heads (issue 18): what it adds to an append, to the disk, and a proof's cost.

    .venv/bin/python -m bench.suite --only mapheads [--quick]

1. **Append overhead.** Commissions of fresh units (each moves one map key) appended
   through `Ledger.append_batch` in batches of 1,000 and of 1, on SQLite and PostgreSQL
   (when reachable), once as the product runs and once with the map step replaced by a
   no-op: two databases (one with the map, one without), each set up once (base world,
   one warm-up batch), then the same pre-signed events in `ROUNDS` timed rounds per
   database in ABBA order (without, with, with, without, twice: a load that drifts
   during the runs weighs on both sides alike; the process's older objects are frozen
   out of the cyclic collector for the rounds, so that a full collection of the
   benchmark's own heap does not land in one side's rounds at random). Each round
   appends new events, so both maps of rounds grow alike. The figure is the median
   round's microseconds per event with the map over the median round's without it:
   one round that meets a stall of a shared disk (a durable commit that took a second)
   or a WAL checkpoint moves the median of four rounds little, where it moved the
   total of two by up to 5x. Target <= 1.25 at batches of 1,000 (batch 1 is shown
   too). The full run adds ``map/append/sqlite/batch-1000/map-100000``: the same on
   SQLite after `LARGE_MAP` commissions in each database, untimed (the map's cost
   grows with its keys: docs/PERFORMANCE.md, "Session 25"). Wall-clock rounds still
   swing on a loaded machine: `bench.mapstep` times the map step inside the appends
   instead (wall and CPU).
2. **Bytes.** The log of bench.storage (commissions, then two hops per unit: 5 entries
   per unit) on SQLite and PostgreSQL (when reachable); the ``map_buckets`` table's bytes
   with its index (SQLite: ``dbstat`` after ``VACUUM``; PostgreSQL: ``pg_table_size``
   and the primary key's ``pg_relation_size`` after a plain ``VACUUM (ANALYZE)``, so the
   dead versions of rewritten rows still count) over the entries; target <= 150 on each.
3. **Proofs.** A stored map of n unit keys (10^4 and 10^5; 10^6 in a full run) written
   straight into ``map_buckets`` (built with `ledger.map.bucketmap` from nothing), then
   `Store.map_proof` (a read transaction and one query) for random present and absent
   keys, each proof verified against the root (untimed). Target: under 1 ms at the
   largest n, and growth like log n.
"""

from __future__ import annotations

import gc
import hashlib
import math
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import appends, baselines, streams
from bench.databases import PostgresTarget, SqliteTarget
from bench.figures import Figure, Run
from bench.storage import MAP_TABLE
from ledger.map import proof as map_proof
from ledger.map.bucketmap import BucketMap
from ledger.map.trie import Head
from ledger.service import append as append_module
from ledger.service.ledger import Ledger
from ledger.service.mapworker import EARLY_FROM
from ledger.store.mapnodes import write_buckets
from ledger.store.repository import Store

OVERHEAD_TARGET = 1.25
#: the full run also times batches of 1,000 on SQLite after this many commissions, so
#: that the map holds a large brand's units (the suite's own maps hold a few thousand)
LARGE_MAP = 100_000
#: timed rounds per database (ABBA: the order of `_ORDER`, repeated)
ROUNDS = 4
_ORDER = (False, True, True, False)
BYTES_TARGET = 150.0
PROOF_TARGET_US = 1000.0


class NoMap:
    """The map step as a no-op: the append without the map, for the baseline."""

    #: no rows left to a map child (ledger.service.headmap.MapKeeper.deferred)
    deferred = None

    def __init__(self, *_args: Any) -> None:
        pass

    def add(self, *_args: Any) -> None:
        """Move nothing."""

    def begin(self, *_args: Any) -> None:
        """Hand nothing over (no map: no child process either)."""

    def use_state(self, *_args: Any) -> None:
        """Nothing to look partners up in."""

    def commit(self, _size: int) -> str:
        """A fixed line, so the checkpoint is the same size."""
        return "map/v1 " + "A" * 43 + "="


def _seconds(ledger: Ledger, events: list[Any], batch: int, mapped: bool) -> float:
    """Append ``events`` to ``ledger`` in batches of ``batch``, with or without the map.
    With it, the time includes the wait for the map's child to write the last batch's
    rows (ledger.service.mapworker: each append waits for the previous batch's, so only
    the last one of a run would otherwise be left out, and the child's write would run
    into the other side's round)."""
    keeper = vars(append_module)["MapKeeper"]
    if not mapped:
        setattr(append_module, "MapKeeper", NoMap)  # noqa: B010 - the baseline's no-op
    try:
        seconds = appends.append_all(ledger, events, batch)
    finally:
        setattr(append_module, "MapKeeper", keeper)  # noqa: B010
    if mapped:
        began = time.perf_counter()
        ledger._append_memo.settle_map()
        seconds += time.perf_counter() - began
    return seconds


def _abba(
    target: Any, work: appends.Workload, base: list[Any], units: int = 0
) -> dict[bool, list[float]]:
    """Microseconds per event of each round, without (False) and with (True) the map:
    one database each, reused by every round (module doc); the rounds' events are
    ``work.timed``. ``units`` more commissions go into each database first, untimed
    (each side as it runs: the map side's map then holds that many more keys)."""
    ledgers: dict[bool, Ledger] = {}
    rounds: dict[bool, list[float]] = {False: [], True: []}
    size = len(work.timed) // ROUNDS
    try:
        expected = {}
        for mapped in (False, True):  # the setup appends the base world with the map
            url = target.fresh(f"m{work.batch}", slot=int(mapped))
            ledgers[mapped] = appends.open_ledger(url, base)
            for preload in streams.commission_slices("L", units):
                _seconds(ledgers[mapped], preload, 1000, mapped)
            _seconds(ledgers[mapped], work.warm, work.batch, mapped)
            if mapped and work.batch >= EARLY_FROM:
                _map_child_ready(ledgers[mapped], url)
            expected[mapped] = ledgers[mapped].head().size + size * ROUNDS
        # the process's objects so far (pre-signed events, earlier groups' leftovers) out
        # of the collector's way: a full collection over them cost 15-40 µs/event of
        # whichever side's round it fell in (docs/PERFORMANCE.md, "mapcost, session 21")
        gc.collect()
        gc.freeze()
        for mapped in _ORDER * (ROUNDS // 2):
            done = len(rounds[mapped])
            # each side its own objects: the other side's append of the same ones would
            # have left their signatures verified (`appends.unverified`)
            events = appends.unverified(work.timed[done * size : (done + 1) * size])
            seconds = _seconds(ledgers[mapped], events, work.batch, mapped)
            rounds[mapped].append(1e6 * seconds / size)
        for mapped, ledger in ledgers.items():
            if ledger.head().size != expected[mapped]:
                raise SystemExit(f"map/append: head size is not {expected[mapped]}")
    finally:
        gc.unfreeze()
        for ledger in ledgers.values():
            ledger.close()
    return rounds


def _map_child_ready(ledger: Ledger, url: str) -> None:
    """Bring the map side to the steady state of a writer that keeps appending large
    batches: its map child process (ledger.service.mapworker) started and ready. It
    starts at a log's second large batch and imports for ~0.6 s of CPU; untimed here,
    else the first rounds would time that start (on the other core) and the append
    updating the map itself meanwhile."""
    ledger._append_memo.ready_map_worker(url, ledger.log, 30)


def _overhead(run: Run) -> list[Figure]:
    # the timed events of all rounds per side (four rounds: one batch of 1,000 a round quick)
    counts = run.pick({1000: 4000, 1: 400}, {1000: 8000, 1: 2000})
    base = streams.base_events(streams.base_world())
    works = [w for w in appends.workloads(counts) if w.stream == "commission"]
    targets: list[Any] = [SqliteTarget()]
    if baselines.postgres_reachable(run):
        targets.append(PostgresTarget(run.pg_url or ""))
    out = []
    try:
        for target in targets:
            for work in works:
                name = f"map/append/{target.name}/batch-{work.batch}"
                out.append(_figure(name, _abba(target, work, base), work.batch == 1000))
        if not run.quick:  # the full run: SQLite on a large brand's map too
            work = next(w for w in works if w.batch == 1000)
            name = f"map/append/sqlite/batch-1000/map-{LARGE_MAP}"
            out.append(_figure(name, _abba(targets[0], work, base, LARGE_MAP), True))
    finally:
        for target in targets:
            target.close()
    return out


def _figure(name: str, rounds: dict[bool, list[float]], targeted: bool) -> Figure:
    """The figure of ``rounds`` (`_abba`): the median rounds with the map over without,
    printed with every round; against `OVERHEAD_TARGET` if ``targeted``."""
    without, with_map = (statistics.median(rounds[m]) for m in (False, True))
    print(
        f"  {name}: {with_map:,.0f} µs/event with the map, {without:,.0f} without "
        f"(median rounds; with {_listed(rounds[True])}, without {_listed(rounds[False])})"
    )
    if targeted:
        return Figure.ratio_at_most(name, with_map, "µs/event", without, OVERHEAD_TARGET)
    return Figure.info(name, with_map, "µs/event", without)


def _listed(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def _bytes(run: Run) -> list[Figure]:
    units = run.pick(2_000, 20_000)
    targets: list[Any] = [SqliteTarget()]
    if baselines.postgres_reachable(run):
        targets.append(PostgresTarget(run.pg_url or ""))
    out = []
    try:
        for target in targets:
            url = target.fresh("mapbytes")
            ledger = appends.open_ledger(url, streams.base_events(streams.base_world()))
            try:
                appends.append_all(ledger, streams.storage_stream(units), 1000)
                entries = ledger.head().size
            finally:
                ledger.close()
            # PostgreSQL: after a plain VACUUM (ANALYZE), as a live database is kept (the
            # dead row versions of rewritten nodes stay in the table's pages for reuse)
            sqlite = target.name == "sqlite"
            _total, parts = target.storage(url) if sqlite else target.storage(url, False)
            size = sum(v for part, v in parts.items() if part.split("/")[0] == MAP_TABLE)
            per_entry = size / entries
            name = f"map/bytes/{target.name}"
            print(f"  {name}: {size:,} bytes / {entries:,} entries = {per_entry:.0f} bytes/entry")
            out.append(Figure.value_at_most(name, per_entry, "bytes/entry", BYTES_TARGET))
    finally:
        for target in targets:
            target.close()
    return out


def _proofs(run: Run) -> list[Figure]:
    sizes = run.pick([10_000, 100_000], [10_000, 100_000, 1_000_000])
    out: list[Figure] = []
    times: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            keys = [hashlib.sha256(b"unit %d" % i).digest() for i in range(n)]
            built = BucketMap()
            root = built.update({k: Head(i, k) for i, k in enumerate(keys)})
            rows = built.rows()
            store = Store.open(f"sqlite:///{Path(folder) / f'map-{n}.db'}")
            log = store.ensure_log("map", "bench.example/map").id
            with store.engines.writer.begin() as conn:
                step = 50_000
                for i in range(0, len(rows), step):
                    write_buckets(conn, log, rows[i : i + step], True)
            rng = random.Random(n)
            asked = [rng.choice(keys) for _ in range(300)] + [
                hashlib.sha256(b"absent %d" % i).digest() for i in range(100)
            ]
            samples = []
            for key in asked:
                start = time.perf_counter()
                proof = store.map_proof(log, key)
                samples.append((time.perf_counter() - start) * 1e6)
                map_proof.verify(root, key, proof)  # untimed: a wrong proof raises
            store.close()
            times[n] = statistics.median(samples)
            label = f"10^{round(math.log10(n))}"
            print(f"  map/proof/n={label}: median {times[n]:.0f} µs, {len(rows):,} rows")
            out.append(Figure.info(f"map/proof/n={label}", times[n], "µs"))
    largest = max(times)
    label = f"10^{round(math.log10(largest))}"
    out.append(
        Figure.value_at_most(
            f"map/proof/under-1ms/n={label}", times[largest], "µs", PROOF_TARGET_US
        )
    )
    growth = times[largest] / times[min(times)]
    log_ratio = math.log2(largest) / math.log2(min(times))
    out.append(Figure.ratio_at_most(f"map/proof/growth/n={label}", growth, "x", log_ratio, 2.0))
    return out


def figures(run: Run) -> list[Figure]:
    """The map's append overhead, bytes per entry and proof time (module doc)."""
    return _overhead(run) + _bytes(run) + _proofs(run)
