"""`AppendMemo` (ledger.service.appendmemo): a right edge only for its own tree, copies
only, keys read once and bounded."""

from __future__ import annotations

from ledger import merkle
from ledger.service.appendmemo import AppendMemo
from ledger.service.treeappend import TreeAppender


def _tree(leaves: int) -> TreeAppender:
    tree = TreeAppender(0, {})
    for i in range(leaves):
        tree.add(merkle.leaf_hash(b"%d" % i))
    return tree


def test_an_edge_is_given_only_for_its_size_and_root() -> None:
    memo, tree = AppendMemo(), _tree(11)
    assert memo.edge(11, tree.root()) is None  # nothing kept yet
    memo.keep_edge(11, tree.root(), tree.edge())
    assert memo.edge(11, tree.root()) == tree.edge()
    assert memo.edge(12, tree.root()) is None
    assert memo.edge(11, _tree(12).root()) is None  # same size, another tree
    other = TreeAppender(11, {}, [merkle.leaf_hash(b"x")] * 3)  # 11 = 8 + 2 + 1
    assert memo.edge(11, other.root()) is None


def test_a_tree_grown_from_a_kept_edge_is_the_tree_grown_from_the_leaves() -> None:
    memo = AppendMemo()
    for size in range(40):
        tree = _tree(size)
        memo.keep_edge(size, tree.root(), tree.edge())
        edge = memo.edge(size, tree.root())
        assert edge is not None
        grown = TreeAppender(size, {}, edge)
        for i in range(size, size + 5):
            grown.add(merkle.leaf_hash(b"%d" % i))
        assert grown.root() == _tree(size + 5).root()
        assert memo.edge(size, tree.root()) == tree.edge()  # the kept edge is unchanged


def test_keys_are_read_once_and_misses_again() -> None:
    memo, reads = AppendMemo(max_keys=3), []
    stored = {"a": "A", "b": "B", "c": "C", "d": "D"}

    def read(ids: list[str]) -> dict[str, str]:
        reads.append(ids)
        return {k: stored[k] for k in ids if k in stored}

    assert memo.public_keys({"a", "z"}, read) == {"a": "A"}
    assert memo.public_keys({"a", "z"}, read) == {"a": "A"}
    assert reads == [["a", "z"], ["z"]]  # an unknown id is asked again: it may be added
    assert memo.public_keys({"b", "c", "d"}, read) == {"b": "B", "c": "C", "d": "D"}
    assert reads[-1] == ["b", "c", "d"]
    assert memo.public_keys({"a"}, read) == {"a": "A"}  # forgotten at the bound: read
    assert reads[-1] == ["a"]
