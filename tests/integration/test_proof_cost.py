"""At 100,000 entries, proofs from the store read O(log n) rows in a constant number of
queries, and equal ledger.merkle's proofs over the same leaves.

The log is built in bulk: the base world through the ledger, then the commissions'
leaves, Merkle nodes, head and one checkpoint written straight into the store in large
transactions, as the ledger's append would write them (what is proved here reads only
entries, nodes and the head; the rules' unit records are not needed and not written).
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from ledger import entry, merkle, note
from ledger.entry import Leaf, SignedEvent
from ledger.events import format_time
from ledger.service.ledger import Ledger
from ledger.store.writer import EntryValues
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
    log = config(f"big-{uuid.uuid4().hex[:8]}")
    ledger = Ledger.open(url, log, clock=clock)
    ledger.init(name="Registry")
    world = World.base(log.origin)
    ledger.append_batch(world.log[1:])
    head = ledger.head()
    events = [
        world.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"B{i}"}, prev=None)
        for i in range(head.size, SIZE)
    ]
    _bulk_append(ledger, events, note.Signer(log.origin, log.operator_key))
    assert ledger.head().size == SIZE
    yield ledger
    ledger.close()


def _bulk_append(ledger: Ledger, events: list[SignedEvent], signer: note.Signer) -> None:
    """Write ``events`` as the ledger's append would (leaves, chain, nodes, head, one
    checkpoint), without the per-event rules, in transactions of 10,000 entries."""
    received = clock()
    with ledger.store.writer(ledger.log) as tx:
        head = tx.lock_head()
        known = tx.subtrees(merkle.range_subtrees(0, head.size))
    size, chain = head.size, head.chain
    for start in range(0, len(events), 10_000):
        rows, new = [], {}
        for signed in events[start : start + 10_000]:
            leaf = Leaf.build(signed, received)
            chain = entry.chain_hash(chain, leaf.hash)
            rows.append(
                EntryValues(
                    idx=size,
                    leaf=leaf.data,
                    chain=chain,
                    event_key=signed.hash[:8],
                    kind=signed.event.kind,
                    gtin=GTIN,
                    serial=signed.event.unit.serial,
                    signer=signed.event.actor,
                )
            )
            for sub in merkle.subtrees_completed_by(size):  # the nodes this leaf completes
                if sub.level == 0:
                    value = leaf.hash
                else:
                    half = 1 << (sub.level - 1)
                    left = known[merkle.Subtree(sub.level - 1, sub.start)]
                    right = known[merkle.Subtree(sub.level - 1, sub.start + half)]
                    value = merkle.node_hash(left, right)
                known[sub] = new[sub] = value
            size += 1
        root = merkle.range_root([known[p] for p in merkle.range_subtrees(0, size)])
        with ledger.store.writer(ledger.log) as tx:
            tx.lock_head()
            tx.insert_entries(rows)
            tx.insert_nodes(new)
            tx.set_head(size, chain, root)
            if size == head.size + len(events):
                signed_note = note.sign_checkpoint(note.Checkpoint(head.origin, size, root), signer)
                tx.insert_checkpoint(size, root, signed_note.decode(), format_time(received))


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
