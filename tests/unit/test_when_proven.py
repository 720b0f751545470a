"""`ledger.service.mapproofs.when_proven` and `proven_before`: a read refused because
the map is behind is read again until it is proven, a writer catches the map up once
after the wait, a reader gives up with `MapBehindError`."""

from __future__ import annotations

import pytest

from ledger.service.mapproofs import MapBehindError, proven_before, when_proven
from ledger.stored import StoredCheckpoint


def _behind_for(times: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def read() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise MapBehindError("behind")
        return "view"

    return calls, read


def test_a_read_behind_is_read_again_until_proven() -> None:
    calls, read = _behind_for(3)
    caught: list[int] = []
    assert when_proven(read, lambda: caught.append(1), wait=5.0) == "view"  # type: ignore[arg-type]
    assert len(calls) == 4 and caught == []


def test_a_writer_catches_up_once_after_the_wait() -> None:
    caught: list[int] = []
    reads: list[int] = []

    def read() -> str:
        reads.append(1)
        if not caught:  # behind until caught up
            raise MapBehindError("behind")
        return "view"

    assert when_proven(read, lambda: caught.append(1), wait=0.02) == "view"
    assert caught == [1] and len(reads) >= 2


def test_a_reader_gives_up_and_other_errors_pass() -> None:
    _, read = _behind_for(10**6)
    with pytest.raises(MapBehindError):
        when_proven(read, None, wait=0.02)  # type: ignore[arg-type]

    def broken() -> str:
        raise ValueError("not the map")

    with pytest.raises(ValueError, match="not the map"):
        when_proven(broken, None)


def test_proven_before_refuses_entries_at_or_past_the_checkpoint() -> None:
    checkpoint = StoredCheckpoint(10, b"r" * 32, "note", "at")
    proven_before([0, 5, 9], checkpoint)
    proven_before([], checkpoint)
    for indices in ([10], [3, 11]):
        with pytest.raises(MapBehindError) as refused:
            proven_before(indices, checkpoint)
        assert refused.value.code == "map-behind" and refused.value.status == 503
