"""The Merkle tree of the log (RFC 9162 hashing, ledger.merkle) extended leaf by leaf as
an append writes its entries."""

from __future__ import annotations

from ledger import merkle
from ledger.merkle import Subtree


class TreeAppender:
    """Extends the Merkle tree leaf by leaf from the stored right-edge subtrees (the
    perfect subtrees of ``[0, size)``, `merkle.range_subtrees`). ``new`` holds every
    perfect subtree the added leaves complete, level 0 (the leaf) included."""

    def __init__(
        self,
        size: int,
        frontier: dict[Subtree, bytes],
        edge: list[bytes] | None = None,
        keep_from: int = 0,
    ) -> None:
        """``frontier``: the right-edge subtrees by `Subtree`; or ``edge``: their hashes
        left to right, as `edge` gave them for this size (then ``frontier`` is unused).
        ``keep_from``: ``new`` keeps the subtrees of that level and above only (the
        append passes the lowest level the store keeps, `queries.LOWEST_NODE_LEVEL`:
        the levels below were made and dropped, one `Subtree` a leaf and more)."""
        self.size = size
        self._keep_from = keep_from
        self.new: dict[Subtree, bytes] = {}
        self._frontier = frontier
        self._edge: list[bytes] | None = edge  # else read from the frontier when needed

    def _right_edge(self) -> list[bytes]:
        """The hashes of the perfect subtrees of ``[0, size)``, left to right."""
        if self._edge is None:
            pieces = merkle.range_subtrees(0, self.size)
            self._edge = [self._frontier[p] for p in pieces]
        return self._edge

    def add(self, leaf_hash: bytes) -> None:
        # Leaf ``index`` completes one subtree per trailing 1 bit of ``index`` (what
        # `merkle.subtrees_completed_by` lists), each the node of the right edge's last
        # piece and the one just made: a stack, instead of a Subtree lookup per half.
        index, edge, value, keep = self.size, self._right_edge(), leaf_hash, self._keep_from
        if not keep:
            self.new[Subtree(0, index)] = value
        level = 0
        while index >> level & 1:
            level += 1
            value = merkle.node_hash(edge.pop(), value)
            if level >= keep:
                self.new[Subtree(level, index + 1 - (1 << level))] = value
        edge.append(value)
        self.size = index + 1

    def root(self) -> bytes:
        """The root hash of the tree of `size` leaves."""
        edge = self._right_edge()
        return merkle.range_root(edge) if edge else merkle.EMPTY_ROOT

    def edge(self) -> list[bytes]:
        """A copy of the right edge at `size` (for `TreeAppender(size, {}, edge)`)."""
        return list(self._right_edge())
