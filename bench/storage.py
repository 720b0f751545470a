"""Figure 7: bytes on disk per custody entry, SQLite and PostgreSQL.

A log of ``5 x units`` custody entries (the base world, commissions, then two
handoff/receive hops per unit) appended through `Ledger.append_batch` in batches of
1,000. SQLite: the file size after ``VACUUM`` divided by the entries, and each table's
share (indexes included) from ``dbstat``. PostgreSQL: the sum of
``pg_total_relation_size`` over the tables, after ``VACUUM (ANALYZE)`` and after
``VACUUM FULL``. Baseline: the mean leaf size (the bytes the log must keep, as hashed;
the store keeps them packed, ledger.store.leafpack). Target: <= 700 bytes per entry.

The map of heads (``map_buckets``, issue 19 "Completeness proofs") is counted apart, as
issue 20 defines the figure: ``storage/<db>/map`` gives its bytes per entry (its own
target is in ``bench/mapheads.py``); the total is the log and its indexes.

The target figure is the whole database but the map, divided by the entries: a
fixed cost that no entry adds is in it. Every table and index of the schema takes a
page or more even when empty (PostgreSQL: a B-tree's meta page, a TOAST index, and
after ``VACUUM`` a 24 KiB free-space map for every table holding a row); a log of the
13 entries of the base world takes ~1.16 MB on PostgreSQL after ``VACUUM``, ~0.84 MB
after ``VACUUM FULL``, ~0.36 MB on SQLite, i.e. 232, 167 and 73 of the quick run's
bytes per entry (5,013 entries) and a quarter of that in the full run (20,013).
Detail figures (no target): ``storage/<db>/fixed-per-entry``, those bytes divided by
the entries of the run, and ``storage/<db>/growth-per-entry``, what each entry adds:
``(bytes - bytes of the log holding only the base world) / (entries - its entries)``,
both measured the same way in the same run. docs/PERFORMANCE.md "Storage, session 19"
says which is the target (the first: bytes per entry) and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench import streams
from bench.appends import append_all, open_ledger, open_targets
from bench.databases import SqliteTarget
from bench.figures import Figure, Run
from ledger.entry import SignedEvent
from ledger.service.ledger import Ledger

BYTES_TARGET = 700
DETAIL_FROM = 10.0  # tables and indexes below this many bytes per entry are not listed
MAP_TABLE = "map_buckets"  # counted apart (issue 20): the map has its own figure and target


def _without_map(total: int, parts: dict[str, int]) -> tuple[int, int]:
    """(total without the map, the map's bytes)."""
    mapped = sum(size for part, size in parts.items() if part.split("/")[0] == MAP_TABLE)
    return total - mapped, mapped


def _bytes_figures(
    prefix: str,
    measured: tuple[int, dict[str, int]],
    entries: int,
    leaf: float,
    empty: tuple[int, int],
) -> list[Figure]:
    total, mapped = _without_map(*measured)
    parts = measured[1]
    per_entry = total / entries
    growth = (total - empty[0]) / (entries - empty[1])
    out = [
        Figure.value_at_most(
            f"{prefix}/bytes-per-entry", per_entry, "bytes/entry", BYTES_TARGET, leaf
        ),
        Figure.info(f"{prefix}/fixed-per-entry", empty[0] / entries, "bytes/entry"),
        Figure.info(f"{prefix}/growth-per-entry", growth, "bytes/entry", leaf),
        Figure.info(f"{prefix}/map", mapped / entries, "bytes/entry"),
    ]
    print(
        f"  {prefix}: {total:,} bytes / {entries:,} entries = {per_entry:,.0f} bytes/entry"
        f" (map apart: {mapped / entries:,.1f}; each entry adds {growth:,.0f} beyond the"
        f" {empty[0]:,} bytes of a log of {empty[1]} entries, {empty[0] / entries:,.0f}"
        " of the figure)"
    )
    tables: dict[str, int] = {}
    for part, size in parts.items():
        tables[part.split("/")[0]] = tables.get(part.split("/")[0], 0) + size
    for table, size in sorted(tables.items(), key=lambda item: -item[1]):
        if size / entries < DETAIL_FROM or table == MAP_TABLE:
            continue
        out.append(Figure.info(f"{prefix}/table/{table}", size / entries, "bytes/entry"))
        print(f"    {table:<44} {size:>11,} bytes {size / entries:7.1f} bytes/entry")
        for part in sorted(p for p in parts if "/" in p and p.startswith(f"{table}/")):
            size = parts[part]
            if size / entries < DETAIL_FROM:
                continue
            out.append(Figure.info(f"{prefix}/index/{part}", size / entries, "bytes/entry"))
            print(f"      {part:<42} {size:>11,} bytes {size / entries:7.1f} bytes/entry")
    return out


def _measure(
    target: Any, base: Sequence[SignedEvent], events: Sequence[SignedEvent]
) -> list[Figure]:
    empty = _empty(target, base)
    url = target.fresh("storage")
    ledger = open_ledger(url, base)
    try:
        append_all(ledger, events, 1000)
        entries = ledger.head().size
        leaf = _mean_leaf(ledger, entries)
    finally:
        ledger.close()
    stored = target.average_leaf(url)
    print(f"  {target.name}: {entries:,} entries, mean leaf {leaf:.0f} bytes, stored {stored:.0f}")
    if isinstance(target, SqliteTarget):
        measured = target.storage(url)
        return _bytes_figures("storage/sqlite", measured, entries, leaf, empty["sqlite"])
    out = []
    for full, label in ((False, "vacuum"), (True, "vacuum-full")):
        measured = target.storage(url, full)
        out += _bytes_figures(f"storage/postgresql/{label}", measured, entries, leaf, empty[label])
    return out


def _empty(target: Any, base: Sequence[SignedEvent]) -> dict[str, tuple[int, int]]:
    """Bytes (map apart) and entries of a log holding only the base world, by the
    measurements `_measure` makes (its own fresh database, measured before the real one)."""
    url = target.fresh("storage-empty")
    ledger = open_ledger(url, base)
    try:
        entries = ledger.head().size
    finally:
        ledger.close()
    if isinstance(target, SqliteTarget):
        return {"sqlite": (_without_map(*target.storage(url))[0], entries)}
    return {
        label: (_without_map(*target.storage(url, full))[0], entries)
        for full, label in ((False, "vacuum"), (True, "vacuum-full"))
    }


def _mean_leaf(ledger: Ledger, size: int) -> float:
    """Mean length of the leaves as the log hashes them (not as stored)."""
    total = 0
    for start in range(0, size, 5000):
        total += sum(len(e.leaf) for e in ledger.entries(start, min(size, start + 5000)))
    return total / size


def figures(run: Run) -> list[Figure]:
    """Bytes per entry of a mixed custody log on every database."""
    base = streams.base_events(streams.base_world())
    events = streams.storage_stream(run.pick(1000, 4000))
    targets = open_targets(run)
    try:
        return [f for target in targets for f in _measure(target, base, events)]
    finally:
        for target in targets:
            target.close()
