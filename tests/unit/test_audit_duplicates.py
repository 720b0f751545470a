"""The audit's step 9 (ledger.audit.duplicates): an event the log holds twice is found,
with its first index; events that only share an 8-byte prefix are not; a hypothesis
property against a plain dictionary."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from ledger.audit.duplicates import EventHashes


def _hash(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest()


def _repeats(hashes: list[bytes]) -> list[tuple[int, int]]:
    kept = EventHashes()
    for index, value in enumerate(hashes):
        kept.add(index, value)
    return list(kept.repeats(lambda i: hashes[i]))


def test_an_event_twice_is_found_with_its_first_index() -> None:
    hashes = [_hash(n) for n in range(50)]
    hashes.append(hashes[7])
    hashes.append(hashes[7])
    assert _repeats(hashes) == [(7, 50), (7, 51)]


def test_a_shared_prefix_alone_is_no_repeat() -> None:
    a, b = _hash(1), _hash(2)
    twin = a[:8] + b[8:]  # same first 8 bytes as a, another event
    assert _repeats([a, b, twin]) == []
    assert _repeats([a, twin, a]) == [(0, 2)]


def test_an_entry_not_readable_again_is_skipped() -> None:
    kept = EventHashes()
    value = _hash(3)
    kept.add(0, value)
    kept.add(5, value)
    assert list(kept.repeats(lambda i: None if i == 5 else value)) == []


@given(st.lists(st.integers(0, 30), max_size=80))
def test_the_repeats_are_exactly_the_later_copies(events: list[int]) -> None:
    # values 0..30 with a few prefix twins among them
    def value(n: int) -> bytes:
        base = _hash(n // 2)
        return base if n % 2 == 0 else base[:8] + _hash(n)[8:]

    hashes = [value(n) for n in events]
    first: dict[bytes, int] = {}
    want = []
    for index, h in enumerate(hashes):
        if h in first:
            want.append((first[h], index))
        else:
            first[h] = index
    assert _repeats(hashes) == want
