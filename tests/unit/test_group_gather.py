"""ledger.service.groupcommit: a gathering leader stops waiting once as many events are
queued as the last group took (its callers are back), else at the end of the window;
an idle log does not wait at all (session 33)."""

from __future__ import annotations

import threading
import time
from typing import Any

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


def _handed_over(groups: GroupCommitter, queued: int, after: float, count: int) -> float:
    """Seconds a leader handed the lead (``queued`` events waiting, its own among them)
    gathers while ``count`` more are queued ``after`` s into it."""
    _queue(groups, queued)
    later = threading.Timer(after, _queue, (groups, count))
    later.start()
    start = time.monotonic()
    groups._gather(handed_over=True)
    took = time.monotonic() - start
    later.join()
    return took


def test_a_handed_over_leader_waits_for_the_last_groups_callers_too() -> None:
    """The group just written took 4; 3 are queued: the leader expects 7 (those 3 and
    the 4 callers back with their next events), and stops waiting once they are."""
    groups = _committer(window=5.0, last_size=4)
    took = _handed_over(groups, 3, 0.05, 4)
    assert took < 2.0
    assert len(groups._pending) == 7
    assert groups._enough == 0


def test_a_handed_over_leader_does_not_stop_at_the_last_groups_size() -> None:
    """4 queued of the 7 expected: as many as the last group took is not enough (a first
    leader would have stopped there); the leader waits out the window."""
    groups = _committer(window=0.3, last_size=4)
    took = _handed_over(groups, 3, 0.02, 1)
    assert took >= 0.29
    assert len(groups._pending) == 4


def test_a_handed_over_leader_expects_no_more_than_a_group_holds() -> None:
    groups = GroupCommitter(appender=object(), window=5.0, max_group=5)  # type: ignore[arg-type]
    groups._last = time.monotonic()
    groups._last_size = 5
    took = _handed_over(groups, 3, 0.05, 2)  # 3 + 5 expected, 5 the most a group takes
    assert took < 2.0


def test_a_handed_over_leader_of_an_idle_log_does_not_wait() -> None:
    groups: Any = _committer(window=5.0, last_size=8)
    groups._last = time.monotonic() - IDLE_AFTER - 0.01
    start = time.monotonic()
    _handed_over(groups, 1, 0.0, 0)
    assert time.monotonic() - start < 1.0
