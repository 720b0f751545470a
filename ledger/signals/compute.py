"""Clone signals: scans in, signals out (docs/SIGNALS.md, docs/ARCHITECTURE.md section 6).

Each signal has a stable code and the evidence a brand needs to act on it:

- ``post-claim-scans``: a claimed unit scanned, after its latest claim, by clients that
  are not its owner's (the owner's clients are recorded at claim time and whenever the
  owner's cookie comes back, so the owner rescanning at home is no signal);
- ``impossible-travel``: two consecutive scans of one unit from places whose country
  centroids are further apart than ``travel_min_km`` and than a traveller at
  ``travel_kmh`` could cover in the time between (two scans in one city, or one
  country, never fire);
- ``many-scanners``: more distinct clients within one day than one unit plausibly has
  (client hashes change daily, so a day is the natural window);
- ``serial-probing``: scans of serials that were never commissioned under a GTIN a brand
  registered, once ``probe_serials`` distinct invented serials were tried (one or two
  mistyped codes do not fire), aggregated per brand and GTIN.

Pure: times come in as arguments, no I/O, no clock.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.events import format_time
from ledger.shapes import SignalShape
from ledger.signals.places import country, distance_km
from ledger.vocab import SignalCode

POST_CLAIM, TRAVEL, SCANNERS, PROBING = (
    SignalCode.POST_CLAIM_SCANS,
    SignalCode.IMPOSSIBLE_TRAVEL,
    SignalCode.MANY_SCANNERS,
    SignalCode.SERIAL_PROBING,
)
CODES = (POST_CLAIM, TRAVEL, SCANNERS, PROBING)
_EVIDENCE_SCANS = 5  # scans quoted in a signal's evidence


@dataclass(frozen=True)
class ScanFact:
    """What a signal may know about one scan: when, a coarse place, a pseudonymous client."""

    at: datetime
    place: str | None
    client: str


@dataclass(frozen=True)
class Signal:
    """One clone signal: a stable code and its evidence (JSON-ready)."""

    code: SignalCode
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> SignalShape:
        """The signal as JSON-ready data."""
        return {"code": self.code, "evidence": self.evidence}


@dataclass(frozen=True)
class Thresholds:
    """When each signal fires (the server reads them from its settings)."""

    post_claim_clients: int = 1
    travel_kmh: int = 1000  # faster than an airliner's cruise over the ground
    travel_min_km: int = 500  # centroids are coarse: neighbouring countries never fire
    scanners_per_day: int = 10
    probe_serials: int = 5


def unit_signals(
    scans: Sequence[ScanFact],
    *,
    claimed_at: datetime | None,
    owners: Collection[str],
    thresholds: Thresholds = Thresholds(),
) -> list[Signal]:
    """Every signal the unit's scans (oldest first) raise, in `CODES` order."""
    found = [
        post_claim_scans(scans, claimed_at, owners, thresholds),
        impossible_travel(scans, thresholds),
        many_scanners(scans, thresholds),
    ]
    return [s for s in found if s is not None]


def post_claim_scans(
    scans: Sequence[ScanFact],
    claimed_at: datetime | None,
    owners: Collection[str],
    thresholds: Thresholds = Thresholds(),
) -> Signal | None:
    """Scans after the latest claim by clients that are not the owner's."""
    if claimed_at is None:
        return None
    others = [s for s in scans if s.at >= claimed_at and s.client not in owners]
    clients = {s.client for s in others}
    if len(clients) < thresholds.post_claim_clients:
        return None
    return Signal(
        POST_CLAIM,
        {
            "claimed_at": format_time(claimed_at),
            "scans": len(others),
            "clients": len(clients),
            "places": sorted({s.place for s in others if s.place}),
            "first": _scan(others[0]),
            "last": _scan(others[-1]),
        },
    )


def impossible_travel(
    scans: Sequence[ScanFact], thresholds: Thresholds = Thresholds()
) -> Signal | None:
    """The fastest implausible move between two consecutive placed scans, if any."""
    placed = [s for s in scans if country(s.place)]
    worst: tuple[float, ScanFact, ScanFact, float] | None = None
    for a, b in itertools.pairwise(placed):
        km = distance_km(a.place, b.place)
        if km is None or km < thresholds.travel_min_km:
            continue
        hours = max((b.at - a.at).total_seconds() / 3600, 1 / 60)  # a minute at least
        speed = km / hours
        if speed > thresholds.travel_kmh and (worst is None or speed > worst[0]):
            worst = (speed, a, b, km)
    if worst is None:
        return None
    speed, a, b, km = worst
    return Signal(
        TRAVEL,
        {
            "from": _scan(a),
            "to": _scan(b),
            "km": round(km),
            "minutes": round((b.at - a.at).total_seconds() / 60),
            "kmh": round(speed),
            "limit_kmh": thresholds.travel_kmh,
        },
    )


def many_scanners(
    scans: Sequence[ScanFact], thresholds: Thresholds = Thresholds()
) -> Signal | None:
    """More distinct clients within any 24 hours than ``scanners_per_day``."""
    best: tuple[int, int, int] | None = None  # (clients, start, end) indices
    start = 0
    # A sliding window with a count per client: linear in the scans, because the
    # resolver runs this on every view of a much-scanned unit.
    window: Counter[str] = Counter()
    for end, scan in enumerate(scans):
        window[scan.client] += 1
        while scan.at - scans[start].at > timedelta(days=1):
            gone = scans[start].client
            window[gone] -= 1
            if not window[gone]:
                del window[gone]
            start += 1
        clients = len(window)
        if clients > thresholds.scanners_per_day and (best is None or clients > best[0]):
            best = (clients, start, end)
    if best is None:
        return None
    clients, first, last = best
    return Signal(
        SCANNERS,
        {
            "clients": clients,
            "limit": thresholds.scanners_per_day,
            "from": format_time(scans[first].at),
            "to": format_time(scans[last].at),
            "places": sorted({s.place for s in scans[first : last + 1] if s.place}),
        },
    )


def serial_probing(
    unregistered: Sequence[dict[str, Any]], thresholds: Thresholds = Thresholds()
) -> list[Signal]:
    """One signal per GTIN under which ``probe_serials`` or more never-commissioned
    serials were scanned. ``unregistered``: ``{gtin, serial, scans, first, last}`` rows."""
    by_gtin: dict[str, list[dict[str, Any]]] = {}
    for row in unregistered:
        by_gtin.setdefault(row["gtin"], []).append(row)
    out = []
    for gtin, rows in sorted(by_gtin.items()):
        if len(rows) < thresholds.probe_serials:
            continue
        out.append(
            Signal(
                PROBING,
                {
                    "gtin": gtin,
                    "serials": len(rows),
                    "scans": sum(int(r["scans"]) for r in rows),
                    "first": min(r["first"] for r in rows),
                    "last": max(r["last"] for r in rows),
                    "examples": sorted(r["serial"] for r in rows)[:_EVIDENCE_SCANS],
                    "limit": thresholds.probe_serials,
                },
            )
        )
    return out


def _scan(scan: ScanFact) -> dict[str, Any]:
    return {"at": format_time(scan.at), "place": scan.place}
