"""Scan aggregates of the console's analytics (docs/CONSOLE.md, "Scans"), kept in step
with the scans table: `record` runs in the transaction that stores a batch of scans
(ledger.store.repository.insert_scans), so an aggregate never counts a scan the table
lost nor misses one it kept. Created and back-filled by the migration ``0023_scanstats``.

- ``scan_daily``: scans of registered units per log, brand, UTC day, GTIN, lot, region
  (the CSV's rows), and the same summed over regions (``scan_daily_lots``) and over
  GTINs and lots (``scan_daily_regions``): what a page reads, a few rows a day however
  many regions, lots and products combine;
- ``scan_first_regions``: per log, brand, GTIN and region, how many units were first
  scanned there (each unit counted once, at its first scan; its region is also kept
  on its ``scan_counts`` row, ``first_region``);
- ``scan_probes``: scans of serials no unit has (invented serials: probing) per log,
  brand (the GTIN's product's, ``""`` when no product has the GTIN), UTC day and
  GTIN, with the distinct serials first seen that day;
- ``scan_probe_serials``: each invented serial once, what makes that count distinct.

No client address is kept: a scan's region is its place, else the offline table's
region of its address, computed before the scan is queued (ledger.service.ipregions).
The aggregates outlive the retention window that prunes the scans themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import BigInteger, Connection, ForeignKey, String, Table, and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import StorageError
from ledger.signals.places import read_place
from ledger.store.database import Engines
from ledger.store.schema import Base, ProductTable, ScanCountRow, UnitTable

#: a scans-table row as a flush writes it: (gtin, serial, at, place, client, agent,
#: network, region), the columns of ``scans`` after ``log`` (tuples: the flush makes
#: thousands a second, and reads each field by position)
ScanRow = tuple[str, str, str, str | None, str, str, str | None, str | None]

#: the region of a scan with neither a place nor a placeable address
UNKNOWN = "unknown"
_IN_CHUNK = 500  # serials in one IN list


class ScanDailyRow(Base):
    """Scans of registered units: per brand, UTC day, GTIN, lot (``""``: none), region."""

    __tablename__ = "scan_daily"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(20), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)


class ScanDailyLotRow(Base):
    """`ScanDailyRow` summed over regions."""

    __tablename__ = "scan_daily_lots"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(20), primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)


class ScanDailyRegionRow(Base):
    """`ScanDailyRow` summed over GTINs and lots."""

    __tablename__ = "scan_daily_regions"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)


class ScanFirstRegionRow(Base):
    """Units first scanned in a region: per brand, GTIN, region."""

    __tablename__ = "scan_first_regions"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger)


class ScanProbeRow(Base):
    """Scans of invented serials: per brand, UTC day, GTIN; and the distinct serials
    first seen that day."""

    __tablename__ = "scan_probes"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)
    serials: Mapped[int] = mapped_column(BigInteger)


class ScanProbeSerialRow(Base):
    """An invented serial, once: the day it was first scanned."""

    __tablename__ = "scan_probe_serials"
    log: Mapped[int] = mapped_column(ForeignKey("logs.id"), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    first_day: Mapped[str] = mapped_column(String(10))


DAILY = cast(Table, ScanDailyRow.__table__)
DAILY_LOTS = cast(Table, ScanDailyLotRow.__table__)
DAILY_REGIONS = cast(Table, ScanDailyRegionRow.__table__)
FIRSTS = cast(Table, ScanFirstRegionRow.__table__)
PROBES = cast(Table, ScanProbeRow.__table__)
PROBE_SERIALS = cast(Table, ScanProbeSerialRow.__table__)
_UNITS = cast(Table, UnitTable.__table__)
_PRODUCTS = cast(Table, ProductTable.__table__)
_COUNTS = cast(Table, ScanCountRow.__table__)


def row_region(place: str | None, region: str | None) -> str:
    """The region a stored scan counts under: its ``region``, else (a row written
    before regions) its place as recorded, else `UNKNOWN`."""
    if region:
        return region
    found, _ = read_place(place)
    return found or UNKNOWN


def record(conn: Connection, log: int, scans: Sequence[ScanRow], sqlite: bool) -> None:
    """Add a batch of scans-table rows (oldest first) to the aggregates, in the caller's
    transaction, before the batch's ``scan_counts`` upsert (a unit without a row there
    is scanned for the first time). Rows are written in key order, so two writers
    lock shared rows in the same order."""
    keys = {(s[0], s[1]) for s in scans}
    units = _units(conn, log, keys)
    seen = _counted(conn, log, keys)
    daily: dict[tuple[str, str, str, str, str], int] = {}
    firsts: dict[tuple[str, str, str], int] = {}
    probes: dict[tuple[str, str], int] = {}
    probed: dict[tuple[str, str], str] = {}
    for gtin, serial, at, place, _, _, _, region in scans:
        day = at[:10]
        # row_region's answer, without its call for a row that has its region
        region = region or row_region(place, None)
        unit = units.get((gtin, serial))
        if unit is not None:
            brand, lot = unit
            key = (brand, day, gtin, lot, region)
            daily[key] = daily.get(key, 0) + 1
            if (gtin, serial) not in seen:
                seen.add((gtin, serial))
                first = (brand, gtin, region)
                firsts[first] = firsts.get(first, 0) + 1
        else:
            probed.setdefault((gtin, serial), day)
            probes[(gtin, day)] = probes.get((gtin, day), 0) + 1
    brands = _product_brands(conn, log, {g for g, _ in probed})
    new_serials = _new_probe_serials(conn, log, probed)
    by_brand: dict[tuple[str, str, str], list[int]] = {}
    for (gtin, day), n in probes.items():
        by_brand.setdefault((brands.get(gtin, ""), day, gtin), [0, 0])[0] += n
    for (gtin, _), day in new_serials.items():
        by_brand.setdefault((brands.get(gtin, ""), day, gtin), [0, 0])[1] += 1
    ins = sqlite_insert if sqlite else pg_insert
    if daily:
        rows = [
            {"log": log, "brand": b, "day": d, "gtin": g, "lot": lot, "region": r, "scans": n}
            for (b, d, g, lot, r), n in sorted(daily.items())
        ]
        _add(conn, ins, DAILY, rows, ["log", "brand", "day", "gtin", "lot", "region"], ["scans"])
        lots: dict[tuple[str, str, str, str], int] = {}
        regions: dict[tuple[str, str, str], int] = {}
        for (b, d, g, lot, r), n in daily.items():
            lots[(b, d, g, lot)] = lots.get((b, d, g, lot), 0) + n
            regions[(b, d, r)] = regions.get((b, d, r), 0) + n
        rolled = [
            {"log": log, "brand": b, "day": d, "gtin": g, "lot": lot, "scans": n}
            for (b, d, g, lot), n in sorted(lots.items())
        ]
        _add(conn, ins, DAILY_LOTS, rolled, ["log", "brand", "day", "gtin", "lot"], ["scans"])
        rolled = [
            {"log": log, "brand": b, "day": d, "region": r, "scans": n}
            for (b, d, r), n in sorted(regions.items())
        ]
        _add(conn, ins, DAILY_REGIONS, rolled, ["log", "brand", "day", "region"], ["scans"])
    if firsts:
        rows = [
            {"log": log, "brand": b, "gtin": g, "region": r, "units": n}
            for (b, g, r), n in sorted(firsts.items())
        ]
        _add(conn, ins, FIRSTS, rows, ["log", "brand", "gtin", "region"], ["units"])
    if new_serials:
        conn.execute(
            PROBE_SERIALS.insert(),
            [
                {"log": log, "gtin": g, "serial": s, "first_day": d}
                for (g, s), d in sorted(new_serials.items())
            ],
        )
    if by_brand:
        rows = [
            {"log": log, "brand": b, "day": d, "gtin": g, "scans": n, "serials": k}
            for (b, d, g), (n, k) in sorted(by_brand.items())
        ]
        _add(conn, ins, PROBES, rows, ["log", "brand", "day", "gtin"], ["scans", "serials"])


def _add(
    conn: Connection, ins: Any, table: Table, rows: list[dict[str, Any]], keys: list[str],
    sums: list[str],
) -> None:  # fmt: skip
    """Insert ``rows``, adding their ``sums`` columns to rows that exist."""
    conn.execute(adding_upsert(ins is sqlite_insert, table, tuple(keys), tuple(sums)), rows)


@lru_cache(maxsize=64)
def adding_upsert(sqlite: bool, table: Table, keys: tuple[str, ...], sums: tuple[str, ...]) -> Any:
    """The statement that inserts rows into ``table`` and, for a row whose ``keys``
    exist, adds its ``sums`` columns to the stored ones (SQLite's or PostgreSQL's
    ``ON CONFLICT``). Built once per table: a flush runs four or five of them, and
    building one (its ``excluded`` columns) cost more than running it on a small batch."""
    upsert = (sqlite_insert if sqlite else pg_insert)(table)
    return upsert.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + upsert.excluded[c] for c in sums}
    )


def _by_gtin(keys: set[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for gtin, serial in keys:
        out.setdefault(gtin, []).append(serial)
    return out


def _chunks(serials: list[str]) -> list[list[str]]:
    ordered = sorted(serials)
    return [ordered[i : i + _IN_CHUNK] for i in range(0, len(ordered), _IN_CHUNK)]


def _units(
    conn: Connection, log: int, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(brand, lot or "") of each registered unit among ``keys``."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for gtin, serials in _by_gtin(keys).items():
        for chunk in _chunks(serials):
            query = select(_UNITS.c.serial, _UNITS.c.brand, _UNITS.c.lot).where(
                _UNITS.c.log == log, _UNITS.c.gtin == gtin, _UNITS.c.serial.in_(chunk)
            )
            for serial, brand, lot in conn.execute(query):
                out[(gtin, serial)] = (brand, lot or "")
    return out


def _counted(conn: Connection, log: int, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The units among ``keys`` already scanned (a ``scan_counts`` row)."""
    out: set[tuple[str, str]] = set()
    for gtin, serials in _by_gtin(keys).items():
        for chunk in _chunks(serials):
            query = select(_COUNTS.c.serial).where(
                _COUNTS.c.log == log, _COUNTS.c.gtin == gtin, _COUNTS.c.serial.in_(chunk)
            )
            out.update((gtin, s) for (s,) in conn.execute(query))
    return out


