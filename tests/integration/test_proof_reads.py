"""Proof reads at a size already seen: no head check, right edges folded once, and the
hash caches shared by the stores a request derives; proofs stay exact throughout."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from ledger import merkle
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.world import LedgerWorld


def _grow(world: LedgerWorld, count: int) -> list[bytes]:
    w = world.world
    events = [
        w.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"PR{i}"}, prev=None)
        for i in range(count)
    ]
    world.ledger.append_batch(events)
    size = world.ledger.head().size
    return [e.leaf_hash for e in world.ledger.entries(0, size)]


def _statements(ledger: Ledger, call: Any) -> tuple[Any, list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = ledger.store.engines.reader
    event.listen(engine, "before_cursor_execute", record)
    try:
        return call(), seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_proof_at_a_size_seen_reads_its_hashes_without_a_head_check(
    world: LedgerWorld,
) -> None:
    ledger = world.ledger
    leaves = _grow(world, 37)
    size = len(leaves)
    assert ledger.consistency_proof(5, size) == merkle.consistency_proof(leaves, 5, size)
    store = ledger.store
    store._subtree_cache.clear()  # the size stays seen; the hashes must be read again
    for old in (3, 9, 21, size - 1):
        proof, statements = _statements(ledger, lambda old=old: ledger.consistency_proof(old, size))
        assert proof == merkle.consistency_proof(leaves, old, size)
        assert not [s for s in statements if "logs" in s], statements  # no head read
    for index in range(size):
        assert ledger.inclusion_proof(index, size) == merkle.inclusion_proof(leaves, index, size)


def test_right_edges_are_folded_once_and_stay_exact_as_the_log_grows(
    world: LedgerWorld,
) -> None:
    ledger = world.ledger
    leaves = _grow(world, 22)
    size = len(leaves)
    assert size & (size - 1), "a size with a right edge"
    for old in range(1, size + 1):
        assert ledger.consistency_proof(old, size) == merkle.consistency_proof(leaves, old, size)
    edges = dict(ledger.store._range_cache)
    assert edges and all(not merkle.is_perfect(start, end) for _, start, end in edges)
    assert all(end <= size for _, _, end in edges)
    more = _grow(world, 10)  # a larger tree: new right edges, the old ones still true
    for old in range(1, len(more) + 1):
        assert ledger.consistency_proof(old, len(more)) == merkle.consistency_proof(
            more, old, len(more)
        )
    for (_, start, end), value in edges.items():
        assert value == merkle.root(more[start:end])


def test_derived_stores_share_the_hashes_but_check_sizes_themselves(world: LedgerWorld) -> None:
    ledger = world.ledger
    leaves = _grow(world, 9)
    size = len(leaves)
    ledger.inclusion_proof(2, size)
    store = ledger.store
    for derived in (store.pinned(ledger.log, size), store.on_primary()):
        assert derived._subtree_cache is store._subtree_cache
        assert derived._range_cache is store._range_cache
        assert derived._sizes_seen == {}
        assert derived.inclusion_proof(ledger.log, 2, size) == merkle.inclusion_proof(
            leaves, 2, size
        )


def test_is_perfect() -> None:
    assert merkle.is_perfect(0, 1) and merkle.is_perfect(8, 16) and merkle.is_perfect(6, 8)
    assert not merkle.is_perfect(0, 3) and not merkle.is_perfect(4, 12)
    assert not merkle.is_perfect(2, 2) and not merkle.is_perfect(3, 5)
