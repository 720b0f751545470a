"""bench.ingestsplit's ceiling (the rate with every step overlapped) and the two sides it
is computed from, and bench.proccpu's CPU of a user's threads, which it adds for a
local PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.ingestsplit import ceiling, sides
from bench.proccpu import spent_between, user_threads


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


def test_the_servers_are_apart_and_every_other_process_with_the_others_is_the_rest() -> None:
    used = [
        ("server worker", 5.0),
        ("verifier child", 3.0),
        ("server worker", 4.0),
        ("map child", 2.0),
        ("workers' supervisor", 0.5),
    ]
    server, rest = sides(used, 1.5)  # the clients and PostgreSQL
    assert server == [5.0, 4.0]
    assert rest == pytest.approx(3.0 + 2.0 + 0.5 + 1.5)
    assert sides([("server", 7.0)], 0.0) == ([7.0], 0.0)


def test_a_thread_that_ended_counts_for_nothing_and_a_new_one_whole() -> None:
    before = {(1, 1): 2.0, (1, 2): 5.0, (2, 2): 1.0}
    after = {(1, 1): 2.5, (3, 3): 0.25, (2, 2): 0.5}  # (1, 2) ended; (2, 2) a reused number
    assert spent_between(before, after) == pytest.approx(0.5 + 0.25)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_users_threads_hold_this_process_spinning_and_lose_nothing_to_one_that_ends() -> None:
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", spin])  # ends between the readings
    time.sleep(0.1)
    before = user_threads(os.getuid())
    assert before is not None
    assert any(pid == os.getpid() for pid, _ in before)
    start = time.process_time()
    while time.process_time() - start < 0.3:
        pass
    child.wait()
    after = user_threads(os.getuid())
    assert after is not None
    mine = {key: s for key, s in after.items() if key[0] == os.getpid()}
    assert spent_between(before, mine) >= 0.25  # this process's own 0.3 s
    assert spent_between(before, after) >= 0.25  # the child that ended takes nothing away


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_user_with_no_process_has_no_thread() -> None:
    assert user_threads(2**31 - 7) == {}
