"""ledger.service.groupcommit: a gathering leader stops waiting once as many events are
queued as the last group took (its callers are back), else at the end of the window;
an idle log does not wait at all (session 33). The writer thread's next group waits,
within the window, for the callers it just answered (session 34)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ledger.service.append import GroupOutcome, Receipt
from ledger.service.groupcommit import IDLE_AFTER, GroupCommitter, Pending


def _committer(window: float, last_size: int) -> GroupCommitter:
    groups = GroupCommitter(appender=object(), window=window)  # type: ignore[arg-type]
    groups._last = time.monotonic()  # a group just ended: the log is busy
    groups._last_size = last_size
    return groups


def _queue(groups: GroupCommitter, count: int) -> None:
    for _ in range(count):
        groups._queue(Pending(signed=object()))  # type: ignore[arg-type]


def _gathered(groups: GroupCommitter, after: float, count: int) -> float:
    """Seconds `_gather` took while ``count`` events are queued ``after`` s into it."""
    _queue(groups, 1)  # the leader's own
    later = threading.Timer(after, _queue, (groups, count))
    later.start()
    start = time.monotonic()
    groups._gather()
    took = time.monotonic() - start
    later.join()
    return took


def test_the_wait_ends_once_the_last_groups_size_is_queued() -> None:
    groups = _committer(window=5.0, last_size=4)
    took = _gathered(groups, 0.05, 3)  # 1 + 3 = the last group's 4
    assert took < 2.0
    assert groups._enough == 0


def test_fewer_than_the_last_group_wait_the_whole_window() -> None:
    groups = _committer(window=0.3, last_size=6)
    took = _gathered(groups, 0.02, 2)  # 3 of 6
    assert took >= 0.29
    assert len(groups._pending) == 3


def test_enough_queued_already_does_not_wait() -> None:
    groups = _committer(window=5.0, last_size=3)
    _queue(groups, 3)
    start = time.monotonic()
    groups._gather()
    assert time.monotonic() - start < 1.0


def test_a_lone_caller_after_a_lone_one_waits_the_window() -> None:
    """A group of one sets no target of one: a caller waits for at least one other, as
    before this change (the whole window when none comes)."""
    groups = _committer(window=0.2, last_size=1)
    took = _gathered(groups, 0.01, 0)
    assert took >= 0.19


def test_an_idle_log_does_not_wait() -> None:
    groups: Any = _committer(window=5.0, last_size=8)
    groups._last = time.monotonic() - IDLE_AFTER - 0.01
    _queue(groups, 1)
    start = time.monotonic()
    groups._gather()
    assert time.monotonic() - start < 1.0


class _Appender:
    """Writes a group in ``write`` seconds; records each group's size."""

    def __init__(self, write: float) -> None:
        self.write = write
        self.sizes: list[int] = []

    def append_each(self, signed: list[Any], first: Any = None) -> GroupOutcome:
        self.sizes.append(len(signed))
        time.sleep(self.write)
        receipts = tuple(Receipt(i, b"", b"") for i in range(len(signed)))
        return GroupOutcome(receipts, len(signed), "")


def _closed_loop(groups: GroupCommitter, clients: int, turns: int, back_after: float) -> None:
    """``clients`` callers of `submit`, each queueing its next event ``back_after`` s
    after its answer (a loop's turnaround: the answer sent, the next request read),
    ``turns`` events each; returns once all are answered."""
    done = threading.Semaphore(0)

    def client(left: int) -> None:
        if left == 0:
            done.release()
            return

        def answered() -> None:  # in the writer thread: come back later, as a loop would
            threading.Timer(back_after, client, (left - 1,)).start()

        groups.submit(object(), answered)  # type: ignore[arg-type]

    for _ in range(clients):
        client(turns)
    for _ in range(clients):
        assert done.acquire(timeout=30)


def test_the_writers_next_group_waits_for_the_callers_it_just_answered() -> None:
    """Callers of `submit` that come back 2 ms after their answer, a group written in
    10 ms: without the wait the ones that queued during a write make the next group
    alone, and the clients stay split in two cohorts of about half; with it, each group
    after the first takes them all."""
    appender = _Appender(write=0.01)
    groups = GroupCommitter(appender, window=0.02)  # type: ignore[arg-type]
    try:
        _closed_loop(groups, clients=12, turns=8, back_after=0.002)
    finally:
        groups.close()
    sizes = appender.sizes
    assert sum(sizes) == 12 * 8
    assert sorted(sizes)[len(sizes) // 2] == 12  # the median group: every client


def test_the_writers_next_group_waits_no_longer_than_the_window() -> None:
    """Callers that do not come back (their clients are done): the next group waits the
    window for them, then goes with what is queued."""
    groups = _committer(window=0.2, last_size=6)
    _queue(groups, 2)  # queued while the last group was written
    start = time.monotonic()
    groups._gather(following=True)
    took = time.monotonic() - start
    assert 0.19 <= took < 2.0
    assert len(groups._pending) == 2


def test_the_writers_next_group_goes_once_they_are_back() -> None:
    groups = _committer(window=5.0, last_size=4)
    _queue(groups, 2)
    later = threading.Timer(0.05, _queue, (groups, 4))  # the 4 answered, back
    later.start()
    start = time.monotonic()
    groups._gather(following=True)
    assert time.monotonic() - start < 2.0
    later.join()
    assert len(groups._pending) == 6
