"""ledger.service.groupcommit: callers in a closed loop (each submits its next event as
soon as its last is answered) stay in whole groups. Without the hand-over's gathering
they settled into two alternating parts, each written while the other's callers were
answered, every event paying twice its share of a group's fixed cost (docs/PERFORMANCE.md,
"gather48")."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from ledger.service.append import GroupOutcome, Receipt
from ledger.service.groupcommit import GroupCommitter

CALLERS = 8
ROUNDS = 12


class _SlowAppender:
    """Appends a group in ``seconds`` (the time a transaction takes, no GIL held);
    notes each group's size."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sizes: list[int] = []
        self.count = 0

    def append_each(self, signed: Sequence[Any]) -> GroupOutcome:
        time.sleep(self.seconds)
        self.sizes.append(len(signed))
        first, self.count = self.count, self.count + len(signed)
        receipts = tuple(Receipt(first + i, b"", b"") for i in range(len(signed)))
        return GroupOutcome(receipts, self.count, "checkpoint")


def _caller(groups: GroupCommitter, rounds: int) -> None:
    for _ in range(rounds):
        answered = threading.Event()
        slot = groups.submit(object(), answered.set)  # type: ignore[arg-type]
        assert answered.wait(30)
        slot.answer()


def test_a_closed_loop_of_callers_is_written_in_whole_groups() -> None:
    appender = _SlowAppender(0.01)
    groups = GroupCommitter(appender, window=0.5)  # type: ignore[arg-type]
    callers = [threading.Thread(target=_caller, args=(groups, ROUNDS)) for _ in range(CALLERS)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(60)
    groups.close()
    assert appender.count == CALLERS * ROUNDS
    settled = appender.sizes[3:-3]  # past the start (callers still arriving) and the end
    assert settled and sum(settled) / len(settled) >= 0.75 * CALLERS, appender.sizes
