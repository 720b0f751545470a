"""A scan record (`Scan`: one resolver hit) and what clone signals may know of scans
and reports (ledger.signals.compute.ScanFact, ledger.signals.reports.ReportFact), made
from queued scans, from stored rows, or straight from a queue's own form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from ledger.events import format_time, parse_time
from ledger.signals.compute import ScanFact
from ledger.signals.places import read_place
from ledger.signals.reports import ReportFact
from ledger.store.scanstats import ScanRow as ScanRow  # the rows `Scan.to_row` makes


@dataclass(frozen=True, slots=True)
class Scan:
    """One resolver hit: which unit, when, a coarse place, a daily-salted client hash,
    the client's network as a per-unit pseudonym (None when unknown), and its region for
    the console's analytics (ledger.service.ipregions; None: recorded before regions)."""

    gtin: str
    serial: str
    at: datetime
    place: str | None
    client: str
    agent: str
    network: str | None = None
    region: str | None = None

    def to_row(self) -> ScanRow:
        """The scans-table row (`ledger.store.scanstats.ScanRow`)."""
        return (
            self.gtin,
            self.serial,
            format_time(self.at),
            self.place,
            self.client,
            self.agent,
            self.network,
            self.region,
        )


def pending_facts(pending: Sequence[Scan], key: tuple[str, str]) -> list[ScanFact]:
    """The facts of ``pending``'s scans of unit ``key``: from the sequence's own
    ``facts_of`` when it has one (api.scans: one unit's queued scans, made without
    unpacking each into a `Scan`), else from the scans."""
    facts_of = getattr(pending, "facts_of", None)
    found = None if facts_of is None else facts_of(*key)
    if found is not None:
        return cast(list[ScanFact], found)
    return scan_facts([p for p in pending if (p.gtin, p.serial) == key])


def by_time(fact: ScanFact) -> datetime:
    """A fact's time: the key facts are sorted by."""
    return fact.at


def scan_facts(scans: Sequence[Scan]) -> list[ScanFact]:
    """Scans as facts (what `row_facts` makes of their rows, without the text)."""
    facts = []
    for scan in scans:
        place, source = read_place(scan.place)
        facts.append(ScanFact(scan.at, place, scan.client, source, scan.network))
    return facts


def row_facts(rows: Sequence[dict[str, Any]]) -> list[ScanFact]:
    """Scans-table rows as facts, oldest first."""
    facts = []
    for r in rows:
        place, source = read_place(r["place"])  # a trusted header's place, or a hint
        facts.append(ScanFact(parse_time(r["at"]), place, r["client"], source, r.get("network")))
    return sorted(facts, key=by_time)


def report_facts(rows: Sequence[dict[str, Any]]) -> list[ReportFact]:
    """Open report rows as the facts ledger.signals.reports judges."""
    return [
        ReportFact(r["reason"], parse_time(r["created_at"]), r["client"], r.get("network"))
        for r in rows
    ]
