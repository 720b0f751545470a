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


def _handed_over(
    groups: GroupCommitter, others: int, arrivals: list[tuple[float, int]], back: int = 0
) -> float:
    """Seconds a leader handed the lead gathers: ``others`` events were queued by others
    when the last group's callers were answered (its own among them), ``back`` of those
    callers are queued already, and each (delay, count) of ``arrivals`` queues more."""
    groups._others = others
    _queue(groups, others + back)
    timers = [threading.Timer(after, _queue, (groups, count)) for after, count in arrivals]
    for timer in timers:
        timer.start()
    start = time.monotonic()
    groups._gather(handed_over=True)
    took = time.monotonic() - start
    for timer in timers:
        timer.join()
    return took


def test_a_handed_over_leader_waits_for_the_last_groups_callers_too() -> None:
    """The group just written took 4; 3 others are queued: the leader expects 7, does
    not stop at the last group's 4 (a first leader would), and stops at 7."""
    groups = _committer(window=5.0, last_size=4)
    took = _handed_over(groups, 3, [(0.05, 1), (0.4, 3)])
    assert 0.35 <= took < 2.0
    assert len(groups._pending) == 7
    assert groups._enough == 0


def test_a_handed_over_leader_waits_the_window_for_callers_not_back() -> None:
    groups = _committer(window=0.3, last_size=4)
    took = _handed_over(groups, 3, [(0.02, 1)])  # 4 of the 7 expected
    assert took >= 0.29
    assert len(groups._pending) == 4


def test_callers_back_before_the_count_are_not_expected_twice() -> None:
    """Two of the last group's callers were back before the hand-over counted the
    queue: the leader still expects 4 + 3, not 4 + 5, and stops once 7 are queued."""
    groups = _committer(window=5.0, last_size=4)
    took = _handed_over(groups, 3, [(0.05, 2)], back=2)
    assert took < 2.0
    assert len(groups._pending) == 7


def test_a_handed_over_leader_expects_no_more_than_a_group_holds() -> None:
    groups = GroupCommitter(appender=object(), window=5.0, max_group=5)  # type: ignore[arg-type]
    groups._last = time.monotonic()
    groups._last_size = 5
    took = _handed_over(groups, 3, [(0.05, 2)])  # 3 + 5 expected, 5 the most a group takes
    assert took < 2.0


def test_waits_that_run_out_make_the_next_hand_overs_lead_at_once() -> None:
    """An open loop (callers not back): after a wait that ran out the next hand-over
    leads at once; after two in a row, the next three; a wait that reaches its target
    starts the count again."""
    groups = _committer(window=0.05, last_size=4)

    def hand_over(arrivals: list[tuple[float, int]]) -> float:
        groups._pending.clear()
        groups._last = time.monotonic()
        return _handed_over(groups, 1, arrivals)

    assert hand_over([]) >= 0.045  # ran out: 1 skipped
    assert hand_over([]) < 0.02
    assert hand_over([]) >= 0.045  # ran out again, in a row: 3 skipped
    assert [hand_over([]) < 0.02 for _ in range(3)] == [True, True, True]
    assert hand_over([(0.01, 4)]) < 0.045  # reached its 5: the count starts again
    assert groups._skips == 0 and groups._misses == 0
    assert hand_over([]) >= 0.045
    assert groups._skips == 1


def test_a_group_all_refused_before_its_write_still_counts_the_others() -> None:
    """Every take of a group refused (nothing to write): its callers are answered, and
    the events others had queued are counted then, as after a write."""
    groups = _committer(window=5.0, last_size=2)
    group = [Pending(signed=object()) for _ in range(2)]  # type: ignore[arg-type]
    for slot in group:
        slot.error = RuntimeError("its take was refused")
    groups._others = 9  # (a count from an earlier group)
    _queue(groups, 3)
    groups._write(group)
    assert groups._others == 3
    assert all(slot.finished for slot in group)
