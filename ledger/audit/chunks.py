"""The replay's plan of reads (ledger.audit.replay): the chunks it reads a log in, and
the stored Merkle nodes each chunk's leaves complete, which it reads beside them."""

from __future__ import annotations

from ledger.merkle import Subtree

CHUNK = 2000
#: the first chunk's entries: its signatures reach the verifier process (or the pool)
#: after this many are read and replayed, not after a whole chunk (~30 ms). The chunks
#: after it double up to `CHUNK`, so the verifier process, which has only the first
#: chunk's signatures to check, is not left idle for the 60-110 ms of a 2,000-entry
#: chunk's read and parse (docs/PERFORMANCE.md "audit43"); later chunks of 2,000 still
#: leave it idle whenever the replay is slower than its verifying
FIRST_CHUNK = 256


def chunk_starts(total: int) -> list[int]:
    """The first index of each chunk the replay reads for a log of ``total`` entries:
    0, then chunks doubling from `FIRST_CHUNK` entries up to `CHUNK` (one chunk, at 0,
    for an empty log)."""
    starts, size = [0], FIRST_CHUNK
    while starts[-1] + size < total:
        starts.append(starts[-1] + size)
        size = min(2 * size, CHUNK)
    return starts


def node_levels_from(source: object) -> int:
    """The lowest stored node level ``source`` (an audit source) declares in its
    ``node_levels_from`` attribute (`ledger.audit.replay.AuditSource.nodes`), at least 1."""
    declared = getattr(source, "node_levels_from", 1)
    return declared if type(declared) is int and declared > 1 else 1


def completed_nodes(start: int, end: int, lowest: int = 1) -> list[Subtree]:
    """The subtrees of level ``lowest`` or higher that the leaves ``start <= i < end``
    complete (those whose last leaf is among them: what `merkle.subtrees_completed_by`
    gives, level 0 left out), level by level."""
    out: list[Subtree] = []
    level = max(1, lowest)
    while (1 << level) <= end:
        width = 1 << level
        last = -(-(start + 1) // width) * width  # the first subtree end past start
        out.extend(Subtree(level, e - width) for e in range(last, end + 1, width))
        level += 1
    return out
