"""Per-client rate limits for the public endpoints (resolver, unit view).

`MemoryLimiter` is a token bucket per client in this process (the default);
`RedisLimiter` keeps the same budget in Redis (``REDIS_URL``) so several workers share
it, as a counter per client per window of ``burst / rate`` seconds. Both answer
`acquire(client)` with None (go ahead) or the seconds to wait (-> 429 + Retry-After).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Protocol


class Limiter(Protocol):
    """Anything that can say whether a client may make one more request."""

    async def acquire(self, client: str) -> int | None:
        """Return None if allowed, else the whole seconds to wait."""

    async def close(self) -> None:
        """Release resources."""


class MemoryLimiter:
    """Token buckets per client, at most ``max_clients`` remembered (LRU)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def acquire(self, client: str) -> int | None:
        """Take a token from ``client``'s bucket, or say how long until one is there."""
        now = time.monotonic()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))
        self._buckets[client] = (tokens - 1.0, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return None

    async def close(self) -> None:
        """Nothing to release."""


class RedisLimiter:
    """A shared budget: ``burst`` requests per client per window of ``burst/rate`` s."""

    def __init__(self, url: str, rate: float, burst: int) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.burst = burst
        self.window = max(1, math.ceil(burst / rate))

    async def acquire(self, client: str) -> int | None:
        """Count this request in the client's current window."""
        now = time.time()
        window = int(now // self.window)
        key = f"provenance:rl:{client}:{window}"
        async with self.client.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(key).expire(key, self.window * 2).execute()
        if int(count) > self.burst:
            return max(1, math.ceil((window + 1) * self.window - now))
        return None

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.client.aclose()


def make_limiter(rate: float, burst: int, redis_url: str | None) -> Limiter:
    """The Redis limiter when ``redis_url`` is set, else the in-memory one."""
    if redis_url:
        return RedisLimiter(redis_url, rate, burst)
    return MemoryLimiter(rate, burst)
