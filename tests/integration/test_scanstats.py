"""The console's scan aggregates (ledger.store.scanstats, ledger.service.scanstats):
what each flush adds equals a recount from the raw scans, whatever the batches; a brand
sees only its own; the summary and CSV rows read them. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.errors import ValidationError
from ledger.service.scanstats import MAX_DAYS, ScanStatsService, check_days
from tests.factories import GTIN
from tests.integration.scanstats_world import (
    RIVAL_GTIN,
    STRAY_GTIN,
    build,
    recount,
    scan_batches,
    stored,
)
from tests.integration.signals_world import SignalWorld


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    build(world)
    yield world
    world.ledger.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_aggregates_equal_a_recount_of_the_scans(sw: SignalWorld, seed: int) -> None:
    total = scan_batches(sw, seed)
    found, expected = stored(sw.ledger), recount(sw.ledger)
    assert found == expected
    counted = sum(expected["daily"].values()) + sum(
        n for k, n in expected["probes"].items() if k[3] == "scans"
    )
    assert counted == total  # every scan is in exactly one aggregate


def test_each_unit_counts_once_under_the_region_of_its_first_scan(sw: SignalWorld) -> None:
    from ledger.service.signals import Scan

    first = [Scan(GTIN, "A-1", sw.clock.now, None, "c", "mobile", None, "CN-SH")]
    sw.ledger.record_scans(first)
    sw.clock.advance(days=1)
    again = [Scan(GTIN, "A-1", sw.clock.now, None, "c", "mobile", None, "DE")] * 3
    sw.ledger.record_scans(again)
    firsts = stored(sw.ledger)["firsts"]
    assert firsts == {("acme", GTIN, "CN-SH"): 1}
    service = ScanStatsService(sw.ledger)
    summary = service.summary(["acme"], 7)
    assert summary["total"] == 4
    assert {r["region"]: r["scans"] for r in summary["per_region"]} == {"DE": 3, "CN-SH": 1}
    assert summary["first_regions"] == [
        {"region": "CN-SH", "units": 1, "country": "CN", "level": 5}
    ]


def test_a_brand_sees_only_its_own_scans_and_the_operator_all(sw: SignalWorld) -> None:
    scan_batches(sw, 7, batches=8)
    service = ScanStatsService(sw.ledger)
    acme = service.summary(["acme"], MAX_DAYS)
    rival = service.summary(["rival"], MAX_DAYS)
    every = service.summary(None, MAX_DAYS)
    assert {r["gtin"] for r in acme["per_product"]} <= {GTIN}
    assert {r["gtin"] for r in acme["probes"]} <= {GTIN}
    assert {r["gtin"] for r in rival["per_product"] + rival["probes"]} <= {RIVAL_GTIN}
    assert all(r["gtin"] == GTIN for r in acme["per_lot"])
    assert every["total"] == acme["total"] + rival["total"]
    # invented serials of a GTIN no product has: the operator's alone
    assert STRAY_GTIN in {r["gtin"] for r in every["probes"]}
    assert all(r["brand"] == "" for r in every["probes"] if r["gtin"] == STRAY_GTIN)
    rows = list(service.csv_rows(["acme"], MAX_DAYS))
    assert rows and {r[0] for r in rows} == {"acme"}
    assert sum(r[5] for r in rows) == acme["total"]
    assert list(service.csv_rows(["nobody"], MAX_DAYS)) == []


def test_the_window_counts_only_its_days(sw: SignalWorld) -> None:
    scan_batches(sw, 4, batches=10)  # five days
    service = ScanStatsService(sw.ledger)
    one = service.summary(None, 1)
    assert [d["day"] for d in one["per_day"]] == [sw.clock.now.date().isoformat()]
    every = service.summary(None, MAX_DAYS)
    assert len(every["per_day"]) == MAX_DAYS
    assert sum(d["scans"] for d in every["per_day"]) == every["total"]
    assert one["total"] <= every["total"]


@pytest.mark.parametrize("bad", ["0", "367", "-1", "7.5", "x", "1" * 30])
def test_a_window_must_be_1_to_366_days(bad: str) -> None:
    with pytest.raises(ValidationError):
        check_days(bad)
    assert check_days(None) == 30 and check_days("366") == 366
