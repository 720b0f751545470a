"""Resolver views from memory (api.unitviews): a hit reads no database, counts stay
exact across flushes, an entry another process appends shows within a second, and a
label's signature is still judged on every view (forged ones are never kept).

On SQLite files: these are about the service's memory, not the dialect.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from api.app import create_app
from api.consumer import pagecache
from ledger import codec, label
from ledger.gs1 import UnitId
from ledger.label import ScannedLabel
from ledger.service.ledger import Ledger, Scan
from ledger.service.settings import Settings
from ledger.service.unitview import FINISHED
from ledger.service.viewcache import SIZE_TTL
from tests.factories import GTIN, key, tampered
from tests.integration.signals_world import SignalWorld


@pytest.fixture
def sw(tmp_path: Path) -> Iterator[SignalWorld]:
    world = SignalWorld.open(f"sqlite:///{tmp_path}/ledger.db")
    yield world
    world.ledger.close()


def settings() -> Settings:
    return Settings.from_env({"PROVENANCE_RATE": "100000", "PROVENANCE_BURST": "100000"})


def statements(ledger: Ledger) -> list[int]:
    """A counter of the SQL statements the ledger's engines run from now on."""
    counter = [0]
    for engine in {ledger.store.engines.reader, ledger.store.engines.writer}:

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_args: Any) -> None:
            counter[0] += 1

    return counter


def size_of(view: dict[str, Any]) -> int:
    return int(view["checkpoint"].split("\n")[1])


def minted(sw: SignalWorld) -> tuple[Any, datetime, str, ScannedLabel]:
    """SN-1 minted: the app's context, a time a minute ago, its label's signature and
    the label as scanned."""
    sw.mint("SN-1")
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    signed = label.sign_label(UnitId(gtin=GTIN, serial="SN-1"), key(2))
    return context, sw.clock.now - timedelta(minutes=1), signed, ScannedLabel(signature=signed)


def test_a_warm_view_reads_no_database_and_counts_every_scan_once(sw: SignalWorld) -> None:
    context, when, signed, scanned = minted(sw)

    async def main() -> None:
        first = await context.unit_view(GTIN, "SN-1", signed, scanned=scanned)
        assert first["verdict"] == "genuine" and first["scans"]["count"] == 0
        counter = statements(sw.ledger)
        for i in range(1, 41):
            context.scans.add(Scan(GTIN, "SN-1", when, "CN", "one-shopper", "x"))
            view = await context.unit_view(GTIN, "SN-1", signed, scanned=scanned)
            assert view["scans"]["count"] == i  # queued, counted once
            assert view["unit"]["label"] == "valid" and view["verdict"] == "genuine"
        assert counter[0] == 0  # forty views, no statement
        await context.flush_scans()  # stored: the memory's summary takes them over
        view = await context.unit_view(GTIN, "SN-1", signed, scanned=scanned)
        # a unit with few scans reads its stored signal facts again, once per flush
        assert view["scans"]["count"] == 40 and view["scans"]["first"] is not None
        flushed = counter[0]
        context.scans.add(Scan(GTIN, "SN-1", when, "CN", "one-shopper", "x"))
        view = await context.unit_view(GTIN, "SN-1", signed, scanned=scanned)
        assert view["scans"]["count"] == 41
        assert counter[0] == flushed  # from memory again

    asyncio.run(main())


def test_an_entry_another_process_appends_shows_within_a_second(
    sw: SignalWorld, tmp_path: Path
) -> None:
    sw.mint("SN-1")
    context = create_app(settings(), ledger=sw.ledger).state.ctx
    other = SignalWorld(
        Ledger.open(f"sqlite:///{tmp_path}/ledger.db", sw.ledger.config, clock=sw.clock),
        sw.clock,
    )

    async def main() -> None:
        before = size_of(await context.unit_view(GTIN, "SN-1", None))
        other.mint("SN-2")  # another process's append: this one is not told
        appended = time.monotonic()
        while True:
            view = await context.unit_view(GTIN, "SN-1", None)
            if size_of(view) > before:
                break
            assert time.monotonic() - appended < SIZE_TTL + 0.5
            await asyncio.sleep(0.05)
        assert view["verdict"] == "genuine"

    try:
        asyncio.run(main())
    finally:
        other.ledger.close()