def _product_brands(conn: Connection, log: int, gtins: set[str]) -> dict[str, str]:
    if not gtins:
        return {}
    query = select(_PRODUCTS.c.gtin, _PRODUCTS.c.brand).where(
        _PRODUCTS.c.log == log, _PRODUCTS.c.gtin.in_(sorted(gtins))
    )
    return {g: b for g, b in conn.execute(query)}


def _new_probe_serials(
    conn: Connection, log: int, probed: dict[tuple[str, str], str]
) -> dict[tuple[str, str], str]:
    """The invented serials of ``probed`` not seen before, with their first day."""
    if not probed:
        return {}
    known: set[tuple[str, str]] = set()
    for gtin, serials in _by_gtin(set(probed)).items():
        for chunk in _chunks(serials):
            query = select(PROBE_SERIALS.c.serial).where(
                PROBE_SERIALS.c.log == log,
                PROBE_SERIALS.c.gtin == gtin,
                PROBE_SERIALS.c.serial.in_(chunk),
            )
            known.update((gtin, s) for (s,) in conn.execute(query))
    return {k: d for k, d in probed.items() if k not in known}


class ScanStatsStore:
    """Reads of the aggregates for the console: each a GROUP BY over the aggregate
    tables' primary keys, never over the scans."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def _rows(self, statement: Any) -> list[dict[str, Any]]:
        try:
            with self.engines.reader.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(statement)]
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the scan aggregates could not be read: {exc}") from exc

    def daily(
        self, log: int, brands: Sequence[str] | None, since: str, by: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Scans of registered units on days >= ``since`` of ``brands`` (None: every
        brand), summed by the columns ``by`` (of brand, day, gtin, lot, region),
        largest first; read from the smallest table that has those columns."""
        table = DAILY
        if "region" not in by:
            table = DAILY_LOTS
        elif not {"gtin", "lot"} & set(by):
            table = DAILY_REGIONS
        columns = [table.c[c] for c in by]
        total = func.sum(table.c.scans).label("scans")
        query = select(*columns, total).where(table.c.log == log, table.c.day >= since)
        if brands is not None:
            query = query.where(table.c.brand.in_(list(brands)))
        return self._rows(query.group_by(*columns).order_by(total.desc(), *columns))

    def csv_rows(
        self, log: int, brands: Sequence[str] | None, since: str
    ) -> list[tuple[str, str, str, str, str, int]]:
        """Every ``scan_daily`` row of ``brands`` (None: all) on days >= ``since``, as
        (brand, day, gtin, lot, region, scans), in key order (the table's own)."""
        query = select(
            DAILY.c.brand, DAILY.c.day, DAILY.c.gtin, DAILY.c.lot, DAILY.c.region, DAILY.c.scans
        ).where(DAILY.c.log == log, DAILY.c.day >= since)
        if brands is not None:
            query = query.where(DAILY.c.brand.in_(list(brands)))
        order = (DAILY.c.brand, DAILY.c.day, DAILY.c.gtin, DAILY.c.lot, DAILY.c.region)
        try:
            with self.engines.reader.connect() as conn:
                return [
                    (b, d, g, lot, r, int(n))
                    for b, d, g, lot, r, n in conn.execute(query.order_by(*order))
                ]
        except SQLAlchemyError as exc:  # pragma: no cover - a database fault
            raise StorageError(f"the scan aggregates could not be read: {exc}") from exc

    def first_regions(self, log: int, brands: Sequence[str] | None) -> list[dict[str, Any]]:
        """Units first scanned in each region, of ``brands`` (None: every brand)."""
        total = func.sum(FIRSTS.c.units).label("units")
        query = select(FIRSTS.c.region, total).where(FIRSTS.c.log == log)
        if brands is not None:
            query = query.where(FIRSTS.c.brand.in_(list(brands)))
        return self._rows(query.group_by(FIRSTS.c.region).order_by(total.desc(), FIRSTS.c.region))

    def probes(self, log: int, brands: Sequence[str] | None, since: str) -> list[dict[str, Any]]:
        """Invented-serial scans per brand and GTIN on days >= ``since``: scans, new
        distinct serials, days with any; most scans first."""
        scans = func.sum(PROBES.c.scans).label("scans")
        query = select(
            PROBES.c.brand,
            PROBES.c.gtin,
            scans,
            func.sum(PROBES.c.serials).label("serials"),
            func.count().label("days"),
        ).where(PROBES.c.log == log, PROBES.c.day >= since)
        if brands is not None:
            query = query.where(PROBES.c.brand.in_(list(brands)))
        grouped = query.group_by(PROBES.c.brand, PROBES.c.gtin)
        return self._rows(grouped.order_by(scans.desc(), PROBES.c.gtin))

    def product_names(self, log: int, gtins: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """(name, Chinese name) of each registered product among ``gtins``."""
        if not gtins:
            return {}
        query = select(_PRODUCTS.c.gtin, _PRODUCTS.c.name, _PRODUCTS.c.name_zh).where(
            and_(_PRODUCTS.c.log == log, _PRODUCTS.c.gtin.in_(sorted(set(gtins))))
        )
        return {r["gtin"]: (r["name"], r["name_zh"]) for r in self._rows(query)}
