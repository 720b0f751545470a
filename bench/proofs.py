"""Figure 4: inclusion and consistency proof time from the store, and how it grows.

For each log size n (10^4, 10^5, 10^6; 10^7 too in a full run) a SQLite store (made by
`Store.open`, so with the real schema) gets n synthetic leaves: 16-byte leaf data in
``entries`` (written by SQLite itself) and the hash of every perfect subtree of level
>= 3 in ``tiles`` and ``nodes``, as the append path stores them, written directly in bulk (signing
and appending 10^7 real events would take hours; proofs read only hashes). The build is
timed (``proofs/build``), as is the load of the store's in-memory proof tree
(ledger.store.prooftree, `Store.prepare_proofs`: ``proofs/tree-load``; a server's first
proof starts it in the background). Then `Store.inclusion_proof` and
`Store.consistency_proof` (what the API calls) are timed over random indices and old
sizes against the full tree, in `ROUNDS` interleaved rounds over every size, the
median round's mean per figure (see `figures`); every proof is verified against the root (untimed). Figures: microseconds
per proof at each size, and the growth from 10^4 to the largest size against log2(n)
growth (target: at most 2x the log ratio; linear growth would be 100x or more).

Comparison (target >= 10x faster): pymerkle's store-backed `SqliteTree` at 10^5 over
the same kind of leaves (its in-memory tree is shown too, as a detail), timed in the
same rounds as ours, so that both see the same machine load.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.figures import Figure, Run
from ledger import merkle
from ledger.store import nodetiles
from ledger.store.queries import LOWEST_NODE_LEVEL
from ledger.store.repository import Store

PYMERKLE_SIZE = 100_000
SPEEDUP_TARGET = 0.1  # our time / pymerkle's: 10x faster
GROWTH_TARGET = 2.0
#: timing rounds: each times every size and pymerkle on a slice of their picks; a figure
#: is the median of its rounds (a load spike on a shared machine moves one round)
ROUNDS = 5


def _leaf(i: int) -> bytes:
    """Leaf ``i``'s data: 16 ASCII digits, so that SQLite can write it too (`_LEAF_SQL`)."""
    return b"%016d" % i


#: `_leaf` in SQL, of the row number ``i``
_LEAF_SQL = "CAST(printf('%016d', i) AS BLOB)"


def _hash_levels(leaf_hashes: list[bytes]) -> list[list[bytes]]:
    """Every level of the perfect subtrees over ``leaf_hashes``: [leaf hashes, level 1, ...]."""
    sha = hashlib.sha256
    levels = [leaf_hashes]
    while len(levels[-1]) > 1:
        # zip of one iterator with itself: (0, 1), (2, 3), ...; an odd last hash has no
        # sibling yet, so no parent on this level
        pairs = iter(levels[-1])
        levels.append([sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)])
    return levels


def build(folder: Path, size: int) -> tuple[Store, int, bytes]:
    """A SQLite store whose log ``proofs`` has ``size`` synthetic leaves; (store, log, root).

    The entries are written by SQLite itself (one ``INSERT ... SELECT`` over a counter:
    no Python per row), the node hashes the store keeps (levels >= 3, as the append path
    writes them) by ``executemany``. 10^7 took ~25 min on a loaded machine before (every
    row bound from Python, levels 1-2 written though never read, the tree hashed twice).
    """
    path = folder / f"proofs-{size}.db"
    url = f"sqlite:///{path}"
    store = Store.open(url)  # the real schema
    log = store.ensure_log("proofs", "bench.example/proofs").id
    store.close()
    sha = hashlib.sha256
    levels = _hash_levels([sha(b"\x00" + _leaf(i)).digest() for i in range(size)])
    conn = sqlite3.connect(path, isolation_level=None)
    # Bulk set-up only (the timed reads are real, in WAL mode: the store sets it again):
    # no journal, so no page is written twice (WAL, then checkpoint), and no fsync.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")  # 400 MB
    # Proofs read primary keys only: the secondary entry indexes (event hash, unit) are
    # dropped from this throw-away copy, as they made the bulk load 5x slower.
    for (index,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries' AND sql IS NOT NULL"
    ).fetchall():
        conn.execute(f'DROP INDEX "{index}"')
    columns = [(r[1], r[2].upper()) for r in conn.execute("PRAGMA table_info(entries)")]
    given = {"log": str(log), "idx": "i", "leaf": _LEAF_SQL}
    values = ", ".join(given.get(name) or _filler(kind) for name, kind in columns)
    conn.execute("BEGIN")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "  # noqa: S608
        f"INSERT INTO entries SELECT {values} FROM n",
        (size,),
    )
    for level, hashes in enumerate(levels):
        if level >= LOWEST_NODE_LEVEL:  # levels 1 and 2 are computed from the leaves
            # as the append leaves them: complete tiles, then the last one's nodes
            tiles, singles = nodetiles.split(
                dict(zip(((level, i) for i in range(len(hashes))), hashes, strict=True))
            )
            conn.executemany(
                "INSERT INTO tiles (log, level, idx, hashes) VALUES (?, ?, ?, ?)",
                [(log, lv, t, blob) for (lv, t), blob in tiles.items()],
            )
            conn.executemany(
                "INSERT INTO nodes (log, level, idx, hash) VALUES (?, ?, ?, ?)",
                [(log, lv, i, h) for (lv, i), h in singles.items()],
            )
    root = merkle.range_root(
        [levels[p.level][p.start >> p.level] for p in merkle.range_subtrees(0, size)]
    )
    conn.execute("UPDATE logs SET size = ?, root = ? WHERE id = ?", (size, root, log))
    conn.execute("COMMIT")
    conn.close()
    return Store.open(url), log, root


