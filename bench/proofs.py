"""Figure 4: inclusion and consistency proof time from the store, and how it grows.

For each log size n (10^4, 10^5, 10^6; 10^7 too in a full run) a SQLite store (made by
`Store.open`, so with the real schema) gets n synthetic leaves: 16-byte leaf data, their
RFC 9162 leaf hashes in ``entries`` and every perfect subtree hash in ``nodes``, written
directly in bulk (signing and appending 10^7 real events would take hours; proofs read
only hashes). The store's in-memory proof tree (ledger.store.prooftree) is loaded
(`Store.prepare_proofs`, timed apart: ``proofs/tree-load``; a server's first proof
starts it in the background). Then `Store.inclusion_proof` and
`Store.consistency_proof` (what the API calls) are timed over random indices and old
sizes against the full tree; every proof is verified against the root (untimed). Figures: microseconds per proof at each size, and the growth from 10^4 to
the largest size against log2(n) growth (target: at most 2x the log ratio; linear growth
would be 100x or more).

Comparison (target >= 10x faster): pymerkle's store-backed `SqliteTree` at 10^5 over
the same kind of leaves (its in-memory tree is shown too, as a detail), measured right
after ours at 10^5, so that both see the same machine load (in a full run the larger
sizes take minutes to build).
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from itertools import count, repeat
from pathlib import Path

from bench.figures import Figure, Run
from ledger import merkle
from ledger.store.repository import Store

PYMERKLE_SIZE = 100_000
SPEEDUP_TARGET = 0.1  # our time / pymerkle's: 10x faster
GROWTH_TARGET = 2.0


def _levels(leaf_hashes: list[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    """Yield (level, hashes of the perfect subtrees of that level), level 1 upwards."""
    level, current = 0, leaf_hashes
    while len(current) > 1:
        level += 1
        current = [
            hashlib.sha256(b"\x01" + current[i] + current[i + 1]).digest()
            for i in range(0, len(current) - 1, 2)
        ]
        yield level, current


def _leaf(i: int) -> bytes:
    return i.to_bytes(16, "big")


def build(folder: Path, size: int) -> tuple[Store, int, bytes]:
    """A SQLite store whose log ``proofs`` has ``size`` synthetic leaves; (store, log, root)."""
    path = folder / f"proofs-{size}.db"
    store = Store.open(f"sqlite:///{path}")
    log = store.ensure_log("proofs", "bench.example/proofs").id
    leaves = [hashlib.sha256(b"\x00" + _leaf(i)).digest() for i in range(size)]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # bulk set-up only; the timed reads are real
    conn.execute("PRAGMA cache_size=-400000")  # 400 MB: random event-hash index inserts
    # Proofs read primary keys only: the secondary entry indexes (event hash, unit) are
    # dropped from this throw-away copy, as they made the bulk load 5x slower.
    for (index,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries' AND sql IS NOT NULL"
    ).fetchall():
        conn.execute(f'DROP INDEX "{index}"')
    columns = [(r[1], r[2].upper()) for r in conn.execute("PRAGMA table_info(entries)")]
    # Column by column, as iterators zipped in C: building rows in Python was the cost.
    given = {"log": repeat(log), "idx": count(), "leaf": map(_leaf, range(size))}
    iterators = [given.get(name) or _filler(kind, leaves) for name, kind in columns]
    marks = ", ".join("?" for _ in columns)
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO entries VALUES ({marks})", zip(*iterators, strict=False))  # noqa: S608
    for level, hashes in _levels(leaves):
        conn.executemany(
            "INSERT INTO nodes (log, level, idx, hash) VALUES (?, ?, ?, ?)",
            zip(repeat(log), repeat(level), count(), hashes, strict=False),
        )
    root = _root(leaves)
    conn.execute("UPDATE logs SET size = ?, root = ? WHERE id = ?", (size, root, log))
    conn.execute("COMMIT")
    conn.close()
    return store, log, root


def _root(leaves: list[bytes]) -> bytes:
    """MTH by RFC 9162's split rule, iteratively over perfect subtrees (fast for 10^7)."""
    pieces = merkle.range_subtrees(0, len(leaves))
    hashes = []
    for piece in pieces:
        level = [*leaves[piece.start : piece.end]]
        while len(level) > 1:
            level = [
                hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
                for i in range(0, len(level), 2)
            ]
        hashes.append(level[0])
    return merkle.range_root(hashes)


def _filler(kind: str, leaves: list[bytes]) -> Iterator[object]:
    if "BLOB" in kind or "BINARY" in kind:
        return iter(leaves)  # unique, as the event-hash index requires
    if "INT" in kind or "BOOL" in kind:
        return repeat(0)
    return repeat("x")


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


def _pymerkle(folder: Path, picks: list[int]) -> dict[str, float]:
    """pymerkle at 10^5: (store-backed and in-memory) inclusion and consistency µs."""
    from pymerkle import InmemoryTree, SqliteTree

    data = [_leaf(i) for i in range(PYMERKLE_SIZE)]
    out = {}
    for name, tree in (
        ("sqlite", SqliteTree(str(folder / "pymerkle.db"), algorithm="sha256")),
        ("inmemory", InmemoryTree(algorithm="sha256")),
    ):
        if name == "sqlite":
            tree.append_entries(data)
        else:
            for item in data:
                tree.append_entry(item)
        prove, check = tree.prove_inclusion, tree.prove_consistency
        n = PYMERKLE_SIZE
        # pymerkle's tree is 1-based: leaf i+1 is our leaf i
        out[f"{name}/inclusion"] = _time_each([partial(prove, i + 1, n) for i in picks])[0]
        out[f"{name}/consistency"] = _time_each([partial(check, max(1, o), n) for o in picks])[0]
    return out


def figures(run: Run) -> list[Figure]:
    """Proof times per log size, their growth, and the pymerkle comparison."""
    sizes = run.pick([10**4, 10**5, 10**6], [10**4, 10**5, 10**6, 10**7])
    count = run.pick(300, 2000)
    out: list[Figure] = []
    times: dict[int, tuple[float, float]] = {}
    theirs: dict[str, float] = {}
    with tempfile.TemporaryDirectory(
        prefix="bench-proofs-", dir=os.environ.get("BENCH_TMP")
    ) as tmp:
        for size in sizes:
            began = time.perf_counter()
            store, log, root = build(Path(tmp), size)
            built = time.perf_counter() - began
            began = time.perf_counter()
            store.prepare_proofs(log)  # what a server's first proof starts in the background
            loaded = time.perf_counter() - began
            picks = random.Random(size).sample(range(size), count)
            try:
                times[size] = _ours(store, log, size, root, picks)
            finally:
                store.close()
            if size == PYMERKLE_SIZE:  # the baseline right after ours, at the same load
                baseline_picks = random.Random(1).sample(range(size), run.pick(100, 300))
                theirs = _pymerkle(Path(tmp), baseline_picks)
            (Path(tmp) / f"proofs-{size}.db").unlink()
            inc, con = times[size]
            print(
                f"  n={size:,}: inclusion {inc:.0f} µs, consistency {con:.0f} µs (built in "
                f"{built:.0f} s, proof tree loaded in {loaded:.2f} s)"
            )
            exp = f"10^{round(math.log10(size))}"
            out.append(Figure.info(f"proofs/tree-load/n={exp}", loaded, "s"))
            out.append(Figure.info(f"proofs/inclusion/n=10^{round(math.log10(size))}", inc, "µs"))
            out.append(Figure.info(f"proofs/consistency/n=10^{round(math.log10(size))}", con, "µs"))
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
