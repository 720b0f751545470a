"""The in-memory proof tree (ledger.store.prooftree): its proofs equal the store path's
and ledger.merkle's at every size and budget, it holds only committed sizes, a large
gap loads in the background while the store's path answers, and a missing row stops it
(the store's path answers) instead of serving a wrong proof."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text

from ledger import entry, merkle
from ledger.errors import NotFoundError, ValidationError
from ledger.store import prooftree
from ledger.store.repository import Store
from ledger.store.writer import EntryValues
from tests.integration.world import cut_node_out
from tests.profiles import examples

#: 8 B/entry: levels >= 3 up to 1,000 entries; 0: only what the store reads
BUDGETS = {"all-levels": prooftree.DEFAULT_BUDGET, "from-level-3": 8_000, "none": 0}


def _leaf(i: int) -> bytes:
    """A synthetic leaf: a leaf's envelope around a format-1 event ``{"n":i}`` (the
    store reads an event hash from it; proofs read nothing else)."""
    return b'{"event":{"n":%d},"key":"k","received":"0","sig":"s"}' % i


def event_hash_of(i: int) -> bytes:
    """The event hash of synthetic entry ``i``, as the store reads it from `_leaf`."""
    return entry.event_hash(b'{"n":%d}' % i)


def _leaf_hash(i: int) -> bytes:
    return hashlib.sha256(b"\x00" + _leaf(i)).digest()


def grow(store: Store, log: int, count: int) -> int:
    """Append ``count`` synthetic entries (leaves, nodes, head) in one transaction, as
    the ledger's append writes them; return the new size. Proofs read nothing else."""
    with store.writer(log) as tx:
        head = tx.lock_head()
        known = tx.subtrees(merkle.range_subtrees(0, head.size))
        size, rows, new = head.size, [], {}
        for _ in range(count):
            rows.append(_row(size))
            for sub in merkle.subtrees_completed_by(size):
                if sub.level == 0:
                    value = _leaf_hash(size)
                else:
                    half = 1 << (sub.level - 1)
                    left = known[merkle.Subtree(sub.level - 1, sub.start)]
                    value = merkle.node_hash(
                        left, known[merkle.Subtree(sub.level - 1, sub.start + half)]
                    )
                known[sub] = new[sub] = value
            size += 1
        root = merkle.range_root([known[p] for p in merkle.range_subtrees(0, size)])
        tx.insert_entries(rows)
        tx.insert_nodes(new)
        tx.set_head(size, b"\x00" * 32, root)
    return size


def _row(i: int) -> EntryValues:
    return EntryValues(
        idx=i,
        leaf=_leaf(i),
        chain=b"\x00" * 32,
        event_key=event_hash_of(i)[:8],
        kind="commission",
        gtin=None,
        serial=None,
        signer="t",
    )


def store_path(store: Store, log: int, ranges: list[tuple[int, int]]) -> list[bytes]:
    """A proof from stored subtree hashes alone (the path before the tree)."""
    hashes = store.subtrees(log, merkle.needed_subtrees(ranges))
    return merkle.proof_from_subtrees(ranges, hashes)


def _open(url: str, budget: int) -> tuple[Store, int]:
    store = Store.open(url, proof_memory=budget)
    log = store.ensure_log(f"tree-{uuid.uuid4().hex[:8]}", "tree.example/t").id
    return store, log


def counted_events(store: Store, name: str, call: Any) -> tuple[Any, int]:
    """``call()``'s result and how many ``name`` events the reader engine fired meanwhile
    (``before_cursor_execute``: statements; ``checkout``: pool checkouts)."""
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1

    event.listen(store.engines.reader, name, counted)
    try:
        return call(), count
    finally:
        event.remove(store.engines.reader, name, counted)


def _statements(store: Store, call: Any) -> tuple[Any, int]:
    return counted_events(store, "before_cursor_execute", call)


SIZE = 300