def _filler(kind: str) -> str:
    """A column's value in SQL: unique 32-byte blobs (as the event hash), 0, or text."""
    if "BLOB" in kind or "BINARY" in kind:
        return "CAST(printf('%032d', i) AS BLOB)"
    if "INT" in kind or "BOOL" in kind:
        return "0"
    return "'x'"


def _time_each(calls: list[Callable[[], object]]) -> tuple[float, list[object]]:
    """Mean microseconds per call, and the results."""
    start = time.perf_counter()
    results = [call() for call in calls]
    return (time.perf_counter() - start) * 1e6 / len(calls), results


def _ours(store: Store, log: int, size: int, root: bytes, picks: list[int]) -> tuple[float, float]:
    """(inclusion µs, consistency µs) from the store; every proof checked (untimed)."""
    for i in picks[:20]:  # warm-up: connections, statement caches
        store.inclusion_proof(log, i, size)
    inclusion, proofs = _time_each([lambda i=i: store.inclusion_proof(log, i, size) for i in picks])
    for i, proof in zip(picks, proofs, strict=True):
        merkle.verify_inclusion(hashlib.sha256(b"\x00" + _leaf(i)).digest(), i, size, proof, root)  # type: ignore[arg-type]
    olds = [max(1, i) for i in picks]
    consistency, cproofs = _time_each(
        [lambda o=o: store.consistency_proof(log, o, size) for o in olds]
    )
    for old, proof in list(zip(olds, cproofs, strict=True))[:50]:
        merkle.verify_consistency(old, size, store.root(log, old), root, proof)  # type: ignore[arg-type]
    return inclusion, consistency


def _pymerkle_trees(folder: Path) -> dict[str, Any]:
    """pymerkle's store-backed and in-memory trees of `PYMERKLE_SIZE` leaves like ours."""
    from pymerkle import InmemoryTree, SqliteTree

    data = [_leaf(i) for i in range(PYMERKLE_SIZE)]
    sqlite_tree = SqliteTree(str(folder / "pymerkle.db"), algorithm="sha256")
    sqlite_tree.append_entries(data)
    memory_tree = InmemoryTree(algorithm="sha256")
    for item in data:
        memory_tree.append_entry(item)
    return {"sqlite": sqlite_tree, "inmemory": memory_tree}


def _pymerkle(trees: dict[str, Any], picks: list[int]) -> dict[str, float]:
    """pymerkle at 10^5: (store-backed and in-memory) inclusion and consistency µs."""
    out = {}
    n = PYMERKLE_SIZE
    for name, tree in trees.items():
        prove, check = tree.prove_inclusion, tree.prove_consistency
        # pymerkle's tree is 1-based: leaf i+1 is our leaf i
        out[f"{name}/inclusion"] = _time_each([partial(prove, i + 1, n) for i in picks])[0]
        out[f"{name}/consistency"] = _time_each([partial(check, max(1, o), n) for o in picks])[0]
    return out


