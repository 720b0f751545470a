"""Callers that do not wait in a thread (`GroupCommitter.submit`, the API's single
appends): woken by a callback once their group has committed, their groups led by the
committer's one writer thread; mixed with callers of `append`, every caller is
answered, and a failing wake-up does not stop the writer.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ledger.service.append import BatchReceipt
from ledger.service.groupcommit import Pending
from tests.integration.test_group_commit import _commission, _Gate, pool
from tests.integration.world import LedgerWorld

__all__ = ["pool"]  # the fixture, shared


class _Woken:
    """Counts wake-ups and the threads they ran in."""

    def __init__(self, expected: int) -> None:
        self.threads: list[str] = []
        self.all = threading.Event()
        self.expected = expected
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.threads.append(threading.current_thread().name)
            if len(self.threads) == self.expected:
                self.all.set()


def test_submitted_events_are_answered_by_the_writer_in_groups(world: LedgerWorld) -> None:
    ledger = world.ledger
    start = ledger.head().size
    gate = _Gate(ledger.groups)
    events = [_commission(world, f"SUB-{n}") for n in range(6)]
    woken = _Woken(6)
    first = ledger.submit(events[0], woken)
    assert gate.entered.wait(10)  # the writer thread holds the first group
    rest = [ledger.submit(s, woken) for s in events[1:]]
    assert ledger.groups.queued() == 5  # queued at once: nobody waited to submit
    gate.release.set()
    assert woken.all.wait(30)
    assert gate.sizes == [1, 5]
    assert {name.split("_")[0] for name in woken.threads} == {"group-commit"}
    receipts = [p.answer() for p in [first, *rest]]
    assert [r.receipts[0].index for r in receipts] == list(range(start, start + 6))
    assert {r.size for r in receipts[1:]} == {start + 6}
    assert ledger.head().size == start + 6
    assert ledger.audit().ok


def test_callers_of_append_and_of_submit_are_all_answered(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    start = ledger.head().size
    gate = _Gate(ledger.groups)
    woken = _Woken(4)
    lead = pool.submit(ledger.append, _commission(world, "MIX-0"))  # leads in its thread
    assert gate.entered.wait(10)
    submitted: list[Pending] = []
    waiting = []
    for n in range(1, 9):  # alternately: each kind may be the next group's first
        signed = _commission(world, f"MIX-{n}")
        if n % 2:
            submitted.append(ledger.submit(signed, woken))
        else:
            waiting.append(pool.submit(ledger.append, signed))
    gate.release.set()
    answers = [lead.result(30), *(f.result(30) for f in waiting)]
    assert woken.all.wait(30)
    answers += [p.answer() for p in submitted]
    assert all(isinstance(a, BatchReceipt) for a in answers)
    indexes = sorted(a.receipts[0].index for a in answers)
    assert indexes == list(range(start, start + 9))
    assert ledger.head().size == start + 9
    assert ledger.audit().ok


def test_a_failing_wake_up_does_not_stop_the_writer(world: LedgerWorld) -> None:
    ledger = world.ledger

    def broken() -> None:
        raise RuntimeError("the caller's loop is gone")

    lost = ledger.submit(_commission(world, "LOST"), broken)
    woken = _Woken(1)
    later = ledger.submit(_commission(world, "LATER"), woken)
    assert woken.all.wait(30)
    assert lost.finished and not lost.answer().receipts[0].duplicate
    assert later.answer().receipts[0].index == lost.answer().receipts[0].index + 1
