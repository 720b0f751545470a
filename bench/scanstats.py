"""The console's scan analytics (issue 21): ``/console/scans`` and
``/console/export/scans.csv`` at 10^6 scans, against the console's sign-in page served
by the same app in the same run (the baseline: a console page that reads nothing).

The world: acme with 5 products of 400 units in 10 lots each (``--quick``: 100), rival
with one; 10^6 scans (``--quick``: 3 x 10^4) over 90 days and 40 regions, 5 % of them of invented serials,
written through ``Ledger.record_scans`` in batches of 2,000 (the flusher's batch), so
the aggregates are kept exactly as a server keeps them. Figures: the median of 15 GETs
of the page (the default 30 days, and 366 days) and of the CSV (30 days) as the brand's
admin, in process (ASGI, no socket). Target: the page under 200 ms (docs/PERFORMANCE.md).
And what keeping the aggregates costs the flush: `Ledger.record_scans` of 2,000-scan
batches with the aggregates over the same without them (`ledger.store.scanstats.record`
replaced by nothing), alternated twice on fresh databases, the best of each.

    .venv/bin/python -m bench.suite --only scanstats
    .venv/bin/python -m bench.suite --only scanstats --quick
"""

from __future__ import annotations

import os
import random
import re
import statistics
import tempfile
import time
from datetime import timedelta
from unittest import mock

import httpx

from api.app import create_app
from bench.figures import Figure, Run
from ledger import entry, gs1
from ledger.events import event_from_dict, format_time
from ledger.service.console import ConsoleService
from ledger.service.settings import Settings
from ledger.service.signals import Scan
from ledger.store import scanstats
from tests.e2e.inprocess import InProcessApp
from tests.factories import GTIN, key
from tests.integration.scanstats_world import build
from tests.integration.signals_world import SignalWorld

TARGET_MS = 200.0
BASE = "http://bench.test"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_REGIONS = ["CN-SH", "CN-GD", "CN-BJ", "CN-ZJ", "CN-JS", "CN-SC", "US", "DE", "JP", "GB",
            "FR", "KR", "SG", "AU", "CA", "IT", "ES", "NL", "BR", "IN", "unknown"]  # fmt: skip
_REGIONS += [f"CN-{c}" for c in ("HA", "HB", "HN", "SD", "FJ", "LN", "SN", "CQ", "TJ", "AH",
                                 "JX", "GX", "YN", "GZ", "HE", "SX", "NM", "HL", "JL")]  # fmt: skip


def _gtin(n: int) -> str:
    body = f"095060001{n:04d}"
    return body + str(gs1.gtin_check_digit(body))


def _commission(world: SignalWorld, units: list[tuple[str, str]]) -> None:
    """acme commissions ``units`` (lots L0-L9) in batches of 1,000: one append (and one
    durable commit) per event made setting up a world most of this group's time."""
    stamp = format_time(world.clock.now)
    signed = [
        entry.sign_event(
            event_from_dict(
                {"kind": "commission", "actor": "acme", "time": stamp, "prev": None,
                 "unit": {"gtin": gtin, "serial": serial}, "lot": f"L{n % 10}"}
            ),
            key(2),
            log=world.ledger.origin,
        )
        for n, (gtin, serial) in enumerate(units)
    ]  # fmt: skip
    for at in range(0, len(signed), 1000):
        world.ledger.append_batch(signed[at : at + 1000])


