"""At 100,000 entries, proofs from the store read O(log n) rows in a constant number of
queries, and equal ledger.merkle's proofs over the same leaves."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from ledger import merkle
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.world import clock, config
from tests.rules_factories import World

SIZE = 100_000


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def big(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    """A log of exactly 100,000 entries: the base world, then commissions in batches."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('big')}/big.db"
    else:
        url = str(request.getfixturevalue("pg_url"))
    ledger = Ledger.open(url, config(f"big-{uuid.uuid4().hex[:8]}"), clock=clock)
    ledger.init(name="Registry")
    world = World.base()
    ledger.append_batch(world.log[1:])
    size = ledger.head().size
    while size < SIZE:
        count = min(1000, SIZE - size)
        events = [
            world.sign(
                "commission", "acme", unit={"gtin": GTIN, "serial": f"B{size + k}"}, prev=None
            )
            for k in range(count)
        ]
        size = ledger.append_batch(events).size
    yield ledger
    ledger.close()


class _Counter:
    def __init__(self, ledger: Ledger) -> None:
        self.engine = ledger.store.engines.reader
        self.queries = 0

    def __enter__(self) -> _Counter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        self.queries += 1


@pytest.mark.slow
def test_proofs_read_log_n_rows(big: Ledger) -> None:
    leaves = [e.leaf_hash for e in big.entries(0, SIZE)]
    assert len(leaves) == SIZE
    bound = 2 * math.ceil(math.log2(SIZE)) + 1
    rng = random.Random(7)
    for _ in range(40):
        size = rng.randint(1, SIZE)
        index = rng.randrange(size)
        ranges = merkle.inclusion_proof_ranges(index, size)
        assert len(merkle.needed_subtrees(ranges)) <= bound  # rows read
        with _Counter(big) as counter:
            proof = big.inclusion_proof(index, size)
        assert counter.queries <= 4  # head, BEGIN-less reads: leaves + nodes
        assert proof == merkle.inclusion_proof(leaves, index, size)
        old = rng.randint(1, size)
        ranges = merkle.consistency_proof_ranges(old, size)
        assert len(merkle.needed_subtrees(ranges)) <= bound
        with _Counter(big) as counter:
            consistency = big.consistency_proof(old, size)
        assert counter.queries <= 4
        assert consistency == merkle.consistency_proof(leaves, old, size)
    root = merkle.root(leaves)
    assert big.head().root == root
    merkle.verify_inclusion(
        leaves[SIZE - 1], SIZE - 1, SIZE, big.inclusion_proof(SIZE - 1, SIZE), root
    )
