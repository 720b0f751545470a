"""ledger.store.writetimes: a write transaction's wait for the log's lock and its hold
are added to that log's totals only, whatever thread ends it."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.store.writetimes import WriteTimes, WriteTotals


def test_a_transaction_splits_at_the_moment_it_took_the_lock() -> None:
    times = WriteTimes()
    times.note(1, start=10.0, locked=10.25, end=11.0)
    assert times.totals(1) == WriteTotals(1, 0.25, 0.75)
    assert times.totals(2) == WriteTotals()  # another log: untouched


def test_one_that_never_took_the_lock_only_waited() -> None:
    times = WriteTimes()
    times.note(1, start=3.0, locked=None, end=3.5)
    assert times.totals(1) == WriteTotals(1, 0.5, 0.0)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.booleans()), max_size=30))
def test_totals_are_the_sums(spans: list[tuple[float, float, bool]]) -> None:
    times = WriteTimes()
    for wait, hold, locked in spans:
        times.note(7, 0.0, wait if locked else None, wait + (hold if locked else 0.0))
    totals = times.totals(7)
    assert totals.transactions == len(spans)
    assert totals.waited == pytest.approx(sum(w for w, _, _ in spans))
    assert totals.held == pytest.approx(sum(h for _, h, locked in spans if locked))


def test_threads_lose_no_transaction() -> None:
    times = WriteTimes()

    def note() -> None:
        for _ in range(2000):
            times.note(1, 0.0, 0.001, 0.003)

    threads = [threading.Thread(target=note) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals = times.totals(1)
    assert totals.transactions == 8000
    assert totals.held == pytest.approx(16.0)
