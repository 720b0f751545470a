"""api.quotagroup: concurrent takes of one bucket share one take when the bucket holds
their sum, are taken one by one (as before) when it does not, and all hear a failure."""

from __future__ import annotations

import asyncio

from api.quotagroup import TakeGroups, _settle
from ledger.errors import StorageError


class Bucket:
    """An in-memory bucket that records each take; ``slow`` makes the first take wait
    so that the others queue behind it."""

    def __init__(self, tokens: float) -> None:
        self.tokens = tokens
        self.calls: list[tuple[float, bool]] = []
        self.fail = False

    async def run(self, cost: float, force: bool) -> float:
        self.calls.append((cost, force))
        await asyncio.sleep(0.01 if len(self.calls) == 1 else 0)
        if self.fail:
            raise StorageError("database write failed; nothing was written: test")
        if force or self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return cost - self.tokens


async def _race(bucket: Bucket, costs: list[float], force: bool = False) -> list[object]:
    groups = TakeGroups()
    key = ("log", "acme")
    return await asyncio.gather(
        *(groups.take(key, c, force, bucket.run) for c in costs), return_exceptions=True
    )


def test_queued_takes_that_fit_go_as_one() -> None:
    bucket = Bucket(10)
    waits = asyncio.run(_race(bucket, [1, 1, 1, 1, 1]))
    assert waits == [0, 0, 0, 0, 0]
    assert bucket.calls == [(5, False)]  # queued together: one take
    assert bucket.tokens == 5


def test_takes_arriving_during_a_take_go_together_after_it() -> None:
    async def staggered(bucket: Bucket) -> list[float]:
        groups, key = TakeGroups(), ("log", "acme")
        first = asyncio.create_task(groups.take(key, 1, False, bucket.run))
        await asyncio.sleep(0.002)  # the first take is under way (it takes 10 ms)
        rest = [groups.take(key, 1, False, bucket.run) for _ in range(4)]
        return [await first, *await asyncio.gather(*rest)]

    bucket = Bucket(10)
    assert asyncio.run(staggered(bucket)) == [0, 0, 0, 0, 0]
    assert bucket.calls == [(1, False), (4, False)]


def test_takes_that_do_not_fit_together_are_judged_one_by_one() -> None:
    bucket = Bucket(3)
    waits = asyncio.run(_race(bucket, [1, 1, 1, 1, 1]))
    # together (5) they do not fit in 3: each on its own, in order, as before
    assert waits == [0, 0, 0, 1, 1]
    assert bucket.calls == [(5, False), (1, False), (1, False), (1, False), (1, False), (1, False)]
    assert bucket.tokens == 0


def test_forced_give_backs_merge_and_stay_forced() -> None:
    bucket = Bucket(0)
    waits = asyncio.run(_race(bucket, [-1, -1, -1], force=True))
    assert waits == [0, 0, 0] and bucket.tokens == 3
    assert bucket.calls == [(-3, True)]


def test_a_failed_take_fails_every_take_of_its_group() -> None:
    bucket = Bucket(10)
    bucket.fail = True
    outcomes = asyncio.run(_race(bucket, [1, 1, 1]))
    assert all(isinstance(o, StorageError) for o in outcomes)
    assert bucket.tokens == 10


def test_a_lone_take_is_one_call() -> None:
    bucket = Bucket(0)
    assert asyncio.run(_race(bucket, [2])) == [2]
    assert bucket.calls == [(2, False)]


def test_a_give_back_is_never_merged_with_takes() -> None:
    """Merged, a give-back would skip the clamp at the burst and over-grant (the review's
    L3): burst 10 with 8 left, a take of 10 and a give-back of 5 arriving together."""
    calls: list[float] = []

    async def run(cost: float, force: bool) -> float:
        calls.append(cost)
        return 0.0

    async def main() -> None:
        loop = asyncio.get_running_loop()
        group = [(10.0, False, loop.create_future()), (-5.0, True, loop.create_future())]
        await _settle(group, run)

    asyncio.run(main())
    assert calls == [10.0, -5.0]  # one by one, never 5.0 at once
