"""Token buckets per client: the public endpoints' rate limits and the write quotas.

`MemoryLimiter` keeps a token bucket per client in this process (the default);
`RedisLimiter` keeps the same bucket in Redis (``REDIS_URL``) so several workers share
it, updated by one Lua script (atomic: concurrent workers cannot both spend the last
token). Both answer `acquire(client, cost)` with None (go ahead: ``cost`` tokens taken) or
the whole seconds to wait (-> 429 + Retry-After), taking nothing then: a request costing
several tokens (a batch of events, api.quota) is admitted whole or not at all. `look`
answers the same and takes nothing (api.badsigs: is this client's bucket empty?). `spend`
takes tokens unconditionally (the bucket may go below zero: a debt that later requests
wait out), or gives them back when ``cost`` is negative.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

Clock = Callable[[], float]


class Limiter(Protocol):
    """Anything that can say whether a client may make one more request."""

    async def acquire(self, client: str, cost: int = 1) -> int | None:
        """Take ``cost`` tokens and return None, or take nothing and return the whole
        seconds until ``cost`` tokens are there."""

    async def look(self, client: str, cost: int = 1) -> int | None:
        """What `acquire` would answer now, taking nothing."""

    async def spend(self, client: str, cost: int) -> None:
        """Take ``cost`` tokens whatever the balance (negative ``cost``: give them back)."""

    async def close(self) -> None:
        """Release resources."""


def _wait(missing: float, rate: float) -> int:
    """Whole seconds (at least 1) until ``missing`` tokens have refilled at ``rate``/s."""
    return max(1, math.ceil(missing / rate))


class MemoryLimiter:
    """Token buckets per client, at most ``max_clients`` remembered (LRU).

    ``rate`` tokens per second refill a bucket of at most ``burst``; ``clock`` (seconds,
    monotonic) is injectable for tests. Each method runs without awaiting, so on one
    event loop a check and its spending are never interleaved with another request's.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _refilled(self, client: str) -> tuple[float, float]:
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        return min(float(self.burst), tokens + max(0.0, now - last) * self.rate), now

    def _store(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)

    async def acquire(self, client: str, cost: int = 1) -> int | None:
        """Take ``cost`` tokens from ``client``'s bucket, or say how long until they are there."""
        tokens, now = self._refilled(client)
        if tokens < cost:
            self._store(client, tokens, now)
            return _wait(cost - tokens, self.rate)
        self._store(client, tokens - cost, now)
        return None

    async def look(self, client: str, cost: int = 1) -> int | None:
        """None if ``client``'s bucket holds ``cost`` tokens, else the whole seconds until
        it will; nothing taken."""
        tokens, now = self._refilled(client)
        self._store(client, tokens, now)
        return None if tokens >= cost else _wait(cost - tokens, self.rate)

    async def spend(self, client: str, cost: int) -> None:
        """Take ``cost`` tokens (or give back a negative ``cost``), never above ``burst``."""
        tokens, now = self._refilled(client)
        self._store(client, min(float(self.burst), tokens - cost), now)

    async def close(self) -> None:
        """Nothing to release."""


#: KEYS[1] the bucket; ARGV: rate (tokens/s), burst, now (s), cost, mode (1: spend even
#: below zero; 2: only look, take nothing). Returns the seconds to wait as a string (0:
#: taken, or there to take). One script runs at a time in Redis, so the read, the decision
#: and the write are one atomic step.
_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local force, look = ARGV[5] == '1', ARGV[5] == '2'
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
if look then  -- nothing written: the refill is worked out from 'at' at every call
  if tokens >= cost then return '0' end
  return tostring((cost - tokens) / rate)
end
local wait = 0
if force or tokens >= cost then
  tokens = math.min(burst, tokens - cost)
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('EXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1)
return tostring(wait)
"""


#: `_BUCKET`'s modes
_TAKE, _FORCE, _LOOK = 0, 1, 2


class RedisLimiter:
    """The same token buckets, shared by every worker through Redis.

    ``prefix`` separates budgets (public requests, write quotas); ``clock`` (seconds,
    wall time: workers on different hosts must agree) is injectable for tests.
    """

    def __init__(
        self,
        url: str,
        rate: float,
        burst: int,
        prefix: str = "provenance:rl",
        clock: Clock = time.time,
    ) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.rate = rate
        self.burst = burst
        self.prefix = prefix
        self.clock = clock
        self._script = self.client.register_script(_BUCKET)

    async def _run(self, client: str, cost: int, mode: int) -> float:
        args = [self.rate, self.burst, self.clock(), cost, mode]
        wait = await self._script(keys=[f"{self.prefix}:{client}"], args=args)
        return float(wait)

    async def acquire(self, client: str, cost: int = 1) -> int | None:
        """Take ``cost`` tokens from the client's shared bucket, or say how long to wait."""
        wait = await self._run(client, cost, _TAKE)
        return _wait(wait, 1.0) if wait > 0 else None

    async def look(self, client: str, cost: int = 1) -> int | None:
        """What `acquire` would answer now, in one round trip, taking nothing."""
        wait = await self._run(client, cost, _LOOK)
        return _wait(wait, 1.0) if wait > 0 else None

    async def spend(self, client: str, cost: int) -> None:
        """Take ``cost`` tokens (or give back a negative ``cost``), never above ``burst``."""
        await self._run(client, cost, _FORCE)

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.client.aclose()


def make_limiter(
    rate: float,
    burst: int,
    redis_url: str | None,
    prefix: str = "provenance:rl",
    clock: Clock | None = None,
) -> Limiter:
    """The Redis limiter when ``redis_url`` is set, else the in-memory one."""
    if redis_url:
        return RedisLimiter(redis_url, rate, burst, prefix, clock or time.time)
    return MemoryLimiter(rate, burst, clock=clock or time.monotonic)
