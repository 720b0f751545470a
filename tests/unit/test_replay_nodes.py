"""The replay's list of nodes a chunk completes is exactly what merkle says they are."""

from __future__ import annotations

import pytest

from ledger import merkle
from ledger.audit.replay import _completed_nodes


@pytest.mark.parametrize("start", [0, 1, 2, 3, 7, 2000, 4096, 65535, 123456])
@pytest.mark.parametrize("count", [1, 2, 3, 5, 2000, 4097])
def test_completed_nodes_are_merkles(start: int, count: int) -> None:
    expected = {
        s for i in range(start, start + count) for s in merkle.subtrees_completed_by(i) if s.level
    }
    found = _completed_nodes(start, start + count)
    assert len(found) == len(expected)
    assert set(found) == expected


@pytest.mark.parametrize("lowest", [1, 2, 3, 5])
@pytest.mark.parametrize(
    ("start", "count"), [(0, 1), (0, 2000), (7, 9), (2000, 2000), (65535, 4097)]
)
def test_completed_nodes_from_a_level_leave_out_exactly_the_lower_ones(
    lowest: int, start: int, count: int
) -> None:
    every = _completed_nodes(start, start + count)
    found = _completed_nodes(start, start + count, lowest)
    assert found == [s for s in every if s.level >= lowest]


def test_a_store_declares_the_levels_it_computes_rather_than_stores() -> None:
    from ledger.audit.replay import _node_levels_from
    from ledger.service.audit import StoreSource
    from ledger.store.queries import LOWEST_NODE_LEVEL

    class Plain:
        pass

    class Odd:
        node_levels_from = "3"  # not an int: ignored, every level compared

    assert LOWEST_NODE_LEVEL > 1
    assert StoreSource.node_levels_from == LOWEST_NODE_LEVEL
    assert _node_levels_from(StoreSource(None, 1)) == LOWEST_NODE_LEVEL  # type: ignore[arg-type]
    assert _node_levels_from(Plain()) == 1  # type: ignore[arg-type]
    assert _node_levels_from(Odd()) == 1  # type: ignore[arg-type]