@pytest.fixture(scope="module", params=list(BUDGETS))
def grown(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, int, int, list[bytes]]]:
    """A SQLite log of 300 entries, grown in uneven batches, its tree with ``budget``."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tree')}/tree.db"
    store, log = _open(url, BUDGETS[request.param])
    for count in (1, 6, 50, 3, 240):
        grow(store, log, count)
    yield store, log, SIZE, [_leaf_hash(i) for i in range(SIZE)]
    store.close()


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_tree_proofs_equal_the_store_path_and_merkle(
    grown: tuple[Store, int, int, list[bytes]], data: st.DataObject
) -> None:
    store, log, size, leaves = grown
    new = data.draw(st.integers(1, size), label="new_size")
    old = data.draw(st.integers(0, new), label="old_size")
    index = data.draw(st.integers(0, new - 1), label="index")
    consistency = store.consistency_proof(log, old, new)
    assert consistency == store_path(store, log, merkle.consistency_proof_ranges(old, new))
    assert consistency == merkle.consistency_proof(leaves, old, new)
    inclusion = store.inclusion_proof(log, index, new)
    assert inclusion == store_path(store, log, merkle.inclusion_proof_ranges(index, new))
    assert inclusion == merkle.inclusion_proof(leaves, index, new)
    assert store.inclusion_proofs(log, [index, 0, new - 1], new) == [
        merkle.inclusion_proof(leaves, i, new) for i in (index, 0, new - 1)
    ]
    assert store.root(log, new) == merkle.root(leaves[:new])
    tree = store._trees.get(log)
    assert tree.size == size  # every proof came from the tree, which holds all of it
    assert tree.base == prooftree.choose_base(size, tree.budget)


def test_all_levels_in_memory_means_no_read(tmp_path: Any) -> None:
    store, log = _open(f"sqlite:///{tmp_path}/t.db", prooftree.DEFAULT_BUDGET)
    try:
        size = grow(store, log, 77)
        leaves = [_leaf_hash(i) for i in range(size)]
        store.prepare_proofs(log)
        for old in range(1, size + 1):
            proof, statements = _statements(
                store, lambda old=old: store.consistency_proof(log, old, size)
            )
            assert statements == 0
            assert proof == merkle.consistency_proof(leaves, old, size)
    finally:
        store.close()


def test_the_tree_follows_growth_and_drops_levels_beyond_its_budget(tmp_path: Any) -> None:
    store, log = _open(f"sqlite:///{tmp_path}/t.db", prooftree.ALL_NEEDED * 100)  # up to 100
    try:
        leaves: list[bytes] = []
        for count in (60, 39, 2, 120, 700):
            size = grow(store, log, count)
            leaves = [_leaf_hash(i) for i in range(size)]
            for old in (1, size // 3, size - 1, size):
                assert store.consistency_proof(log, old, size) == merkle.consistency_proof(
                    leaves, old, size
                )
            assert store.inclusion_proof(log, size // 2, size) == merkle.inclusion_proof(
                leaves, size // 2, size
            )
            tree = store._trees.get(log)
            assert tree.size == size
            assert len(tree.levels[tree.base or 0]) == 32 * (size >> (tree.base or 0))
            assert (tree.base == 0) == (size <= 100)
        assert all(not level for level in store._trees.get(log).levels[:3])  # dropped
    finally:
        store.close()


def test_an_uncommitted_append_is_never_served(db_url: str) -> None:
    store, log = _open(db_url, prooftree.DEFAULT_BUDGET)
    try:
        size = grow(store, log, 20)
        store.prepare_proofs(log)
        leaves = [_leaf_hash(i) for i in range(size + 5)]
        opened, release, asked = threading.Event(), threading.Event(), []

        def append_and_hold() -> None:
            with store.writer(log) as tx:  # written, head moved, not committed
                tx.lock_head()
                tx.insert_entries([_row(i) for i in range(size, size + 5)])
                tx.set_head(size + 5, b"\x00" * 32, merkle.root(leaves))
                opened.set()
                release.wait(30)

        writer = threading.Thread(target=append_and_hold)
        writer.start()
        try:
            assert opened.wait(30)
            for old in (1, size):
                with pytest.raises(NotFoundError):
                    store.consistency_proof(log, old, size + 5)
                asked.append(store.consistency_proof(log, old, size))
            assert store._trees.get(log).size == size  # extended to no uncommitted size
        finally:
            release.set()
            writer.join(30)
        assert asked == [merkle.consistency_proof(leaves, o, size) for o in (1, size)]
        # committed now (its level-3 node was not written by this hand-made append, so
        # the tree's own hashes from the leaves serve it)
        assert store.inclusion_proof(log, size + 4, size + 5) == merkle.inclusion_proof(
            leaves, size + 4, size + 5
        )
        assert store._trees.get(log).size == size + 5
    finally:
        store.close()


def test_a_large_gap_loads_in_the_background_while_the_store_answers(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prooftree, "SYNC_ROWS", 10)
    monkeypatch.setattr(prooftree, "CHUNK_ROWS", 16)
    store, log = _open(f"sqlite:///{tmp_path}/t.db", prooftree.DEFAULT_BUDGET)
    try:
        size = grow(store, log, 200)
        leaves = [_leaf_hash(i) for i in range(size)]
        tree = store._trees.get(log)
        with tree._lock:  # hold the load back: the first proofs take the store's path
            assert store.consistency_proof(log, 7, size) == merkle.consistency_proof(
                leaves, 7, size
            )
            assert tree.size == 0
        assert store.consistency_proof(log, 9, size) == merkle.consistency_proof(leaves, 9, size)
        thread = tree._thread
        assert thread is not None
        thread.join(30)
        assert tree.size == size and tree.broken is None
        proof, statements = _statements(store, lambda: store.inclusion_proof(log, 123, size))
        assert (proof, statements) == (merkle.inclusion_proof(leaves, 123, size), 0)
    finally:
        store.close()


def test_a_missing_row_stops_the_tree_and_the_store_path_answers(tmp_path: Any) -> None:
    store, log = _open(f"sqlite:///{tmp_path}/t.db", 2_000)  # levels >= 3 from nodes
    try:
        size = grow(store, log, 100)
        store.prepare_proofs(log)  # the committed tree, read before the damage
        more = grow(store, log, 60)
        with store.engines.writer.begin() as conn:  # level-3 node 15 cut out of its run
            cut_node_out(conn, log, 3, 15)
        leaves = [_leaf_hash(i) for i in range(more)]
        assert store.consistency_proof(log, 5, size) == merkle.consistency_proof(leaves, 5, size)
        store.inclusion_proof(log, 150, more)  # asks the tree to extend: it stops instead
        tree = store._trees.get(log)
        assert tree.broken and tree.size == size
        assert store.consistency_proof(log, 17, more) == merkle.consistency_proof(
            leaves, 17, more
        )  # the store path: the missing node is not among this proof's hashes
    finally:
        store.close()


def test_choose_base() -> None:
    assert prooftree.choose_base(1000, 40_000) == 0  # leaf hashes and levels >= 3
    assert prooftree.choose_base(1001, 40_000) == 3  # 8 B/entry
    assert prooftree.choose_base(1001, 4_100) == 4  # 4 B/entry
    assert prooftree.choose_base(10**7, prooftree.DEFAULT_BUDGET) == 0  # 381 MiB
    assert prooftree.choose_base(14 * 2**20, prooftree.DEFAULT_BUDGET) == 3
    assert prooftree.choose_base(10**8, prooftree.DEFAULT_BUDGET) == 4
    assert prooftree.choose_base(5, 0) == 3  # nothing held: every hash read


def test_a_missing_row_below_the_base_is_an_error_not_a_wrong_proof(tmp_path: Any) -> None:
    store, log = _open(f"sqlite:///{tmp_path}/t.db", 2_000)  # levels >= 3 in memory
    try:
        size = grow(store, log, 100)
        store.prepare_proofs(log)
        leaves = [_leaf_hash(i) for i in range(size)]
        assert store.inclusion_proof(log, 40, size) == merkle.inclusion_proof(leaves, 40, size)
        with store.engines.writer.begin() as conn:
            conn.execute(text("DELETE FROM entries WHERE log = :log AND idx = 41"), {"log": log})
        with pytest.raises(ValidationError):  # leaf 41 is a sibling on the path of 40
            store.inclusion_proof(log, 40, size)
        # proofs that do not need it are still served from the tree and the one read
        assert store.inclusion_proof(log, 90, size) == merkle.inclusion_proof(leaves, 90, size)
    finally:
        store.close()


def test_proofs_while_the_log_grows_past_the_budget_stay_exact(tmp_path: Any) -> None:
    """Readers in threads while a writer grows the log and the tree drops its lowest
    levels: every proof served equals ledger.merkle's at its (committed) size."""
    store, log = _open(f"sqlite:///{tmp_path}/t.db", prooftree.ALL_NEEDED * 150)  # up to 150
    try:
        final = 600
        leaves = [_leaf_hash(i) for i in range(final)]
        committed = [grow(store, log, 10)]
        stop, errors = threading.Event(), []

        def read(seed: int) -> None:
            n = seed
            while not stop.is_set():
                size = committed[-1]
                n = (n * 7 + 3) % size + 1
                try:
                    assert store.consistency_proof(log, n, size) == merkle.consistency_proof(
                        leaves, n, size
                    )
                    assert store.inclusion_proof(log, n - 1, size) == merkle.inclusion_proof(
                        leaves, n - 1, size
                    )
                except AssertionError as e:  # pragma: no cover - the failure itself
                    errors.append(e)
                    return

        readers = [threading.Thread(target=read, args=(s,)) for s in (1, 2)]
        for thread in readers:
            thread.start()
        try:
            while committed[-1] < final:
                committed.append(
                    grow(store, log, 37 if committed[-1] + 37 <= final else final - committed[-1])
                )
        finally:
            stop.set()
            for thread in readers:
                thread.join(30)
        assert not errors
        assert store.consistency_proof(log, 1, final) == merkle.consistency_proof(leaves, 1, final)
        assert store._trees.get(log).base == 3 and store._trees.get(log).size == final
    finally:
        store.close()
