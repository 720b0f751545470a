"""Write-quota charges taken by a group's leader (ledger.service.groupcommit, `Charge`):
taken before the group's transaction, merged per bucket when the sum fits, else one by
one in queue order; an event whose take is refused fails alone and is not written; the
charge of an event that does not land new is given back before its caller hears.

The groups are formed as in test_group_commit: a gate holds the first one's write.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ledger.entry import SignedEvent
from ledger.errors import SignatureError, StorageError
from ledger.service.append import BatchReceipt, GroupOutcome
from ledger.service.groupcharges import Charge
from ledger.service.groupcommit import GroupCommitter
from tests.integration.test_group_commit import _commission, _forged, _Gate, _outcome, pool
from tests.integration.world import LedgerWorld, dump

__all__ = ["pool"]  # the fixture, shared


class _OverError(Exception):
    """The refusal of a take the bucket could not pay."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"retry in {wait} s")
        self.wait = wait


class _Bucket:
    """A token bucket in memory that records every take (a refill rate of 1/s)."""

    def __init__(self, tokens: float, fails: bool = False) -> None:
        self.tokens = tokens
        self.fails = fails
        self.calls: list[tuple[float, bool]] = []

    def take(self, cost: float, force: bool) -> float:
        self.calls.append((cost, force))
        if self.fails:
            raise StorageError("cannot count the write quota; nothing was written: test")
        if force or self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return cost - self.tokens

    def charge(self) -> Charge:
        return Charge("bucket", 1, self.take, _OverError)


def _charged_group(
    groups: GroupCommitter,
    pool: ThreadPoolExecutor,
    first: tuple[SignedEvent, Charge | None],
    rest: list[tuple[SignedEvent, Charge | None]],
) -> tuple[Future[BatchReceipt], list[Future[BatchReceipt]], _Gate]:
    """Append ``first`` alone (held at the gate), queue ``rest`` behind it, release."""
    gate = _Gate(groups)
    lead = pool.submit(groups.append, *first)
    assert gate.entered.wait(10)
    others = [pool.submit(groups.append, *item) for item in rest]
    deadline = time.monotonic() + 10
    while groups.queued() < len(rest) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert groups.queued() == len(rest)
    gate.release.set()
    return lead, others, gate


def test_a_group_over_the_bucket_admits_in_order_and_refuses_the_rest_unwritten(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    start = ledger.head().size
    bucket = _Bucket(3)
    events = [_commission(world, f"CH-{n}") for n in range(5)]
    items = [(s, bucket.charge()) for s in events]
    lead, others, gate = _charged_group(ledger.groups, pool, items[0], items[1:])
    got = [_outcome(f) for f in [lead, *others]]
    # the lead alone (1 of 3); then 4 do not fit the 2 left: judged one by one, in order
    assert bucket.calls == [(1, False), (4, False), *[(1, False)] * 4]
    assert [isinstance(g, BatchReceipt) for g in got] == [True, True, True, False, False]
    assert all(isinstance(g, _OverError) and g.wait == 1 for g in got[3:])
    assert gate.sizes == [1, 2]  # the refused ones never reached the append
    assert bucket.tokens == 0
    assert ledger.head().size == start + 3
    assert ledger.audit().ok


def test_a_group_that_fits_takes_once(world: LedgerWorld, pool: ThreadPoolExecutor) -> None:
    bucket = _Bucket(10)
    items = [(_commission(world, f"FIT-{n}"), bucket.charge()) for n in range(4)]
    lead, others, gate = _charged_group(world.ledger.groups, pool, items[0], items[1:])
    assert all(isinstance(_outcome(f), BatchReceipt) for f in [lead, *others])
    assert bucket.calls == [(1, False), (3, False)] and bucket.tokens == 6
    assert gate.sizes == [1, 3]


def test_what_does_not_land_new_is_given_back_before_the_answer(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    bucket = _Bucket(10)
    old = _commission(world, "BACK-OLD")
    ledger.append(old)  # in the log already: appended again, a duplicate
    good = _commission(world, "BACK-NEW")
    forged = _forged(_commission(world, "BACK-FORGED"))
    seen: list[float] = []

    def answered(signed: SignedEvent) -> BatchReceipt | BaseException:
        outcome = _outcome(pool.submit(ledger.groups.append, signed, bucket.charge()))
        seen.append(bucket.tokens)  # the give-back already happened
        return outcome

    lead, others, _ = _charged_group(
        ledger.groups,
        pool,
        (_commission(world, "BACK-LEAD"), None),
        [(s, bucket.charge()) for s in (good, old, forged)],
    )
    got = [_outcome(f) for f in others]
    assert isinstance(got[0], BatchReceipt) and not got[0].receipts[0].duplicate
    assert isinstance(got[1], BatchReceipt) and got[1].receipts[0].duplicate
    assert isinstance(got[2], SignatureError)
    # three taken at once, the duplicate's and the forged one's given back at once
    assert bucket.calls == [(3, False), (-2, True)] and bucket.tokens == 9
    assert isinstance(answered(_forged(_commission(world, "BACK-2"))), SignatureError)
    assert seen == [9]
    assert lead.result(30).size > 0


def test_a_failed_group_gives_every_charge_back(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    before = dump(ledger)
    bucket = _Bucket(10)
    inner = ledger.groups._appender.append_each

    def fails(items: Any) -> GroupOutcome:
        raise StorageError("database write failed; nothing was written: test")

    ledger.groups._appender.append_each = fails  # type: ignore[method-assign]
    try:
        got = _outcome(
            pool.submit(ledger.groups.append, _commission(world, "F-1"), bucket.charge())
        )
    finally:
        ledger.groups._appender.append_each = inner  # type: ignore[method-assign]
    assert isinstance(got, StorageError)
    assert bucket.calls == [(1, False), (-1, True)] and bucket.tokens == 10
    assert dump(ledger) == before


def test_a_take_that_fails_fails_its_events_unwritten(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    start = ledger.head().size
    broken, fine = _Bucket(10, fails=True), _Bucket(10)
    lead, others, gate = _charged_group(
        ledger.groups,
        pool,
        (_commission(world, "TF-LEAD"), None),
        [
            (_commission(world, "TF-1"), broken.charge()),
            (_commission(world, "TF-2"), Charge("other", 1, fine.take, _OverError)),
        ],
    )
    got = [_outcome(f) for f in others]
    assert isinstance(got[0], StorageError)  # its bucket's take failed: not written
    assert isinstance(got[1], BatchReceipt)  # another bucket's event lands
    assert gate.sizes == [1, 1] and fine.tokens == 9
    assert isinstance(lead.result(30), BatchReceipt)
    assert ledger.head().size == start + 2
