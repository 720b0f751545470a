"""ledger.store.statistics: when a log's growth asks for fresh planner statistics, and
the refresher's thread (one run at a time, failures logged not raised, closed waits)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from ledger.store import statistics
from ledger.store.statistics import StatisticsRefresher


@pytest.mark.parametrize(
    ("grew_from", "grew_to", "expected"),
    [
        (1000, 1023, False),  # below the smallest size
        (1000, 1024, True),  # 1024: a new power of two at the smallest size
        (1024, 2047, False),  # within one power of two
        (2047, 2048, True),
        (500, 5000, True),  # several at once: one run
        (0, 1, False),
        (3000, 3000, False),
    ],
)
def test_a_run_is_wanted_at_each_power_of_two_from_the_smallest_size(
    grew_from: int, grew_to: int, expected: bool
) -> None:
    assert statistics.crossed(grew_from, grew_to) is expected


class _Engine:
    """An engine whose transactions record their statements, optionally held at the
    first one until released, or failing."""

    def __init__(self, fail: bool = False) -> None:
        self.statements: list[str] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail = fail

    @contextmanager
    def begin(self) -> Iterator[Any]:
        self.entered.set()
        self.hold.wait(10)
        if self.fail:
            raise OperationalError("ANALYZE", {}, Exception("the server went away"))
        yield self

    def execute(self, statement: Any) -> None:
        self.statements.append(str(statement))


def test_a_run_analyzes_every_growing_table_on_its_own_thread() -> None:
    engine = _Engine()
    refresher = StatisticsRefresher(engine)  # type: ignore[arg-type]
    assert refresher.refresh()
    refresher.wait(10)
    assert engine.statements == [f"ANALYZE {t}" for t in statistics.TABLES]
    assert (refresher.runs, refresher.failures) == (1, 0)


def test_one_run_at_a_time_and_none_after_close() -> None:
    engine = _Engine()
    engine.hold.clear()
    refresher = StatisticsRefresher(engine)  # type: ignore[arg-type]
    assert refresher.refresh()
    assert engine.entered.wait(10)
    assert not refresher.refresh()  # one is running: it covers this crossing
    engine.hold.set()
    refresher.close()  # waits for the run in progress
    assert refresher.runs == 1
    assert not refresher.refresh()  # closed
    assert refresher.runs == 1
    assert not any(t.name == "statistics-refresh" for t in threading.enumerate())


def test_a_failed_run_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    refresher = StatisticsRefresher(_Engine(fail=True))  # type: ignore[arg-type]
    assert refresher.refresh()
    refresher.wait(10)
    assert (refresher.runs, refresher.failures) == (0, 1)
    assert "cannot refresh the planner's statistics" in caplog.text
    assert refresher.refresh()  # a later crossing tries again
    refresher.close()
    assert refresher.failures == 2


def test_a_thread_that_cannot_start_is_a_failed_run_and_close_still_works(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    refresher = StatisticsRefresher(_Engine())  # type: ignore[arg-type]
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    assert not refresher.refresh()  # no exception for the committed append's caller
    assert refresher.failures == 1
    assert "cannot start refreshing" in caplog.text
    refresher.close()  # joins nothing that never started


def test_any_error_of_a_run_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(_Engine):
        def execute(self, statement: Any) -> None:
            raise ValueError("not an SQLAlchemy error")

    refresher = StatisticsRefresher(Broken())  # type: ignore[arg-type]
    assert refresher.refresh()
    refresher.wait(10)
    assert (refresher.runs, refresher.failures) == (0, 1)
    assert "not an SQLAlchemy error" in caplog.text
