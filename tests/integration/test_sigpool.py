"""ledger.service.sigpool: a large batch verified in child processes reports what an
in-order check on this process reports (nothing, or the lowest bad position and the
error `verify_event` raises), remembers only what a child verified under the key the
envelope names, and loses nothing when a child fails to start, dies or talks nonsense."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import crypto, entry
from ledger.entry import SignedEvent
from ledger.errors import SignatureError
from ledger.service import sigpool
from ledger.service.sigpool import PROCESS_FROM, SignaturePool, first_bad_signature
from ledger.verify import batchverify
from tests.factories import GTIN, key
from tests.rules_factories import ACTORS, World

Job = tuple[int, SignedEvent, bytes]
_SIGNED: list[SignedEvent] = []


def _jobs(count: int) -> list[Job]:
    """``count`` fresh (never verified) commissions of acme's, with its raw key."""
    while len(_SIGNED) < count:
        world = World.base()
        _SIGNED.extend(
            world.sign("commission", "acme", unit={"gtin": GTIN, "serial": f"SP{i}"}, prev=None)
            for i in range(len(_SIGNED), len(_SIGNED) + 100)
        )
    public = crypto.public_key_to_raw(key(ACTORS["acme"][1]).public_key())
    # copies: a success is remembered on the object, and each test starts unverified
    return [(i, dataclasses.replace(s), public) for i, s in enumerate(_SIGNED[:count])]


def _forge(job: Job) -> Job:
    position, signed, public = job
    return (
        position,
        dataclasses.replace(signed, sig=bytes([signed.sig[0] ^ 1]) + signed.sig[1:]),
        public,
    )


def _other_key(job: Job) -> Job:
    """The same event and signature, checked under a key its envelope does not name."""
    position, signed, _ = job
    return position, signed, crypto.public_key_to_raw(key(7).public_key())


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[SignaturePool]:
    """A pool of two children of this test's own, as the process's pool."""
    mine = SignaturePool(2)
    monkeypatch.setattr(sigpool, "_pool", mine)
    yield mine
    mine.close()


def _sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the parts handed to children from now on."""
    sizes: list[int] = []
    real = sigpool._Child.send

    def send(
        self: sigpool._Child, items: list[tuple[int, bytes, bytes, bytes, bytes]], deadline: float
    ) -> None:
        sizes.append(len(items))
        real(self, items, deadline)

    monkeypatch.setattr(sigpool._Child, "send", send)
    return sizes


def test_a_good_batch_is_verified_on_the_children_and_remembered(
    pool: SignaturePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _sends(monkeypatch)
    jobs = _jobs(PROCESS_FROM)
    assert first_bad_signature(jobs) is None
    assert sorted(sizes) == [PROCESS_FROM // 2] * 2  # one part a child
    assert all(entry.verified_under(s, public) for _, s, public in jobs)
    sizes.clear()
    assert first_bad_signature(jobs) is None  # remembered: nothing is sent again
    assert sizes == []


def test_the_children_run_below_this_process(
    pool: SignaturePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's threads, the serial part of a batch, take a core before them."""
    pids: list[int] = []
    real = sigpool._Child.send

    def send(self: sigpool._Child, items: list[Any], deadline: float) -> None:
        pids.append(self.proc.pid)
        real(self, items, deadline)

    monkeypatch.setattr(sigpool._Child, "send", send)
    assert first_bad_signature(_jobs(PROCESS_FROM)) is None
    assert len(set(pids)) == 2
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for pid in pids:
        assert os.getpriority(os.PRIO_PROCESS, pid) == max(mine, sigpool.NICE)


def test_a_process_is_lowered_never_raised_and_a_gone_one_is_no_error() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    lowered, nicer = subprocess.Popen(sleeper), subprocess.Popen(sleeper)
    try:
        os.setpriority(os.PRIO_PROCESS, nicer.pid, 19)
        sigpool.lower_priority(lowered.pid, sigpool.NICE)
        sigpool.lower_priority(nicer.pid, sigpool.NICE)
        assert os.getpriority(os.PRIO_PROCESS, lowered.pid) == max(mine, sigpool.NICE)
        assert os.getpriority(os.PRIO_PROCESS, nicer.pid) == 19  # its own, higher: kept
    finally:
        for child in (lowered, nicer):
            child.kill()
            child.wait()
    with pytest.raises(ProcessLookupError):  # reaped: the call below finds no process
        os.getpriority(os.PRIO_PROCESS, lowered.pid)
    sigpool.lower_priority(lowered.pid, sigpool.NICE)  # and says nothing


