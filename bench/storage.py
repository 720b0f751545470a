"""Figure 7: bytes on disk per custody entry, SQLite and PostgreSQL.

A log of ``5 x units`` custody entries (the base world, commissions, then two
handoff/receive hops per unit) appended through `Ledger.append_batch` in batches of
1,000. SQLite: the file size after ``VACUUM`` divided by the entries, and each table's
share (indexes included) from ``dbstat``. PostgreSQL: the sum of
``pg_total_relation_size`` over the tables, after ``VACUUM (ANALYZE)`` and after
``VACUUM FULL``. Baseline: the mean leaf size (the bytes the log must keep). Target:
<= 700 bytes per entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench import streams
from bench.appends import append_all, open_ledger, open_targets
from bench.databases import SqliteTarget
from bench.figures import Figure, Run
from ledger.entry import SignedEvent

BYTES_TARGET = 700
DETAIL_FROM = 10.0  # tables and indexes below this many bytes per entry are not listed


def _bytes_figures(
    prefix: str, total: int, parts: dict[str, int], entries: int, leaf: float
) -> list[Figure]:
    per_entry = total / entries
    out = [
        Figure.value_at_most(
            f"{prefix}/bytes-per-entry", per_entry, "bytes/entry", BYTES_TARGET, leaf
        )
    ]
    print(f"  {prefix}: {total:,} bytes / {entries:,} entries = {per_entry:,.0f} bytes/entry")
    tables: dict[str, int] = {}
    for part, size in parts.items():
        tables[part.split("/")[0]] = tables.get(part.split("/")[0], 0) + size
    for table, size in sorted(tables.items(), key=lambda item: -item[1]):
        if size / entries < DETAIL_FROM:
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
    url = target.fresh("storage")
    ledger = open_ledger(url, base)
    try:
        append_all(ledger, events, 1000)
        entries = ledger.head().size
    finally:
        ledger.close()
    leaf = target.average_leaf(url)
    print(f"  {target.name}: {entries:,} entries, mean leaf {leaf:.0f} bytes")
    if isinstance(target, SqliteTarget):
        total, tables = target.storage(url)
        return _bytes_figures("storage/sqlite", total, tables, entries, leaf)
    out = []
    for full, label in ((False, "vacuum"), (True, "vacuum-full")):
        total, tables = target.storage(url, full)
        out += _bytes_figures(f"storage/postgresql/{label}", total, tables, entries, leaf)
    return out


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
