"""How the resolver's views of a busy unit are refreshed (api.unitviews,
ledger.service.signals): one database read for a crowd of views of a unit not in
memory, a busy unit's stored scans read again by age and not after every flush, the
exact stored scan summary read with scan writes held back, and a recall or a claim
shown on the very next view whatever the caches hold.

On SQLite files: these are about the service's memory, not the dialect.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.scanflush import HOLD_MAX
from ledger import codec, label
from ledger.gs1 import UnitId
from ledger.label import ScannedLabel
from ledger.service import signalcaches
from ledger.service.ledger import Scan
from ledger.service.settings import Settings
from ledger.store.signals import SignalStore
from tests.factories import GTIN, key
from tests.integration.signals_world import SignalWorld

#: more scans than `EXACT_SCANS`: the unit is judged over facts read by age
BUSY = signalcaches.EXACT_SCANS + 6


@pytest.fixture
def sw(tmp_path: Path) -> Iterator[SignalWorld]:
    world = SignalWorld.open(f"sqlite:///{tmp_path}/ledger.db")
    yield world
    world.ledger.close()


def settings() -> Settings:
    return Settings.from_env({"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"})


def database_views(sw: SignalWorld) -> list[int]:
    """A counter of the ledger's unit views read from the database (not from memory)."""
    counter = [0]
    real = sw.ledger.unit_view

    def counting(*args: Any, **kw: Any) -> Any:
        if kw.get("memory") is None:
            counter[0] += 1
        return real(*args, **kw)

    sw.ledger.unit_view = counting  # type: ignore[method-assign]
    return counter


def stored_scan_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the reads of a unit's stored scans (its signal facts)."""
    counter = [0]
    real = SignalStore.unit_scans

    def counting(self: SignalStore, *args: Any) -> Any:
        counter[0] += 1
        return real(self, *args)

    monkeypatch.setattr(SignalStore, "unit_scans", counting)
    return counter


def busy_unit(sw: SignalWorld, serial: str = "SN-1") -> None:
    sw.mint(serial)
    when = sw.clock.now - timedelta(hours=1)
    sw.ledger.record_scans(
        [Scan(GTIN, serial, when, "CN", f"c{i % 3}", "mobile") for i in range(BUSY)]
    )


def test_a_crowd_of_views_of_a_unit_not_in_memory_costs_one_read(sw: SignalWorld) -> None:
    sw.mint("SN-1")
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    good = label.sign_label(UnitId(gtin=GTIN, serial="SN-1"), key(2))
    forged = codec.b64url_encode(bytes(64))
    reads = database_views(sw)

    async def main() -> None:
        views = await asyncio.gather(
            *(
                context.unit_view(GTIN, "SN-1", sig, scanned=ScannedLabel(signature=sig))
                for sig in [good] * 30 + [forged] * 10
            )
        )
        assert reads[0] == 1  # one read, forty views
        # each view judged its own label on the one read's memory
        assert [v["unit"]["label"] for v in views] == ["valid"] * 30 + ["invalid"] * 10
        assert [v["verdict"] for v in views] == ["genuine"] * 30 + ["invalid"] * 10

    asyncio.run(main())


def test_a_crowd_arriving_during_a_stalled_write_costs_one_read(sw: SignalWorld) -> None:
    """The read's summary cannot be kept while a write is under way (it may commit
    any moment): the crowd waiting for it is served from that read all the same."""
    sw.mint("SN-1")
    sw.scan("SN-1", "CN", "a")  # one stored
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    real_write, release = context.flusher._write, threading.Event()

    def stalled(batch: list[Scan]) -> None:
        release.wait(10)
        real_write(batch)

    context.flusher._write = stalled
    reads = database_views(sw)

    async def main() -> None:
        for i in range(5):
            context.scans.add(Scan(GTIN, "SN-1", sw.clock.now, "CN", f"c{i}", "x"))
        flushing = asyncio.create_task(context.flush_scans())
        while not context.scans.writing:
            await asyncio.sleep(0.001)
        views = await asyncio.gather(*(context.unit_view(GTIN, "SN-1", None) for _ in range(20)))
        assert reads[0] == 1
        assert {v["scans"]["count"] for v in views} == {6}  # each scan once
        release.set()
        await flushing
        assert (await context.unit_view(GTIN, "SN-1", None))["scans"]["count"] == 6

    try:
        asyncio.run(main())
    finally:
        release.set()


