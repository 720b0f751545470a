"""The proof tree's memory layout and its reads below the base (ledger.store.prooftree,
ledger.store.treereads): at random log sizes and budgets, including budgets that force
partial levels, its proofs equal the store path's and ledger.merkle's and it never holds
more than its budget; the hashes below its base are read on dedicated connections (no
pool checkout per proof) that see later commits, and a connection whose read failed is
closed, not reused."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.store import prooftree, treereads
from ledger.store.prooftree import ProofTree
from ledger.store.repository import Store
from tests.integration.test_proof_tree import _leaf_hash, counted_events, grow, store_path
from tests.profiles import examples

#: log sizes around the block (8) and level boundaries, and one of several chunks
SIZES = (1, 2, 7, 8, 9, 63, 64, 65, 300, 777)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[int, int]]]:
    """One SQLite store with a log of each size in `SIZES` (grown in uneven batches)."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('mem')}/mem.db", proof_memory=0)
    by_size = {}
    for size in SIZES:
        log = store.ensure_log(f"mem-{size}", "mem.example/t").id
        done = 0
        for batch in (1, 5, 60, 400, 1000):
            step = min(batch, size - done)
            if step:
                done = grow(store, log, step)
        by_size[size] = log
    yield store, by_size
    store.close()


def _budgets(size: int) -> st.SearchStrategy[int]:
    """Exactly enough for every level (base 0), a byte less (base 3), or any amount."""
    need = prooftree.ALL_NEEDED * size
    return st.sampled_from([need, need - 1, 0, -1]).flatmap(
        lambda b: st.integers(0, need + 64) if b < 0 else st.just(b)
    )


def _served(tree: ProofTree, store: Store, ranges: list[tuple[int, int]]) -> list[bytes]:
    """A proof as the store serves it from the tree: from memory, plus one read below."""
    folded: prooftree.Folded = {}
    low = tree.read_below_base(store.engines.reader, tree.below_base(ranges, folded))
    proof = tree.proof(ranges, folded, low)
    assert proof is not None
    return proof


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_proofs_at_random_sizes_and_budgets_equal_the_store_path(
    logs: tuple[Store, dict[int, int]], data: st.DataObject
) -> None:
    store, by_size = logs
    size = data.draw(st.sampled_from(SIZES), label="log_size")
    budget = data.draw(_budgets(size), label="budget")
    tree = ProofTree(by_size[size], budget)
    try:
        tree.catch_up(store.engines.reader, wait=True)
        assert (tree.size, tree.broken) == (size, None)
        assert tree.base == prooftree.choose_base(size, budget)
        held = sum(len(level) for level in tree.levels)
        assert held <= budget  # never more than the budget (0: nothing at all)
        if tree.base == 0:
            assert not any(tree.levels[1:3])  # levels 1 and 2: folded from the leaves
        leaves = [_leaf_hash(i) for i in range(size)]
        new = data.draw(st.integers(1, size), label="new_size")
        old = data.draw(st.integers(0, new), label="old_size")
        index = data.draw(st.integers(0, new - 1), label="index")
        log = by_size[size]
        for ranges, expected in (
            (merkle.consistency_proof_ranges(old, new), merkle.consistency_proof(leaves, old, new)),
            (merkle.inclusion_proof_ranges(index, new), merkle.inclusion_proof(leaves, index, new)),
        ):
            assert _served(tree, store, ranges) == expected
            assert store_path(store, log, ranges) == expected
    finally:
        tree.close()
    assert tree.low_reads.idle() == 0  # closed with the tree


def _open(url: str, budget: int, count: int) -> tuple[Store, int]:
    store = Store.open(url, proof_memory=budget)
    log = store.ensure_log(f"mem-{uuid.uuid4().hex[:8]}", "mem.example/t").id
    grow(store, log, count)
    return store, log


def _checkouts(store: Store, call: Any) -> tuple[Any, int]:
    return counted_events(store, "checkout", call)


def test_reads_below_the_base_reuse_one_dedicated_connection(db_url: str) -> None:
    store, log = _open(db_url, 2_000, 100)  # levels >= 3 in memory: every proof reads
    try:
        store.prepare_proofs(log)
        tree = store._trees.get(log)
        assert tree.base == 3
        leaves = [_leaf_hash(i) for i in range(100)]
        assert store.inclusion_proof(log, 5, 100) == merkle.inclusion_proof(leaves, 5, 100)
        assert tree.low_reads.idle() == 1  # kept for the next proof

        def proofs() -> list[list[bytes]]:
            return [store.consistency_proof(log, old, 100) for old in range(1, 100)]

        served, checkouts = _checkouts(store, proofs)
        assert served == [merkle.consistency_proof(leaves, old, 100) for old in range(1, 100)]
        assert checkouts == 0  # no pool checkout, no rollback, no checkin per proof
        assert tree.low_reads.idle() == 1

        # the same connection sees rows committed after it was opened (autocommit:
        # never a snapshot left open, never idle in a transaction on PostgreSQL)
        more = grow(store, log, 30)
        leaves = [_leaf_hash(i) for i in range(more)]
        for index in (101, 117, 129):
            assert store.inclusion_proof(log, index, more) == merkle.inclusion_proof(
                leaves, index, more
            )
        (reader,) = tree.low_reads._idle
        if not store.engines.is_sqlite:
            assert reader._conn.autocommit is True
    finally:
        store.close()
    assert tree.low_reads.idle() == 0  # closed with the store


