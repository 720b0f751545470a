"""ledger.verify.batchverify: a batch verified on several threads reports what an in-order
check would: nothing when all verify, else the lowest bad position."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ledger import crypto
from ledger.entry import SignedEvent
from ledger.errors import SignatureError
from ledger.verify import batchverify
from ledger.verify.batchverify import first_bad_signature
from tests.factories import GTIN, key
from tests.rules_factories import ACTORS, World


def _jobs(count: int) -> list[tuple[int, SignedEvent, bytes]]:
    world = World.base()
    public = crypto.public_key_to_raw(key(ACTORS["acme"][1]).public_key())
    events = [
        world.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"BV{i}"}, prev=None)
        for i in range(count)
    ]
    return [(i, s, public) for i, s in enumerate(events)]


def _forge(job: tuple[int, SignedEvent, bytes]) -> tuple[int, SignedEvent, bytes]:
    position, signed, public = job
    sig = bytes([signed.sig[0] ^ 1]) + signed.sig[1:]
    return position, dataclasses.replace(signed, sig=sig), public


@pytest.mark.parametrize("count", [3, 300])
def test_all_good_is_none(count: int) -> None:
    assert first_bad_signature(_jobs(count)) is None


@pytest.mark.parametrize("count", [10, 300])
def test_the_lowest_bad_position_is_reported(count: int) -> None:
    jobs = _jobs(count)
    for position in (count - 1, count // 3, count // 2):
        jobs[position] = _forge(jobs[position])
    bad = first_bad_signature(jobs)
    assert bad is not None
    assert bad[0] == count // 3
    assert isinstance(bad[1], SignatureError)


def test_one_thread_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batchverify, "_threads", lambda: 1)
    jobs = _jobs(100)
    jobs[99] = _forge(jobs[99])
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 99


@pytest.mark.parametrize("count", [3, 8, 40])
def test_started_all_good_is_none(count: int) -> None:
    assert batchverify.start_first_bad(_jobs(count))() is None


@pytest.mark.parametrize("count", [5, 12, 40])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_started_reports_the_lowest_bad_position(
    count: int, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same answer as `first_bad_signature` in order, on the threads or not."""
    monkeypatch.setattr(batchverify, "_threads", lambda: threads)
    jobs = _jobs(count)
    for position in {count - 1, count // 2, count // 3 + 1}:  # (distinct: forged once)
        jobs[position] = _forge(jobs[position])
    bad = batchverify.start_first_bad(jobs)()
    assert bad is not None
    assert bad[0] == count // 3 + 1
    assert isinstance(bad[1], SignatureError)
    assert first_bad_signature(jobs) is not None
    assert first_bad_signature(jobs)[0] == bad[0]  # type: ignore[index]


def test_started_small_batches_are_verified_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below `START_FROM` the jobs are verified on the calling thread before it returns."""
    seen: list[str] = []
    real = batchverify._first_bad

    def first_bad(jobs: list[tuple[int, SignedEvent, bytes]]) -> object:
        seen.append(threading.current_thread().name)
        return real(jobs)

    monkeypatch.setattr(batchverify, "_first_bad", first_bad)
    jobs = _jobs(batchverify.START_FROM - 1)
    jobs[2] = _forge(jobs[2])
    result = batchverify.start_first_bad(jobs)
    assert seen == [threading.current_thread().name]
    bad = result()
    assert bad is not None and bad[0] == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_verifies_on_threads_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """review33: a process that forks after its verify threads started (the quick threads
    a group commit now waits on from 8 events; the shared ones from 64) leaves its child
    pools whose threads do not exist there: a group's leader in the child waited forever
    for parts no thread would run. The child starts threads of its own."""
    monkeypatch.setattr(batchverify, "_threads", lambda: 2)
    jobs = _jobs(batchverify.START_FROM + 2)
    assert batchverify.start_first_bad(jobs)() is None  # the parent's quick threads exist
    assert batchverify.first_bad_signature(_jobs(batchverify.PARALLEL_FROM)) is None
    jobs[5] = _forge(jobs[5])
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if both answers come
        code = 1
        try:
            bad = batchverify.start_first_bad(jobs)()
            many = batchverify.first_bad_signature(_jobs(batchverify.PARALLEL_FROM))
            code = 0 if bad is not None and bad[0] == 5 and many is None else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's verify never answered (its pool had no threads)")


def test_a_group_verifies_on_its_own_thread_once_the_quick_threads_refuse_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """review33: once the interpreter shuts down (the main thread ended, another still
    appends) a pool refuses new work (RuntimeError): a group of >= `START_FROM` then
    failed whole with that error, every caller refused for a reason not its own, where
    a smaller group (verified on the leader's thread) landed. It is verified here."""
    closed = ThreadPoolExecutor(1)
    closed.shutdown()
    monkeypatch.setattr(batchverify, "quick_pool", lambda: closed)
    monkeypatch.setattr(batchverify, "_threads", lambda: 2)
    jobs = _jobs(batchverify.START_FROM + 2)
    assert batchverify.start_first_bad(jobs)() is None
    jobs[7] = _forge(jobs[7])
    bad = batchverify.start_first_bad(jobs)()
    assert bad is not None and bad[0] == 7 and isinstance(bad[1], SignatureError)
