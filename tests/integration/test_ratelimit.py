"""Rate limits on public endpoints: in memory by default, shared through Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from api.ratelimit import MemoryLimiter, RedisLimiter

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def test_memory_bucket_allows_the_burst_then_says_how_long_to_wait() -> None:
    async def run() -> list[int | None]:
        limiter = MemoryLimiter(rate=2.0, burst=3)
        return [await limiter.acquire("client-a") for _ in range(5)] + [
            await limiter.acquire("client-b")
        ]

    results = asyncio.run(run())
    assert results[:3] == [None, None, None]
    assert results[3] is not None and results[3] >= 1 and results[4] is not None
    assert results[5] is None  # per client


def test_memory_bucket_forgets_the_oldest_clients() -> None:
    async def run() -> int:
        limiter = MemoryLimiter(rate=1.0, burst=1, max_clients=10)
        for n in range(100):
            await limiter.acquire(f"c{n}")
        return len(limiter._buckets)

    assert asyncio.run(run()) == 10


def _redis_or_skip() -> None:
    try:
        import redis

        redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is unreachable ({e}); CI must run the Redis tests")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable ({e}); start one or set REDIS_URL")


def test_redis_limit_is_shared_between_limiters() -> None:
    _redis_or_skip()
    client = f"test-{uuid.uuid4().hex}"

    async def run() -> list[int | None]:
        first, second = (
            RedisLimiter(REDIS_URL, rate=1.0, burst=4),
            RedisLimiter(REDIS_URL, rate=1.0, burst=4),
        )
        try:
            # two "workers" spend one budget
            return [await (first if n % 2 else second).acquire(client) for n in range(6)]
        finally:
            await first.close()
            await second.close()

    results = asyncio.run(run())
    assert results[:4] == [None] * 4
    assert all(r is not None and r >= 1 for r in results[4:])


def _looks(limiter: MemoryLimiter | RedisLimiter, client: str) -> list[int | None]:
    """Looks and takes on a bucket of 2 tokens refilling at 1 a second, on a still clock:
    a look answers as a take would and takes nothing."""

    async def run() -> list[int | None]:
        try:
            out = [await limiter.look(client, 1) for _ in range(5)]  # 2 tokens: none taken
            out += [await limiter.look(client, 3)]  # more than there are
            out += [await limiter.acquire(client, 1), await limiter.look(client, 1)]  # 1 left
            out += [await limiter.acquire(client, 1), await limiter.look(client, 1)]  # empty
            await limiter.spend(client, 2)  # a debt of 2: 3 s until one token
            out += [await limiter.look(client, 1), await limiter.acquire(client, 1)]
            return out
        finally:
            await limiter.close()

    return asyncio.run(run())


#: what `_looks` answers, on either limiter
LOOKS = [None, None, None, None, None, 1, None, None, None, 1, 3, 3]


def test_a_memory_look_takes_nothing() -> None:
    limiter = MemoryLimiter(rate=1.0, burst=2, clock=lambda: 100.0)
    assert _looks(limiter, "client-a") == LOOKS


def test_a_redis_look_takes_nothing_and_writes_nothing() -> None:
    _redis_or_skip()
    import redis

    prefix = f"test-look-{uuid.uuid4().hex}"
    limiter = RedisLimiter(REDIS_URL, rate=1.0, burst=2, prefix=prefix, clock=lambda: 100.0)
    assert _looks(limiter, "client-a") == LOOKS
    unknown = RedisLimiter(REDIS_URL, rate=1.0, burst=2, prefix=prefix, clock=lambda: 100.0)

    async def look_at_a_stranger() -> int | None:
        try:
            return await unknown.look("client-b", 1)
        finally:
            await unknown.close()

    assert asyncio.run(look_at_a_stranger()) is None
    store = redis.from_url(REDIS_URL)
    try:
        assert store.exists(f"{prefix}:client-b") == 0  # a look leaves no key behind
    finally:
        store.delete(f"{prefix}:client-a")
        store.close()
