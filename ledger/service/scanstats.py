"""The console's scan analytics (docs/CONSOLE.md, "Scans"): scans per day, product, lot
and region, the regions where units were first scanned, and invented-serial probing
per GTIN, read from the aggregates ledger.store.scanstats keeps at every flush, so a
page costs a few GROUP BYs over them, whatever the number of scans.

A brand's staff pass their one brand; the operator's pass None (every brand, and the
probing of GTINs no product has). The caller decides which (ledger.service.console).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.errors import ValidationError
from ledger.service.ledger import Ledger
from ledger.store import ScanStatsStore

#: days a page covers unless asked, and at most
DEFAULT_DAYS, MAX_DAYS = 30, 366
#: rows of one table a page shows at most (the CSV has them all)
PAGE_ROWS = 100
#: the columns of one CSV row, in order
CSV_COLUMNS = ("brand", "day", "gtin", "lot", "region", "scans")


def check_days(value: str | None) -> int:
    """The number of days a request asks for (``None`` or ``""``: `DEFAULT_DAYS`).

    Raises:
        ValidationError: not a whole number from 1 to `MAX_DAYS`.
    """
    if not value:
        return DEFAULT_DAYS
    if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise ValidationError(f"days must be a whole number from 1 to {MAX_DAYS}", field="days")
    return int(value)


class ScanStatsService:
    """Reads of the scan aggregates of ``ledger``'s log."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._store = ScanStatsStore(ledger.store.engines)

    def since(self, days: int) -> str:
        """The first UTC day (``YYYY-MM-DD``) of a window of ``days`` ending today."""
        today = self._ledger.now().astimezone(UTC).date()
        return (today - timedelta(days=days - 1)).isoformat()

    def summary(self, brands: Sequence[str] | None, days: int) -> dict[str, Any]:
        """The analytics of ``brands`` (None: all) over the last ``days`` days:
        ``total``, ``per_day`` (every day of the window, zeros included), ``per_product``
        (with names), ``per_lot``, ``per_region``, ``first_regions`` (units by the region
        of their first scan, ever, with each row's share of the largest as ``level``
        1-5), ``probes`` (invented serials per GTIN), and ``truncated`` (tables cut at
        `PAGE_ROWS`). Brands with no staff-visible data give empty tables."""
        log, since = self._ledger.log, self.since(days)
        by_day = {r["day"]: int(r["scans"]) for r in self._store.daily(log, brands, since, ["day"])}
        first = datetime.fromisoformat(since).date()
        per_day = [
            {"day": d, "scans": by_day.get(d, 0)}
            for d in ((first + timedelta(days=i)).isoformat() for i in range(days))
        ]
        products = self._store.daily(log, brands, since, ["gtin"])
        lots = self._store.daily(log, brands, since, ["gtin", "lot"])
        regions = self._store.daily(log, brands, since, ["region"])
        firsts = self._store.first_regions(log, brands)
        probes = self._store.probes(log, brands, since)
        names = self._store.product_names(
            log, [r["gtin"] for r in products[:PAGE_ROWS]] + [r["gtin"] for r in probes[:PAGE_ROWS]]
        )
        top = max((int(r["units"]) for r in firsts), default=0)
        return {
            "since": since,
            "days": days,
            "total": sum(by_day.values()),
            "per_day": per_day,
            "per_product": [_named(r, names) for r in products[:PAGE_ROWS]],
            "per_lot": [_ints(r) for r in lots[:PAGE_ROWS]],
            "per_region": [_ints(r) for r in regions[:PAGE_ROWS]],
            "first_regions": [
                {**_ints(r), "country": r["region"].split("-", 1)[0], "level": _level(r, top)}
                for r in firsts[:PAGE_ROWS]
            ],
            "probes": [_named(r, names) for r in probes[:PAGE_ROWS]],
            "truncated": any(len(t) > PAGE_ROWS for t in (products, lots, regions, firsts, probes)),
        }

    def csv_rows(self, brands: Sequence[str] | None, days: int) -> Iterator[tuple[Any, ...]]:
        """Every aggregate row of ``brands`` (None: all) over the last ``days`` days, as
        `CSV_COLUMNS` tuples, by brand, day, GTIN, lot and region."""
        yield from self._store.csv_rows(self._ledger.log, brands, self.since(days))


def _ints(row: dict[str, Any]) -> dict[str, Any]:
    # a SUM comes back as Decimal from PostgreSQL
    return {k: int(v) if k in ("scans", "units", "serials", "days") else v for k, v in row.items()}


def _named(row: dict[str, Any], names: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    name, name_zh = names.get(row["gtin"], ("", None))
    return {**_ints(row), "name": name, "name_zh": name_zh or name}


def _level(row: dict[str, Any], top: int) -> int:
    """1 to 5: the row's units as a fifth of the largest region's (a choropleth class)."""
    return max(1, -(-5 * int(row["units"]) // top)) if top else 1
