"""Events the log holds twice (the audit's step 9, ledger.audit.replay).

The append refuses an event already in the log (its event hash, under the log lock), and
the database no longer holds a unique index on the hash (0025_slim_log): the audit checks
it itself. The rules refuse most replays anyway (a unit event names its ``prev``), but not
all (a repeated ``product.register``), and an operator holding the log key could write
anything. Each entry's hash is kept as its first 8 bytes with its index (16 bytes an
entry, in two arrays); at the end the prefixes are sorted and only the entries sharing
one are read again and compared whole, so two different events sharing a prefix (never
by chance; 2^32 work to make) are never reported.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator


class EventHashes:
    """The event hashes of a replay, to find an event the log holds twice."""

    def __init__(self) -> None:
        self._prefixes = array("Q")
        self._indices = array("Q")

    def add(self, index: int, event_hash: bytes) -> None:
        """Keep the event hash of the entry at ``index``."""
        self._prefixes.append(int.from_bytes(event_hash[:8], "big"))
        self._indices.append(index)

    def repeats(self, event_hash_at: Callable[[int], bytes | None]) -> Iterator[tuple[int, int]]:
        """(first index, later index) for each entry whose event is already in the log at
        an earlier index, in the later index's order. ``event_hash_at(i)`` reads entry
        ``i``'s whole event hash again (None: not readable now; then it is skipped)."""
        prefixes, indices = self._prefixes, self._indices
        if len(set(prefixes)) == len(prefixes):
            return  # no prefix twice (the usual log): nothing to sort (~2 % of an audit)
        order = sorted(range(len(prefixes)), key=prefixes.__getitem__)
        found: list[tuple[int, int]] = []
        run: list[int] = []
        for k, position in enumerate(order):
            run.append(indices[position])
            last = k + 1 == len(order) or prefixes[order[k + 1]] != prefixes[position]
            if last:
                if len(run) > 1:
                    found.extend(_same_events(sorted(run), event_hash_at))
                run = []
        yield from sorted(found, key=lambda pair: pair[1])


def _same_events(
    run: list[int], event_hash_at: Callable[[int], bytes | None]
) -> Iterator[tuple[int, int]]:
    first_of: dict[bytes, int] = {}
    for index in run:
        value = event_hash_at(index)
        if value is None:
            continue
        if value in first_of:
            yield first_of[value], index
        else:
            first_of[value] = index