def test_a_small_batch_stays_on_the_threads(
    pool: SignaturePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _sends(monkeypatch)
    jobs = _jobs(PROCESS_FROM - 1)
    jobs[5] = _forge(jobs[5])
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 5
    assert sizes == []


def test_the_lowest_forged_position_is_reported_with_verify_events_error(
    pool: SignaturePool,
) -> None:
    jobs = _jobs(PROCESS_FROM + 40)
    for position in (PROCESS_FROM + 10, 200, 7):
        jobs[position] = _forge(jobs[position])
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 7
    assert isinstance(bad[1], SignatureError) and "does not verify" in str(bad[1])
    # what is left unremembered: the forged ones; the rest verified under acme's key
    assert [i for i, s, public in jobs if not entry.verified_under(s, public)] == [
        7,
        200,
        PROCESS_FROM + 10,
    ]


def test_a_key_the_envelope_does_not_name_is_refused_and_not_remembered(
    pool: SignaturePool,
) -> None:
    jobs = _jobs(PROCESS_FROM)
    jobs[100] = _other_key(jobs[100])
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 100
    assert "different key" in str(bad[1])
    assert not entry.verified_under(jobs[100][1], jobs[100][2])
    with pytest.raises(SignatureError):
        entry.remember_verified(jobs[100][1], jobs[100][2])
    assert not entry.verified_under(jobs[100][1], jobs[100][2])


@settings(max_examples=30, deadline=None)
@given(
    st.sets(st.integers(0, PROCESS_FROM + 19), max_size=6),
    st.sets(st.integers(0, PROCESS_FROM + 19), max_size=2),
)
def test_the_answer_is_the_in_order_answer(bad: set[int], wrong_key: set[int]) -> None:
    jobs = _jobs(PROCESS_FROM + 20)
    for position in bad:
        jobs[position] = _forge(jobs[position])
    for position in wrong_key:
        jobs[position] = _other_key(jobs[position])
    expected = batchverify._first_bad([(p, dataclasses.replace(s), k) for p, s, k in jobs])
    got = first_bad_signature(jobs)
    if expected is None:
        assert got is None and not bad and not wrong_key
        return
    assert got is not None and got[0] == expected[0] == min(bad | wrong_key)
    assert type(got[1]) is type(expected[1]) and str(got[1]) == str(expected[1])


def test_a_batch_whose_every_key_is_another_sends_nothing(
    pool: SignaturePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _sends(monkeypatch)
    jobs = [_other_key(job) for job in _jobs(PROCESS_FROM)]
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 0 and "different key" in str(bad[1])
    assert sizes == []
    assert first_bad_signature(_jobs(PROCESS_FROM)) is None  # the pool still serves


def test_a_key_of_the_wrong_length_is_reported_at_its_position_not_raised(
    pool: SignaturePool,
) -> None:
    jobs = _jobs(PROCESS_FROM)
    position, signed, public = jobs[40]
    jobs[40] = (position, signed, public[:31])
    jobs[60] = _forge(jobs[60])
    expected = batchverify._first_bad([(p, dataclasses.replace(s), k) for p, s, k in jobs])
    got = first_bad_signature(jobs)
    assert expected is not None and got is not None and got[0] == expected[0] == 40
    assert type(got[1]) is type(expected[1]) and str(got[1]) == str(expected[1])


def test_threads_sharing_the_pool_each_get_their_own_answer(pool: SignaturePool) -> None:
    batches = []
    for forged in (None, 3, 200, PROCESS_FROM - 1, 17, None):
        jobs = _jobs(PROCESS_FROM)
        if forged is not None:
            jobs[forged] = _forge(jobs[forged])
        batches.append((forged, jobs))
    with ThreadPoolExecutor(len(batches)) as threads:
        answers = list(threads.map(lambda b: first_bad_signature(b[1]), batches))
    assert [None if a is None else a[0] for a in answers] == [f for f, _ in batches]
    assert len(_idle(pool)) <= pool.size


def test_a_child_that_dies_loses_nothing(pool: SignaturePool) -> None:
    jobs = _jobs(PROCESS_FROM)
    assert first_bad_signature(jobs) is None  # the children are up
    for child in list(_idle(pool)):
        child.proc.kill()
        child.proc.wait()
    jobs = _jobs(PROCESS_FROM)
    jobs[33] = _forge(jobs[33])
    bad = first_bad_signature(jobs)  # verified here instead, then new children
    assert bad is not None and bad[0] == 33
    jobs = _jobs(PROCESS_FROM)
    jobs[250] = _forge(jobs[250])
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 250
    assert all(child.proc.poll() is None for child in _idle(pool))


#: children that misbehave, each with its part then verified here: more bad indices
#: than it was sent; "one bad index", then its end before the index; one bad index it
#: was not sent (every part is believed only about its own items); no answer at all
_MISBEHAVING = {
    "nonsense": "import sys; sys.stdout.buffer.write(b'\\xff' * 4); sys.stdout.flush(); "
    "sys.stdin.read()",
    "half an answer": "import sys; sys.stdin.buffer.read(1); "
    "sys.stdout.buffer.write(b'\\x01\\0\\0\\0')",
    "an index not sent": "import struct, sys; sys.stdin.buffer.read(1); "
    "sys.stdout.buffer.write(struct.pack('<IQ', 1, 2**40)); sys.stdout.flush(); "
    "sys.stdin.read()",
    "silence": "import sys; sys.stdin.read()",
}


@pytest.mark.parametrize("script", _MISBEHAVING.values(), ids=_MISBEHAVING.keys())
def test_a_child_that_misbehaves_is_stopped_and_its_part_verified_here(
    pool: SignaturePool, monkeypatch: pytest.MonkeyPatch, script: str
) -> None:
    monkeypatch.setattr(sigpool, "child_command", lambda: [sys.executable, "-c", script])
    monkeypatch.setattr(sigpool, "ANSWER_WAIT", 0.5)
    for forged in (150, PROCESS_FROM - 1):
        jobs = _jobs(PROCESS_FROM)
        jobs[forged] = _forge(jobs[forged])
        bad = first_bad_signature(jobs)
        assert bad is not None and bad[0] == forged
        assert [i for i, s, k in jobs if not entry.verified_under(s, k)] == [forged]
        assert _idle(pool) == [] and pool._made == 0  # both stopped, new ones next time


def test_a_read_that_fails_loses_no_child_and_no_answer(
    pool: SignaturePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(fd: int, count: int, deadline: float) -> bytes | None:
        raise ValueError("filedescriptor out of range in select()")

    monkeypatch.setattr(sigpool, "read_exactly", failing)
    jobs = _jobs(PROCESS_FROM)
    jobs[8] = _forge(jobs[8])
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 8
    assert pool._made == 0  # both stopped, none left taken
    monkeypatch.undo()
    assert first_bad_signature(_jobs(PROCESS_FROM)) is None  # new children serve


def test_children_that_cannot_start_leave_it_to_the_threads(
    pool: SignaturePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sigpool, "child_command", lambda: ["/nonexistent/python"])
    jobs = _jobs(PROCESS_FROM)
    jobs[77] = _forge(jobs[77])
    bad = first_bad_signature(jobs)
    assert bad is not None and bad[0] == 77
    assert first_bad_signature(_jobs(PROCESS_FROM)) is None


def _idle(pool: SignaturePool) -> list[sigpool._Child]:
    """The pool's idle children (taken out and put back)."""
    children = []
    while not pool._idle.empty():
        children.append(pool._idle.get_nowait())
    for child in children:
        pool._idle.put(child)
    return children


_FORKED = """
import os, sys
from ledger.service import sigpool
from tests.integration.test_sigpool import PROCESS_FROM, _forge, _idle, _jobs

assert sigpool.first_bad_signature(_jobs(PROCESS_FROM)) is None
pool = sigpool._pool
parents = [child.proc.pid for child in _idle(pool)]
pid = os.fork()
if pid == 0:  # the copy: its own pool, the right answer, nothing of the parent's
    jobs = _jobs(PROCESS_FROM)
    jobs[9] = _forge(jobs[9])
    bad = sigpool.first_bad_signature(jobs)
    mine = [child.proc.pid for child in _idle(sigpool._pool)]
    ok = bad is not None and bad[0] == 9 and sigpool._pool is not pool
    sys.exit(0 if ok and mine and not set(mine) & set(parents) else 3)  # (finalizers run)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert [child.proc.pid for child in _idle(pool)] == parents
assert all(child.proc.poll() is None for child in _idle(pool)), "the copy stopped them"
assert sigpool.first_bad_signature(_jobs(PROCESS_FROM)) is None
print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")
def test_a_forked_copy_starts_its_own_children_and_leaves_the_parents_alone() -> None:
    # in a process of its own: a fork from this one (xdist's, with threads) could copy a
    # lock another thread holds
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _FORKED], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_a_caller_waiting_for_a_busy_child_goes_on_when_that_child_is_dropped() -> None:
    lone = SignaturePool(1)
    try:
        (busy,) = lone._take()  # another caller's, in use
        answers: list[list[int]] = []
        jobs = _jobs(4)
        items = [(p, k, *entry.signature_parts(s), s.sig) for p, s, k in jobs]
        waiting = threading.Thread(target=lambda: answers.append(lone.bad(items)), daemon=True)
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive()  # the one child is busy
        lone._drop(busy)  # it failed: dropped, never given back
        waiting.join(10)
        assert not waiting.is_alive() and answers == [[]]  # a new child answered
    finally:
        lone.close()
