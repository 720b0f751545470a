"""Concurrent write-quota takes of one database bucket, merged into one transaction.

A database bucket (ledger.store.quotas) is one row per (log, actor): every take is a
short write transaction with a durable commit, and takes of one actor queue on that
row (SQLite: on the database's one writer). With group commit
(ledger.service.groupcommit) gathering many single-event appends into one transaction,
one commit per request for the quota would be the ceiling again. So, in one worker, the
takes of a bucket that arrive while one of its takes is being written wait, and go
together as one take of their summed cost:

- granted whole (the bucket held the sum): each request is admitted, as it would have
  been one by one in some order;
- else each is taken on its own, in arrival order, exactly as before (so a request is
  never refused because of its neighbours, and never admitted past the bucket).

Give-backs and forced charges (negative or forced costs) merge the same way. Workers
still share one budget: every take is a transaction on the shared row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: takes ``(cost, force)`` from the bucket; returns the seconds to wait (0: taken)
Take = Callable[[float, bool], Awaitable[float]]


class TakeGroups:
    """Merges concurrent takes per bucket key (one per worker; asyncio, one loop)."""

    def __init__(self) -> None:
        self._queued: dict[tuple[str, str], list[tuple[float, bool, asyncio.Future[float]]]] = {}
        self._running: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def take(self, key: tuple[str, str], cost: float, force: bool, run: Take) -> float:
        """Take ``cost`` (``force``: even below zero) from bucket ``key`` with the others
        queued for it, through ``run``; return the seconds to wait (0: taken).

        Raises:
            StorageError: the database failed (for every take of the group).
        """
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(key, []).append((cost, force, done))
        if key not in self._running:
            self._running.add(key)
            task = asyncio.create_task(self._drain(key, run))
            self._tasks.add(task)  # kept until done: the loop holds tasks only weakly
            task.add_done_callback(self._tasks.discard)
        return await done

    async def _drain(self, key: tuple[str, str], run: Take) -> None:
        try:
            while self._queued.get(key):
                group = self._queued.pop(key)
                try:
                    waits = await _settle(group, run)
                except Exception as e:  # the database failed: every take hears it
                    for _, _, done in group:
                        if not done.done():
                            done.set_exception(e)
                    continue
                for (_, _, done), wait in zip(group, waits, strict=True):
                    if not done.done():
                        done.set_result(wait)
        finally:  # normally nothing is left; if cancelled (the loop stopping), drop it all
            self._running.discard(key)
            for _, _, done in self._queued.pop(key, []):
                done.cancel()


async def _settle(group: list[tuple[float, bool, asyncio.Future[float]]], run: Take) -> list[float]:
    # a give-back (a negative cost) merged with takes would skip the clamp at the burst
    # that applying it alone gets: merge only costs of one sign
    positive = [cost > 0 for cost, _, _ in group]
    if len(group) > 1 and (all(positive) or not any(positive)):
        total = sum(cost for cost, _, _ in group)
        if await run(total, all(force for _, force, _ in group)) == 0:
            return [0.0] * len(group)
    return [await run(cost, force) for cost, force, _ in group]