def _world(url: str, scans: int, per_product: int) -> tuple[SignalWorld, float]:
    """The world with ``scans`` scans recorded; the seconds the recording took."""
    world = SignalWorld.open(url)
    build(world)
    gtins = [GTIN] + [_gtin(n) for n in range(1, 5)]
    for g in gtins[1:]:
        world.sign(2, "product.register", "acme", gtin=g, name=f"Runner {g[-4:]}")
    units = [(g, f"B{n:05d}") for g in gtins for n in range(per_product)]
    _commission(world, units)
    rng = random.Random(21)
    start = world.clock.now - timedelta(days=89)
    began = time.perf_counter()
    for done in range(0, scans, 2000):
        at = start + timedelta(seconds=(89 * 86_400) * done // scans)
        batch = []
        for _ in range(min(2000, scans - done)):
            if rng.random() < 0.05:
                gtin, serial = rng.choice(gtins), f"FAKE{rng.randrange(10**6)}"
            else:
                gtin, serial = rng.choice(units)
            batch.append(Scan(gtin, serial, at, None, "c", "mobile", None, rng.choice(_REGIONS)))
        world.ledger.record_scans(batch)
    return world, time.perf_counter() - began


def _record_rate(tmp: str, count: int, aggregates: bool) -> float:
    """Scans a second `Ledger.record_scans` stores, with or without the aggregates."""
    world = SignalWorld.open(f"sqlite:///{tmp}/rate-{aggregates}-{time.monotonic_ns()}.db")
    build(world)
    _commission(world, [(GTIN, f"B{n}") for n in range(200)])
    rng = random.Random(5)
    batches = [
        [Scan(GTIN, f"B{rng.randrange(200)}" if rng.random() > 0.05 else f"F{rng.randrange(10**6)}",
              world.clock.now, None, "c", "mobile", None, rng.choice(_REGIONS)) for _ in range(2000)]
        for _ in range(count // 2000)
    ]  # fmt: skip
    off = mock.patch.object(scanstats, "record", lambda *_: None)
    with off if not aggregates else mock.MagicMock():
        began = time.perf_counter()
        for batch in batches:
            world.ledger.record_scans(batch)
        seconds = time.perf_counter() - began
    world.ledger.close()
    return count / seconds


def _median_ms(client: httpx.Client, path: str, times: int = 15) -> float:
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"scanstats: {path} answered {answer.status_code}")
    return statistics.median(samples)


def figures(run: Run) -> list[Figure]:
    """The scans page and CSV (median ms) at 10^6 scans, against the sign-in page."""
    count = run.pick(30_000, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-scanstats-") as tmp:
        rates: dict[bool, float] = {True: 0.0, False: 0.0}
        for aggregates in (False, True, False, True):
            rate = _record_rate(tmp, run.pick(10_000, 100_000), aggregates)
            rates[aggregates] = max(rates[aggregates], rate)
        world, seconds = _world(f"sqlite:///{tmp}/ledger.db", count, run.pick(100, 400))
        password = ConsoleService(world.ledger).staff.add_user("acme", "acme-admin", "admin")
        settings = Settings.from_env({**os.environ, "PROVENANCE_PUBLIC_URL": BASE})
        app = InProcessApp(create_app(settings, ledger=world.ledger), BASE).start()
        try:
            c = app.client("10.0.0.1", follow_redirects=False)
            token = _TOKEN.search(c.get("/console/login").text)
            assert token is not None
            form = {"username": "acme-admin", "password": password, "csrf_token": token.group(1)}
            assert c.post("/console/login", data=form, headers={"Origin": BASE}).status_code == 303
            baseline = _median_ms(c, "/console/login")
            page = _median_ms(c, "/console/scans")
            year = _median_ms(c, "/console/scans?days=366")
            csv_ms = _median_ms(c, "/console/export/scans.csv")
            rows = c.get("/console/export/scans.csv").text.count("\n") - 1
        finally:
            app.stop()
            world.ledger.close()
    print(
        f"  record_scans: {rates[True]:,.0f}/s with the aggregates, {rates[False]:,.0f}/s without"
    )
    print(f"  {count:,} scans recorded in {seconds:.1f} s ({count / seconds:,.0f}/s)")
    print(f"  sign-in page {baseline:.1f} ms; /console/scans {page:.1f} ms, 366 days {year:.1f} ms")
    print(f"  scans.csv (30 days, {rows:,} rows) {csv_ms:.1f} ms")
    name = f"scanstats/sqlite/{count}-scans"
    return [
        Figure.value_at_most(f"{name}/page-ms", page, "ms", TARGET_MS, baseline),
        Figure.value_at_most(f"{name}/page-366-days-ms", year, "ms", TARGET_MS, baseline),
        Figure.info(f"{name}/csv-ms", csv_ms, "ms", baseline),
        Figure.info(f"{name}/csv-rows", rows, "rows"),
        Figure.info(f"{name}/record-rate", count / seconds, "scans/s"),
        Figure.info(
            "scanstats/sqlite/record-with-aggregates", rates[True], "scans/s", rates[False]
        ),
    ]
