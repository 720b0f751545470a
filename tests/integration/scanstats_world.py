"""A world for the scan aggregates' tests: acme (GTIN, lots L7 and L8, and no lot) and
rival (RIVAL_GTIN), scans in batches over several days and regions, invented serials of
both brands' GTINs and of a GTIN no product has; and `recount`, the aggregates computed
again from the raw scans, to compare with what the flushes kept."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import text

from ledger import gs1
from ledger.service.ledger import Ledger
from ledger.service.signals import Scan
from ledger.signals.places import HEADER, HINT, stored_place
from ledger.store.scanstats import row_region
from tests.factories import GTIN, public_b64
from tests.integration.signals_world import SignalWorld

RIVAL_GTIN = "0950600100000" + str(gs1.gtin_check_digit("0950600100000"))
STRAY_GTIN = "0950600900000" + str(gs1.gtin_check_digit("0950600900000"))
#: (serial, lot) of acme's units
ACME_UNITS = [("A-1", "L7"), ("A-2", "L7"), ("A-3", "L8"), ("A-4", None)]
RIVAL_UNITS = [("R-1", "R1"), ("R-2", "R1")]
REGIONS = ["CN-SH", "CN-GD", "DE", "US", "unknown"]


def build(world: SignalWorld) -> None:
    """Register rival and its product, commission the units."""
    world.sign(
        1, "actor.register", "operator", subject="rival", role="brand", name="Rival",
        keys=[public_b64(8)], prefixes=["9506001"],
    )  # fmt: skip
    world.sign(8, "product.register", "rival", gtin=RIVAL_GTIN, name="Rival Boot")
    for serial, lot in ACME_UNITS:
        lot_field = {"lot": lot} if lot else {}
        world.sign(
            2, "commission", "acme", unit={"gtin": GTIN, "serial": serial}, prev=None, **lot_field
        )
    for serial, lot in RIVAL_UNITS:
        world.sign(
            8,
            "commission",
            "rival",
            unit={"gtin": RIVAL_GTIN, "serial": serial},
            prev=None,
            lot=lot,
        )


def scan_batches(world: SignalWorld, seed: int, batches: int = 6) -> int:
    """Record ``batches`` batches of random scans (a day apart every other batch);
    return how many scans."""
    rng = random.Random(seed)
    targets = (
        [(GTIN, s) for s, _ in ACME_UNITS]
        + [(RIVAL_GTIN, s) for s, _ in RIVAL_UNITS]
        + [(GTIN, f"FAKE-{n}") for n in range(5)]
        + [(RIVAL_GTIN, "FAKE-R")]
        + [(STRAY_GTIN, f"X-{n}") for n in range(2)]
    )
    total = 0
    for b in range(batches):
        batch = []
        for _ in range(rng.randint(1, 40)):
            gtin, serial = rng.choice(targets)
            region = rng.choice([*REGIONS, None])
            place = None
            if region is None:  # a row as written before regions: its place counts
                place = stored_place(rng.choice(["JP", "CN-BJ"]), rng.choice([HEADER, HINT]))
            elif rng.random() < 0.3:
                place = stored_place(region, HINT)
            batch.append(
                Scan(
                    gtin,
                    serial,
                    world.clock.now,
                    place,
                    f"c{rng.randint(0, 9)}",
                    "mobile",
                    None,
                    region,
                )
            )
        world.ledger.record_scans(batch)
        total += len(batch)
        if b % 2:
            world.clock.advance(days=1)
    return total


def recount(ledger: Ledger) -> dict[str, dict[tuple[Any, ...], int]]:
    """The aggregates counted again from the scans table, the units and products."""
    with ledger.store.engines.reader.connect() as conn:
        scans = conn.execute(
            text("SELECT gtin, serial, at, place, region FROM scans WHERE log = :l ORDER BY id"),
            {"l": ledger.log},
        ).all()
        units = {
            (r.gtin, r.serial): (r.brand, r.lot or "")
            for r in conn.execute(
                text("SELECT gtin, serial, brand, lot FROM units WHERE log = :l"), {"l": ledger.log}
            )
        }
        products = dict(
            conn.execute(
                text("SELECT gtin, brand FROM products WHERE log = :l"), {"l": ledger.log}
            ).all()
        )
    daily: dict[tuple[Any, ...], int] = {}
    firsts: dict[tuple[Any, ...], int] = {}
    probes: dict[tuple[Any, ...], int] = {}
    first_seen: set[tuple[str, str]] = set()
    for s in scans:
        region, day = row_region(s.place, s.region), s.at[:10]
        unit = units.get((s.gtin, s.serial))
        if unit is not None:
            key = (unit[0], day, s.gtin, unit[1], region)
            daily[key] = daily.get(key, 0) + 1
            if (s.gtin, s.serial) not in first_seen:
                first_seen.add((s.gtin, s.serial))
                fk = (unit[0], s.gtin, region)
                firsts[fk] = firsts.get(fk, 0) + 1
        else:
            brand = products.get(s.gtin, "")
            pk = (brand, day, s.gtin, "scans")
            probes[pk] = probes.get(pk, 0) + 1
            if (s.gtin, s.serial) not in first_seen:
                first_seen.add((s.gtin, s.serial))
                sk = (brand, day, s.gtin, "serials")
                probes[sk] = probes.get(sk, 0) + 1
    return {"daily": daily, **_rolled(daily), "firsts": firsts, "probes": probes}


def _rolled(daily: dict[tuple[Any, ...], int]) -> dict[str, dict[tuple[Any, ...], int]]:
    """The daily counts summed over regions (``lots``) and over GTINs and lots."""
    lots: dict[tuple[Any, ...], int] = {}
    regions: dict[tuple[Any, ...], int] = {}
    for (brand, day, gtin, lot, region), n in daily.items():
        lots[(brand, day, gtin, lot)] = lots.get((brand, day, gtin, lot), 0) + n
        regions[(brand, day, region)] = regions.get((brand, day, region), 0) + n
    return {"lots": lots, "regions": regions}


def stored(ledger: Ledger) -> dict[str, dict[tuple[Any, ...], int]]:
    """The aggregates as the flushes kept them, in `recount`'s shape."""
    q = {"l": ledger.log}
    with ledger.store.engines.reader.connect() as conn:
        daily = {
            (r.brand, r.day, r.gtin, r.lot, r.region): int(r.scans)
            for r in conn.execute(text("SELECT * FROM scan_daily WHERE log = :l"), q)
        }
        lots = {
            (r.brand, r.day, r.gtin, r.lot): int(r.scans)
            for r in conn.execute(text("SELECT * FROM scan_daily_lots WHERE log = :l"), q)
        }
        regions = {
            (r.brand, r.day, r.region): int(r.scans)
            for r in conn.execute(text("SELECT * FROM scan_daily_regions WHERE log = :l"), q)
        }
        firsts = {
            (r.brand, r.gtin, r.region): int(r.units)
            for r in conn.execute(text("SELECT * FROM scan_first_regions WHERE log = :l"), q)
        }
        probes: dict[tuple[Any, ...], int] = {}
        for r in conn.execute(text("SELECT * FROM scan_probes WHERE log = :l"), q):
            probes[(r.brand, r.day, r.gtin, "scans")] = int(r.scans)
            if r.serials:
                probes[(r.brand, r.day, r.gtin, "serials")] = int(r.serials)
    return {"daily": daily, "lots": lots, "regions": regions, "firsts": firsts, "probes": probes}
