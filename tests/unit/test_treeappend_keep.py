"""`TreeAppender(keep_from=n)` keeps, in ``new``, exactly the subtrees of level n and up
that the full appender makes, with the same root and right edge."""

from __future__ import annotations

import random

from ledger import merkle
from ledger.service.treeappend import TreeAppender
from ledger.store.queries import LOWEST_NODE_LEVEL


def test_keep_from_drops_only_the_low_levels() -> None:
    rng = random.Random(29)
    for _ in range(100):
        size, count = rng.randrange(0, 3000), rng.randrange(1, 300)
        edge = [rng.randbytes(32) for _ in merkle.range_subtrees(0, size)]
        full = TreeAppender(size, {}, list(edge))
        kept = TreeAppender(size, {}, list(edge), LOWEST_NODE_LEVEL)
        for _ in range(count):
            leaf = rng.randbytes(32)
            full.add(leaf)
            kept.add(leaf)
        assert kept.new == {s: h for s, h in full.new.items() if s.level >= LOWEST_NODE_LEVEL}
        assert (kept.size, kept.root(), kept.edge()) == (full.size, full.root(), full.edge())