def test_this_processs_append_shows_at_once(sw: SignalWorld) -> None:
    sw.mint("SN-1")
    context = create_app(settings(), ledger=sw.ledger).state.ctx

    async def main() -> None:
        before = size_of(await context.unit_view(GTIN, "SN-1", None))
        await context.unit_view(GTIN, "SN-1", None)  # warm
        sw.mint("SN-2")
        assert size_of(await context.unit_view(GTIN, "SN-1", None)) > before

    asyncio.run(main())


def test_forged_signatures_are_judged_every_time_and_never_kept(sw: SignalWorld) -> None:
    sw.mint("SN-1")
    good = label.sign_label(UnitId(gtin=GTIN, serial="SN-1"), key(2))
    assert sw.ledger.unit_view(GTIN, "SN-1", good)["unit"]["label"] == "valid"
    for i in range(50):
        forged = codec.b64url_encode(i.to_bytes(64, "big"))
        view = sw.ledger.unit_view(GTIN, "SN-1", forged)
        assert view["verdict"] == "invalid" and view["unit"]["label"] == "invalid"
    # the valid label's view is kept; a tampered copy of it is not the same label
    assert sw.ledger.unit_view(GTIN, "SN-1", good)["verdict"] == "genuine"
    assert sw.ledger.unit_view(GTIN, "SN-1", tampered(good))["verdict"] == "invalid"
    bases = list(sw.ledger._views._bases.values())
    assert bases and all(len(b.finished) <= FINISHED for b in bases)
    kept = {sig for b in bases for sig, _ in b.finished}
    assert kept == {good}


def test_a_warm_views_parts_are_the_objects_the_page_is_kept_by(sw: SignalWorld) -> None:
    """The consumer page finds a served view's cut page by the identity of its parts
    (api.consumer.pagecache): a view from memory has its shape, and every part but the
    scans is the same object from one view of the unit to the next."""
    context, when, signed, scanned = minted(sw)

    async def main() -> None:
        await context.unit_view(GTIN, "SN-1", signed, scanned=scanned)  # warm
        views = []
        for _ in range(4):  # a shopper's scans, each then viewed (signals worked out again)
            context.scans.add(Scan(GTIN, "SN-1", when, "CN", "one-shopper", "x"))
            views.append(await context.unit_view(GTIN, "SN-1", signed, scanned=scanned))
        for first, second in itertools.pairwise(views):
            assert tuple(first) == tuple(second) == pagecache._SHAPE
            assert second["scans"]["count"] == first["scans"]["count"] + 1
            assert [k for k in pagecache._SHAPE if first[k] is not second[k]] == ["scans"]

    asyncio.run(main())


def test_reasons_equal_but_written_otherwise_are_not_taken_for_the_kept_ones() -> None:
    """The judged reasons are kept as one object while worked out alike: alike in JSON,
    not merely equal (``1 == 1.0 == True``; dicts in another order)."""
    from ledger.service.signals import _same_json

    reasons = [{"code": "sold", "message": "m", "evidence": {"scans": 1, "places": 2}}]
    assert _same_json(
        reasons, [{"code": "sold", "message": "m", "evidence": {"scans": 1, "places": 2}}]
    )
    for other in (
        [{"code": "sold", "message": "m", "evidence": {"scans": 1.0, "places": 2}}],
        [{"code": "sold", "message": "m", "evidence": {"scans": True, "places": 2}}],
        [{"code": "sold", "message": "m", "evidence": {"places": 2, "scans": 1}}],
        [{"code": "sold", "message": "m", "evidence": {"scans": 1, "places": 3}}],
    ):
        assert not _same_json(reasons, other)
