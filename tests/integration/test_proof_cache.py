"""The store's proof cache: proofs stay exact, a size beyond the head is still refused,
and a repeated proof at a size already seen reads nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from ledger import merkle
from ledger.errors import NotFoundError
from ledger.service.ledger import Ledger
from ledger.store import repository
from tests.factories import GTIN
from tests.integration.world import LedgerWorld


def _commission(world: LedgerWorld, serials: range) -> None:
    w = world.world
    events = [
        w.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"PC{i}"}, prev=None)
        for i in serials
    ]
    world.ledger.append_batch(events)


def _queries(ledger: Ledger, call: Any) -> tuple[Any, int]:
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1

    engine = ledger.store.engines.reader
    event.listen(engine, "before_cursor_execute", counted)
    try:
        return call(), count
    finally:
        event.remove(engine, "before_cursor_execute", counted)


def _check_all(ledger: Ledger) -> None:
    size = ledger.head().size
    leaves = [e.leaf_hash for e in ledger.entries(0, size)]
    for index in range(size):
        assert ledger.inclusion_proof(index, size) == merkle.inclusion_proof(leaves, index, size)
    for old in range(1, size + 1):
        assert ledger.consistency_proof(old, size) == merkle.consistency_proof(leaves, old, size)


def test_cached_proofs_are_exact_and_cost_no_read(world: LedgerWorld) -> None:
    ledger = world.ledger
    _commission(world, range(7))
    _check_all(ledger)
    size = ledger.head().size
    proof, queries = _queries(ledger, lambda: ledger.inclusion_proof(3, size))
    assert queries == 0
    assert proof == ledger.store.inclusion_proof(ledger.log, 3, size)
    with pytest.raises(NotFoundError):  # the head check is not skipped past what is known
        ledger.inclusion_proof(0, size + 1)
    _commission(world, range(7, 20))  # the tree grows: new subtrees, a larger size
    _check_all(ledger)


def test_a_full_cache_is_emptied_and_proofs_stay_exact(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "SUBTREE_CACHE_SIZE", 5)
    _commission(world, range(12))
    _check_all(world.ledger)
    assert len(world.ledger.store._subtree_cache) <= 5 + 2 * 6