def figures(run: Run) -> list[Figure]:
    """Proof times per log size, their growth, and the pymerkle comparison.

    Every size is built and loaded first; then the proofs are timed in `ROUNDS` rounds,
    each timing every size and pymerkle in turn on a slice of their picks, so that the
    ratios (growth, vs pymerkle) compare times taken minutes apart at most, not a small
    size at one load and the largest at another (the machine is shared). Each figure is
    the median of its rounds' means.
    """
    sizes = run.pick([10**4, 10**5, 10**6], [10**4, 10**5, 10**6, 10**7])
    count = run.pick(300, 2000)
    out: list[Figure] = []
    rounds: dict[object, list[float]] = {}
    opened: dict[int, tuple[Store, int, bytes, list[int]]] = {}
    with tempfile.TemporaryDirectory(
        prefix="bench-proofs-", dir=os.environ.get("BENCH_TMP")
    ) as tmp:
        try:
            for size in sizes:
                began = time.perf_counter()
                store, log, root = build(Path(tmp), size)
                built = time.perf_counter() - began
                opened[size] = (store, log, root, random.Random(size).sample(range(size), count))
                began = time.perf_counter()
                store.prepare_proofs(log)  # what a server's first proof starts in the background
                loaded = time.perf_counter() - began
                print(
                    f"  n={size:,}: built in {built:.0f} s, proof tree loaded in {loaded:.2f} s "
                    f"(load average {os.getloadavg()[0]:.1f})"
                )
                exp = f"10^{round(math.log10(size))}"
                out.append(Figure.info(f"proofs/build/n={exp}", built, "s"))
                out.append(Figure.info(f"proofs/tree-load/n={exp}", loaded, "s"))
            trees = _pymerkle_trees(Path(tmp))
            baseline_picks = random.Random(1).sample(range(PYMERKLE_SIZE), run.pick(100, 300))
            for turn in range(ROUNDS):
                for size, (store, log, root, picks) in opened.items():
                    inc, con = _ours(store, log, size, root, picks[turn::ROUNDS])
                    rounds.setdefault((size, 0), []).append(inc)
                    rounds.setdefault((size, 1), []).append(con)
                for key, value in _pymerkle(trees, baseline_picks[turn::ROUNDS]).items():
                    rounds.setdefault(key, []).append(value)
        finally:
            for store, *_ in opened.values():
                store.close()
    medians = {key: statistics.median(values) for key, values in rounds.items()}
    times = {size: (medians[(size, 0)], medians[(size, 1)]) for size in sizes}
    theirs = {key: value for key, value in medians.items() if isinstance(key, str)}
    for size in sizes:
        inc, con = times[size]
        exp = f"10^{round(math.log10(size))}"
        print(f"  n={size:,}: inclusion {inc:.0f} µs, consistency {con:.0f} µs")
        out.append(Figure.info(f"proofs/inclusion/n={exp}", inc, "µs"))
        out.append(Figure.info(f"proofs/consistency/n={exp}", con, "µs"))
    small, large = sizes[0], sizes[-1]
    log_growth = math.log2(large) / math.log2(small)
    exp = f"10^{round(math.log10(large))}"
    for position, kind in enumerate(("inclusion", "consistency")):
        growth = times[large][position] / times[small][position]
        out.append(
            Figure.ratio_at_most(
                f"proofs/{kind}/growth-10^4-to-{exp}", growth, "x", log_growth, GROWTH_TARGET
            )
        )
    for position, kind in enumerate(("inclusion", "consistency")):
        ours = times[PYMERKLE_SIZE][position]
        print(
            f"  pymerkle n=10^5 {kind}: sqlite {theirs[f'sqlite/{kind}']:.0f} µs, in-memory {theirs[f'inmemory/{kind}']:.0f} µs"
        )
        out.append(
            Figure.info(f"baseline/pymerkle/sqlite/{kind}/n=10^5", theirs[f"sqlite/{kind}"], "µs")
        )
        out.append(
            Figure.info(
                f"baseline/pymerkle/inmemory/{kind}/n=10^5", theirs[f"inmemory/{kind}"], "µs"
            )
        )
        out.append(
            Figure.ratio_at_most(
                f"proofs/{kind}/vs-pymerkle-sqlite/n=10^5",
                ours,
                "µs",
                theirs[f"sqlite/{kind}"],
                SPEEDUP_TARGET,
            )
        )
    return out
