"""The background worker of the console's webhooks (ledger.service.webhooks): every
`INTERVAL` seconds, new alerts become deliveries and the due ones are attempted, in a
worker thread so that a slow receiver (at most its timeouts) never blocks a request.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from ledger.errors import LedgerError
from ledger.service.webhooks import WebhookService

#: seconds between two looks
INTERVAL = 5.0
_log = logging.getLogger(__name__)


async def deliver_forever(service: WebhookService, interval: float = INTERVAL) -> None:
    """Until cancelled: `WebhookService.tick` every ``interval`` seconds. A failed tick
    (a database briefly away, or anything unforeseen) is logged and the next one tries
    again; a delivery's own failure is the delivery's, recorded on it, and never stops
    the worker."""
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(service.tick)
        except LedgerError as exc:
            _log.warning("webhook tick failed: %s", exc)
        except Exception:  # the worker outlives any one tick's fault
            _log.exception("webhook tick failed")
