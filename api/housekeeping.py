"""The server's periodic jobs besides the scan flusher: salt purges, retention, and
re-dating a quiet log's latest checkpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from ledger.errors import StorageError
from ledger.service.dating import ROUND_SECONDS
from ledger.service.deployment import Deployment

#: the server deletes past days' scan salts this often (seconds) ...
SALT_PURGE_SECONDS = 60.0
#: ... and runs the whole retention job every this many purges (hourly)
RETENTION_EVERY = 60


async def retain(deployment: Deployment) -> dict[str, dict[str, int]]:
    """Run the retention job of every log now (ledger.service.retention); return
    each log's counts by kind.

    Raises:
        StorageError: a database failed.
    """
    done = {}
    for name, ledger in deployment.ledgers.items():
        report = await run_in_threadpool(ledger.retention.run)
        done[name] = report.to_dict()
    return done


async def retain_forever(
    deployment: Deployment,
    salt_interval: float = SALT_PURGE_SECONDS,
    every: int = RETENTION_EVERY,
    on_purge: Callable[[], None] | None = None,
) -> None:
    """Until cancelled: delete past days' salts every ``salt_interval`` seconds (so
    a day's salt is gone within that long after the day ends, even on a quiet
    server), and run the whole retention job every ``every`` of those rounds. A
    failed round is retried at the next one (a database may be briefly away).
    ``on_purge`` runs after each purge (the workers' in-memory client hashes)."""
    rounds = 0
    while True:
        await asyncio.sleep(salt_interval)
        rounds += 1
        try:
            await run_in_threadpool(deployment.default.salt.purge)
            if on_purge is not None:
                on_purge()  # on the event loop, where the in-memory hashes live
            if rounds % every == 0:
                await retain(deployment)
        except StorageError:
            continue


async def date_forever(deployment: Deployment, interval: float = ROUND_SECONDS) -> None:
    """Until cancelled: every ``interval`` seconds, re-date each log's latest checkpoint
    when it is due (ledger.service.dating), so a quiet log's served checkpoint stays
    within the clients' maximum age. A failed round is retried at the next one."""
    while True:
        for ledger in deployment.ledgers.values():
            try:
                await run_in_threadpool(ledger.dating.redate)
            except StorageError:
                continue
        await asyncio.sleep(interval)
