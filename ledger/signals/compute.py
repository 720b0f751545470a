"""Clone signals: scans in, signals out (docs/SIGNALS.md, docs/ARCHITECTURE.md section 6).

Each signal has a stable code and the evidence a brand needs to act on it:

- ``post-claim-scans``: a claimed unit scanned, after its latest claim, by clients that
  are not its owner's (the owner's clients are recorded at claim time and whenever the
  owner's cookie comes back, so the owner rescanning at home is no signal);
- ``impossible-travel``: two consecutive scans of one unit from places whose country
  centroids are further apart than ``travel_min_km`` and than a traveller at
  ``travel_kmh`` could cover in the time between (two scans in one city, or one
  country, never fire). Only places from a trusted proxy's geolocation header count:
  a client's ``?place=`` hint is anyone's to type, so it is shown, never evidence;
- ``many-scanners``: more distinct scanners within one UTC day than one unit plausibly
  has (client and network pseudonyms change daily, so the day is the window: one
  network seen before and after midnight is never two scanners). A scanner is a network
  (IPv4 /24, IPv6 /48: addresses drawn from one network, and an IPv6 /64 alone holds
  2^64, are one scanner), or the client when its network is unknown. An owner cookie
  that is not an owner's (`OWNER_PREFIX`) names no client: every such scan counts as one
  client together (`UNPROVEN_OWNER`), so rotating invented cookies invents no one;
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
from datetime import date, datetime
from typing import Any, NamedTuple

from ledger.events import format_time
from ledger.shapes import SignalShape
from ledger.signals.places import HEADER, country, distance_km
from ledger.vocab import SignalCode

POST_CLAIM, TRAVEL, SCANNERS, PROBING = (
    SignalCode.POST_CLAIM_SCANS,
    SignalCode.IMPOSSIBLE_TRAVEL,
    SignalCode.MANY_SCANNERS,
    SignalCode.SERIAL_PROBING,
)
CODES = (POST_CLAIM, TRAVEL, SCANNERS, PROBING)
_EVIDENCE_SCANS = 5  # scans quoted in a signal's evidence
#: how a scan made with an owner cookie is recorded (ledger.service.claims.owner_client):
#: ``o`` + 31 hex; a daily client hash is 32 hex digits, so it never starts with ``o``
OWNER_PREFIX = "o"
#: the one client that every scan with an owner cookie of no known owner counts as
UNPROVEN_OWNER = "o?"


class ScanFact(NamedTuple):
    """What a signal may know about one scan: when, a coarse place and where that place
    came from (``source``: `places.HEADER`, a trusted proxy's geolocation header, or
    `places.HINT`, the client's own claim), a pseudonymous client.

    A named tuple, not a frozen dataclass: a busy unit's signals are worked out over
    up to a thousand of them a few times a second, and a frozen dataclass took three
    times as long to build."""

    at: datetime
    place: str | None
    client: str
    source: str | None = None
    network: str | None = None

    @property
    def scanner(self) -> str:
        """Who scanned, as many-scanners counts: the network, else the client."""
        return "n:" + self.network if self.network else "c:" + self.client

    @property
    def trusted_place(self) -> str | None:
        """The place if it is evidence (from the trusted header), else None."""
        return self.place if self.source == HEADER else None


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
    """Every signal the unit's scans (oldest first) raise, in `CODES` order.

    ``owners`` are the unit's owner clients; a scan under an owner pseudonym that is not
    among them (an invented or stale cookie) is counted as the one client
    `UNPROVEN_OWNER` (`credible_clients`)."""
    scans = credible_clients(scans, owners)
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
            "places": places_of(others),
            "first": _scan(others[0]),
            "last": _scan(others[-1]),
        },
    )


def impossible_travel(
    scans: Sequence[ScanFact], thresholds: Thresholds = Thresholds()
) -> Signal | None:
    """The fastest implausible move between two consecutive scans placed by the trusted
    geolocation header, if any. Hinted places (``?place=``) are never evidence."""
    placed = [s for s in scans if country(s.trusted_place)]
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
            "scans": len(placed),
            "clients": len({s.client for s in placed}),
        },
    )


def many_scanners(
    scans: Sequence[ScanFact], thresholds: Thresholds = Thresholds()
) -> Signal | None:
    """More distinct scanners (`ScanFact.scanner`: networks, else clients) within any 24
    hours of one UTC day than ``scanners_per_day``.

    The window never spans midnight: a scan's network and client pseudonyms are keyed
    with the day's salt, so one network seen on both sides of midnight bears two names,
    and a window across it would count six networks as twelve scanners."""
    best: tuple[int, int, int] | None = None  # (scanners, start, end) indices
    # Scans of one UTC day are less than 24 hours apart, so the window of any scan is
    # its day's scans up to it: the count grows only when a new scanner shows up, and
    # the best window is the first to reach the largest count. Linear in the scans:
    # the resolver runs this over a much-scanned unit's scans a few times a second.
    limit = thresholds.scanners_per_day
    day: date | None = None
    start = 0
    seen: set[str] = set()
    for end, scan in enumerate(scans):
        if scan.at.date() != day:  # another day's pseudonyms: a new window
            day, start, seen = scan.at.date(), end, set()
        scanner = scan.scanner
        if scanner not in seen:
            seen.add(scanner)
            if len(seen) > limit and (best is None or len(seen) > best[0]):
                best = (len(seen), start, end)
    if best is None:
        return None
    scanners, first, last = best
    window_scans = scans[first : last + 1]
    return Signal(
        SCANNERS,
        {
            "scanners": scanners,
            "clients": len({s.client for s in window_scans}),
            "networks": len({s.network for s in window_scans if s.network}),
            "limit": thresholds.scanners_per_day,
            "scans": len(window_scans),
            "from": format_time(scans[first].at),
            "to": format_time(scans[last].at),
            "unproven_owner_scans": sum(1 for s in window_scans if s.client == UNPROVEN_OWNER),
            "places": places_of(window_scans),
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


def credible_clients(scans: Sequence[ScanFact], owners: Collection[str]) -> list[ScanFact]:
    """``scans`` with every owner pseudonym that is not one of ``owners`` replaced by
    `UNPROVEN_OWNER`: a cookie proves ownership only when it hashes to an owner the
    log (or the claim's record) knows, so invented cookies cannot invent clients."""
    return [
        ScanFact(s.at, s.place, UNPROVEN_OWNER, s.source, s.network)
        if s.client.startswith(OWNER_PREFIX) and s.client not in owners
        else s
        for s in scans
    ]


def places_of(scans: Sequence[ScanFact]) -> list[dict[str, Any]]:
    """The distinct places of ``scans`` with their source and scan count, as evidence
    (``{place, source, scans}``, sorted): a brand sees which are the trusted header's
    and which only a client's hint."""
    counted = Counter((s.place, s.source or "hint") for s in scans if s.place)
    return [
        {"place": place, "source": source, "scans": n}
        for (place, source), n in sorted(counted.items())
    ]


def _scan(scan: ScanFact) -> dict[str, Any]:
    return {"at": format_time(scan.at), "place": scan.place, "source": scan.source}
