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