def test_a_failed_read_closes_its_connection_and_the_store_path_answers(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, log = _open(f"sqlite:///{tmp_path}/t.db", 2_000, 100)
    try:
        store.prepare_proofs(log)
        tree = store._trees.get(log)
        leaves = [_leaf_hash(i) for i in range(100)]
        assert store.inclusion_proof(log, 40, 100) == merkle.inclusion_proof(leaves, 40, 100)
        (first,) = tree.low_reads._idle
        closed: list[object] = []
        real_close = treereads.RawReader.close

        def fail(self: treereads.RawReader, *_: Any) -> None:
            raise RuntimeError("connection lost")

        def close(self: treereads.RawReader) -> None:
            closed.append(self)
            real_close(self)

        monkeypatch.setattr(treereads.RawReader, "close", close)
        with monkeypatch.context() as broken:
            broken.setattr(treereads.RawReader, "subtrees", fail)
            # the read fails: the checked path answers, exactly
            assert store.inclusion_proof(log, 41, 100) == merkle.inclusion_proof(leaves, 41, 100)
        assert closed == [first] and tree.low_reads.idle() == 0  # not kept
        assert store.inclusion_proof(log, 42, 100) == merkle.inclusion_proof(leaves, 42, 100)
        (second,) = tree.low_reads._idle
        assert second is not first  # a new connection
    finally:
        store.close()


def test_a_read_after_close_uses_the_pool_and_keeps_nothing(tmp_path: Any) -> None:
    store, log = _open(f"sqlite:///{tmp_path}/t.db", 2_000, 50)
    try:
        store.prepare_proofs(log)
        tree = store._trees.get(log)
        tree.low_reads.close()
        wanted = [merkle.Subtree(0, 9), merkle.Subtree(2, 12)]
        got = tree.read_below_base(store.engines.reader, wanted)
        assert got == store.subtrees(log, wanted)
        assert tree.low_reads.idle() == 0
    finally:
        store.close()


def test_concurrent_proofs_open_at_most_max_idle_dedicated_connections(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a stranger's parallel proof requests must not open database sessions without
    # limit: past MAX_IDLE open dedicated connections a read goes through the pool
    store, log = _open(f"sqlite:///{tmp_path}/t.db", 2_000, 100)
    opened: list[object] = []
    real = treereads.RawReader.dedicated.__func__  # type: ignore[attr-defined]
    inside, everyone = [0], threading.Event()
    lock = threading.Lock()

    def dedicated(cls: type[treereads.RawReader], engine: Any) -> treereads.RawReader:
        reader = real(cls, engine)
        opened.append(reader)
        return reader

    def slow(self: treereads.RawReader, log: int, wanted: Any) -> Any:
        with lock:
            inside[0] += 1
            if inside[0] >= 24:
                everyone.set()
        everyone.wait(timeout=10)  # every thread inside a read at once
        return real_subtrees(self, log, wanted)

    real_subtrees = treereads.RawReader.subtrees
    monkeypatch.setattr(treereads.RawReader, "dedicated", classmethod(dedicated))
    monkeypatch.setattr(treereads.RawReader, "subtrees", slow)
    try:
        store.prepare_proofs(log)
        tree = store._trees.get(log)
        leaves = [_leaf_hash(i) for i in range(100)]
        with ThreadPoolExecutor(24) as pool:
            served = list(pool.map(lambda i: store.inclusion_proof(log, i, 100), range(24)))
        assert served == [merkle.inclusion_proof(leaves, i, 100) for i in range(24)]
        assert len(opened) == treereads.MAX_IDLE  # the other 20 went through the pool
        assert tree.low_reads.idle() == treereads.MAX_IDLE
    finally:
        store.close()
    assert tree.low_reads.idle() == 0


def test_reads_of_more_runs_than_sqlite_allows_in_one_statement(tmp_path: Any) -> None:
    # SQLite allows 500 terms in a compound SELECT: a batch of far-apart subtrees is read
    # in several statements, never refused
    store, log = _open(f"sqlite:///{tmp_path}/t.db", 2_000, 16 * 600)
    try:
        store.prepare_proofs(log)
        tree = store._trees.get(log)
        wanted = [merkle.Subtree(0, 16 * i + 3) for i in range(600)]  # 600 apart: 600 runs
        got = tree.low_reads.subtrees(store.engines.reader, log, wanted)
        assert got == {s: _leaf_hash(s.start) for s in wanted}
    finally:
        store.close()
