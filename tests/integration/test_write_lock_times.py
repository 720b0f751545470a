"""A log's write transactions are timed where the lock is: the wait for the log's write
lock and its hold are each counted, on SQLite (BEGIN IMMEDIATE) and PostgreSQL (the
log's row, FOR UPDATE), for appends that land and for those refused, and ``/metrics``
shows them by log (docs/SCALING.md, "Is the log write-bound?")."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import httpx
import pytest

from api.app import create_app
from ledger.errors import LedgerError
from ledger.service.settings import Settings
from tests.factories import GTIN
from tests.integration.world import LedgerWorld

#: how long another writer holds the log's lock while an append waits for it (long
#: enough that the append's own signing and start, on a loaded machine, stay far below)
HOLD = 1.0


def _commission(world: LedgerWorld, serial: str) -> None:
    world.ledger.append_batch(
        [world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None)]
    )


def test_an_append_is_counted_with_its_hold(world: LedgerWorld) -> None:
    before = world.ledger.write_totals()
    _commission(world, "WT-1")
    after = world.ledger.write_totals()
    assert after.transactions >= before.transactions + 1
    assert after.held > before.held
    assert after.waited >= before.waited


def test_a_refused_append_is_counted_too(world: LedgerWorld) -> None:
    _commission(world, "WT-2")
    before = world.ledger.write_totals()
    with pytest.raises(LedgerError):  # the unit exists: refused, rolled back
        world.ledger.append_batch(
            [
                world.world.sign(
                    "commission", "ship-co", unit={"gtin": GTIN, "serial": "WT-2"}, prev=None
                )
            ]
        )
    after = world.ledger.write_totals()
    assert after.transactions >= before.transactions + 1
    assert after.held > before.held


def test_the_wait_for_another_writers_lock_is_counted_as_a_wait(world: LedgerWorld) -> None:
    ledger = world.ledger
    before = ledger.write_totals()
    locked = threading.Event()

    def hold() -> None:
        with ledger.store.writer(ledger.log) as tx:
            tx.lock_head()
            locked.set()
            time.sleep(HOLD)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    started = time.perf_counter()
    _commission(world, "WT-3")
    elapsed = time.perf_counter() - started
    holder.join()
    after = ledger.write_totals()
    waited, held = after.waited - before.waited, after.held - before.held
    assert after.transactions >= before.transactions + 2  # the holder's and the append's
    assert waited >= HOLD / 4  # the append waited for the holder
    assert held >= HOLD  # the holder held it that long
    # the append's wait is not in its hold: held grew by the holder's hold and the
    # append's own (at most its time less its wait), not by its wait as well
    assert held < HOLD + (elapsed - waited) + HOLD / 4


def test_metrics_show_each_logs_write_lock(world: LedgerWorld) -> None:
    _commission(world, "WT-4")
    settings = Settings.from_env({"PROVENANCE_METRICS_TOKEN": "t0ken-for-metrics"})
    app = create_app(settings, ledger=world.ledger)

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(
                "/metrics", headers={"Authorization": "Bearer t0ken-for-metrics"}
            )

    text = asyncio.run(main()).text
    totals = world.ledger.write_totals()
    found = {
        name: float(value)
        for name, value in re.findall(
            r'^(provenance_log_write_\w+)_total\{log="[^"]+"\} (\S+)$', text, re.M
        )
    }
    assert found["provenance_log_write_transactions"] == totals.transactions > 0
    assert found["provenance_log_write_lock_held_seconds"] == pytest.approx(totals.held)
    assert found["provenance_log_write_lock_wait_seconds"] == pytest.approx(totals.waited)
    assert found["provenance_log_write_lock_held_seconds"] > 0
