"""The replay's list of nodes a chunk completes is exactly what merkle says they are."""

from __future__ import annotations

from itertools import pairwise

import pytest

from ledger import merkle
from ledger.audit.chunks import CHUNK, FIRST_CHUNK, chunk_starts, completed_nodes


@pytest.mark.parametrize("start", [0, 1, 2, 3, 7, 2000, 4096, 65535, 123456])
@pytest.mark.parametrize("count", [1, 2, 3, 5, 2000, 4097])
def test_completed_nodes_are_merkles(start: int, count: int) -> None:
    expected = {
        s for i in range(start, start + count) for s in merkle.subtrees_completed_by(i) if s.level
    }
    found = completed_nodes(start, start + count)
    assert len(found) == len(expected)
    assert set(found) == expected


@pytest.mark.parametrize("lowest", [1, 2, 3, 5])
@pytest.mark.parametrize(
    ("start", "count"), [(0, 1), (0, 2000), (7, 9), (2000, 2000), (65535, 4097)]
)
def test_completed_nodes_from_a_level_leave_out_exactly_the_lower_ones(
    lowest: int, start: int, count: int
) -> None:
    every = completed_nodes(start, start + count)
    found = completed_nodes(start, start + count, lowest)
    assert found == [s for s in every if s.level >= lowest]


def test_a_store_declares_the_levels_it_computes_rather_than_stores() -> None:
    from ledger.audit.chunks import node_levels_from
    from ledger.service.audit import StoreSource
    from ledger.store.queries import LOWEST_NODE_LEVEL

    class Plain:
        pass

    class Odd:
        node_levels_from = "3"  # not an int: ignored, every level compared

    assert LOWEST_NODE_LEVEL > 1
    assert StoreSource.node_levels_from == LOWEST_NODE_LEVEL
    assert node_levels_from(StoreSource(None, 1)) == LOWEST_NODE_LEVEL  # type: ignore[arg-type]
    assert node_levels_from(Plain()) == 1
    assert node_levels_from(Odd()) == 1


@pytest.mark.parametrize(
    "total", [0, 1, 255, 256, 257, 768, 769, 1792, 1793, 3792, 3793, 5792, 10_000, 100_000]
)
def test_the_chunks_cover_the_log_once_and_their_nodes_are_every_node(total: int) -> None:
    # the replay's chunks (a short first one, then doubling up to CHUNK): contiguous
    # from 0, past the end, and the nodes they ask for are every node the leaves
    # complete, once
    starts = chunk_starts(total)
    ends = [*starts[1:], max(total, starts[-1])]  # as the replay reads them
    assert starts[0] == 0 and ends[-1] == total
    assert all(a < b for a, b in zip(starts, ends, strict=True)) or total == 0
    assert starts[1:2] in ([], [FIRST_CHUNK])
    sizes = [b - a for a, b in pairwise(starts)]
    assert all(b == min(2 * a, CHUNK) for a, b in pairwise(sizes))
    asked = [n for s, e in zip(starts, ends, strict=True) for n in completed_nodes(s, e)]
    want = [n for i in range(ends[-1]) for n in merkle.subtrees_completed_by(i) if n.level]
    assert sorted(asked) == sorted(want) and len(set(asked)) == len(asked)