def test_a_busy_units_stored_scans_are_read_by_age_not_after_each_flush(
    sw: SignalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_unit(sw)
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    reads = stored_scan_reads(monkeypatch)
    when = sw.clock.now - timedelta(minutes=1)
    # a loaded machine may take longer than the real FACTS_REREAD over these steps
    monkeypatch.setattr(signalcaches, "FACTS_REREAD", 60.0)
    monkeypatch.setattr(signalcaches, "FACTS_TTL", 120.0)

    async def main() -> None:
        await context.unit_view(GTIN, "SN-1", None)
        assert reads[0] == 1
        for i in range(3):
            context.scans.add(Scan(GTIN, "SN-1", when, "CN", "c0", "x"))
            await context.flush_scans()  # the stored count moves
            view = sw.ledger.unit_view(GTIN, "SN-1")  # a database view, as a refresh reads
            assert view["scans"]["count"] == BUSY + i + 1
        assert reads[0] == 1  # the facts read a moment ago serve
        monkeypatch.setattr(signalcaches, "FACTS_REREAD", 0.0)  # ... until they are old
        sw.ledger.unit_view(GTIN, "SN-1")
        assert reads[0] == 2

    asyncio.run(main())


def test_a_few_scans_unit_is_still_read_after_each_flush(
    sw: SignalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sw.mint("SN-1")
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    reads = stored_scan_reads(monkeypatch)
    when = sw.clock.now - timedelta(minutes=1)

    async def main() -> None:
        await context.unit_view(GTIN, "SN-1", None)
        for i in range(1, 4):
            context.scans.add(Scan(GTIN, "SN-1", when, "CN", "c0", "x"))
            await context.flush_scans()
            sw.ledger.unit_view(GTIN, "SN-1")
            assert reads[0] == 1 + i  # judged over exactly its stored scans

    asyncio.run(main())


def recall(sw: SignalWorld, serial: str) -> None:
    head = sw.ledger.state().units[(GTIN, serial)].head
    unit = {"gtin": GTIN, "serial": serial}
    sw.sign(2, "recall", "acme", unit=unit, prev=head, reason="faulty adhesive")


def test_a_recall_shows_on_the_next_view_of_a_busy_unit(
    sw: SignalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_unit(sw)
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    reads = stored_scan_reads(monkeypatch)

    async def main() -> None:
        for _ in range(3):  # warm: in memory, facts fresh
            assert (await context.unit_view(GTIN, "SN-1", None))["verdict"] == "genuine"
        while context.summaries.reading:  # no refresh of the old size under way
            await asyncio.sleep(0.01)
        before = reads[0]
        recall(sw, "SN-1")
        view = await context.unit_view(GTIN, "SN-1", None)
        assert view["verdict"] == "caution" and view["unit"]["recalled"] is True
        assert "recalled" in [r["code"] for r in view["reasons"]]
        # the log grew: its facts are read again at the new size, age or not
        assert reads[0] == before + 1
        assert "recalled" in sw.codes_of(sw.ledger.unit_view(GTIN, "SN-1"))

    asyncio.run(main())


def test_a_claim_shows_on_the_next_view_of_a_busy_unit(sw: SignalWorld) -> None:
    busy_unit(sw)
    context = create_app(settings(), ledger=sw.ledger).state.ctx

    async def main() -> None:
        for _ in range(3):
            view = await context.unit_view(GTIN, "SN-1", None)
            assert view["unit"]["claimed"] is False
        result = sw.ledger.claims.claim(GTIN, "SN-1", sw.codes["SN-1"], client="alice")
        view = await context.unit_view(GTIN, "SN-1", None, owner_token=result.owner_token)
        assert view["unit"]["claimed"] is True and view["owner"] is True
        someone = secrets.token_urlsafe(16)
        stranger = await context.unit_view(GTIN, "SN-1", None, owner_token=someone)
        assert stranger["owner"] is False

    asyncio.run(main())


def test_a_refresh_overlapping_a_write_keeps_every_count_exact(sw: SignalWorld) -> None:
    """Views while batches are written, one after another, each with a refresh under
    way: every scan counted once, whichever ends first."""
    busy_unit(sw)
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    when = sw.clock.now - timedelta(minutes=1)

    async def main() -> None:
        await context.unit_view(GTIN, "SN-1", None)
        flusher = asyncio.create_task(context.flush_forever(0.001))
        added = 0
        for _ in range(200):
            context.scans.add(Scan(GTIN, "SN-1", when, "CN", "c0", "x"))
            added += 1
            context.summaries._refreshed.clear()  # every view starts a refresh
            view = await context.unit_view(GTIN, "SN-1", None)
            assert view["scans"]["count"] == BUSY + added
            await asyncio.sleep(0)
        flusher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flusher
        while context.summaries.exacting or context.summaries.reading:
            await asyncio.sleep(0.01)
        await context.flush_scans()
        assert (await context.unit_view(GTIN, "SN-1", None))["scans"]["count"] == BUSY + added
        assert sw.ledger.scan_summary(GTIN, "SN-1")[0] == BUSY + added

    asyncio.run(main())


def test_a_paused_flusher_begins_no_write_until_resumed(sw: SignalWorld) -> None:
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    when = sw.clock.now - timedelta(minutes=1)

    async def main() -> None:
        context.scans.add(Scan(GTIN, "SN-1", when, "CN", "c0", "x"))
        async with context.flusher.paused():
            flushing = asyncio.create_task(context.flush_scans())
            await asyncio.sleep(0.05)
            assert not context.scans.writing and len(context.scans) == 1
        await flushing
        assert len(context.scans) == 0

    asyncio.run(main())


def test_readers_holding_writes_back_cannot_starve_them(sw: SignalWorld) -> None:
    """Holds one after another (many units' reads): a batch waits `HOLD_MAX` at most."""
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    when = sw.clock.now - timedelta(minutes=1)

    async def main() -> None:
        context.scans.add(Scan(GTIN, "SN-1", when, "CN", "c0", "x"))
        async with context.flusher.paused():
            began = time.monotonic()
            await asyncio.wait_for(context.flush_scans(), 5)
            assert time.monotonic() - began >= HOLD_MAX * 0.9
        assert len(context.scans) == 0

    asyncio.run(main())
