"""bench.ingestsplit's ceiling (the rate with every step overlapped) and bench.proccpu's
CPU of a user's processes, which it adds for a local PostgreSQL."""

from __future__ import annotations

import os
import sys
import time

import pytest

from bench.ingestsplit import ceiling
from bench.proccpu import user_seconds


def test_one_worker_is_bound_by_the_cores_when_the_rest_needs_more_than_its_gil() -> None:
    gil, machine, best = ceiling([79e-6], 83e-6, 2)
    assert gil == pytest.approx(1 / 79e-6)
    assert machine == pytest.approx(2 / 162e-6)
    assert best == machine < gil


def test_one_worker_is_bound_by_its_gil_when_its_python_is_most_of_an_event() -> None:
    gil, machine, best = ceiling([120e-6], 40e-6, 2)
    assert best == gil == pytest.approx(1 / 120e-6)
    assert machine == pytest.approx(2 / 160e-6)


def test_the_busiest_of_two_workers_bounds_the_gil_and_both_count_on_the_cores() -> None:
    gil, machine, _ = ceiling([40e-6, 60e-6], 60e-6, 2)
    assert gil == pytest.approx(1 / 60e-6)
    assert machine == pytest.approx(2 / 160e-6)


def test_no_cpu_measured_is_no_bound() -> None:
    assert ceiling([], 0.0, 2) == (float("inf"), float("inf"), float("inf"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_users_seconds_include_this_process_spinning() -> None:
    before = user_seconds(os.getuid())
    assert before is not None
    start = time.process_time()
    while time.process_time() - start < 0.3:
        pass
    after = user_seconds(os.getuid())
    assert after is not None
    # this process's own 0.3 s are in it (other processes of the user may add more)
    assert after - before >= 0.25


def test_a_user_with_no_process_has_spent_nothing() -> None:
    spent = user_seconds(2**31 - 7)
    assert spent in (0.0, None)
