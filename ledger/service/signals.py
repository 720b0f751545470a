"""Clone signals on the unit view and in a brand's alerts, and the scans they read.

`SignalService.judge` takes the log-based unit view (cached by log size) and adds
what lives outside the log: the unit's clone signals (ledger.signals.compute over its recent
scans), its open consumer reports, and whether the viewer is its owner. `alerts` is the
brand's triage queue: the signals of the brand's recently scanned units, the probing of
its GTINs with invented serials, and its consumer reports with their response times.
`prune_scans` applies the scan retention.
"""

from __future__ import annotations

import statistics
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger import gs1
from ledger.entry import Leaf
from ledger.events import Claim, format_time, parse_time
from ledger.service.claims import owner_client, owner_hash
from ledger.service.policies import SignalPolicy
from ledger.service.unitview import NotInMemoryError
from ledger.shapes import ReasonShape, ResponseSummaryShape, UnitAlertShape
from ledger.signals.compute import ScanFact, Signal, serial_probing, unit_signals
from ledger.signals.places import read_place
from ledger.signals.reports import ReportFact, ReportFinding, corroborated
from ledger.store import SignalStore, Store
from ledger.verify.verdict import INVALID, UNKNOWN, Reason, with_signals
from ledger.vocab import ReportStatus

#: units whose signals an alerts listing computes at most
ALERT_UNITS = 200
#: how long a fired probing signal is reused for unknown units' views
PROBING_TTL = timedelta(minutes=5)
#: how long a quiet probing answer is reused at most (scans other processes record)
QUIET_TTL = timedelta(seconds=30)
#: how long a unit's stored facts are reused at most (reports other processes change)
FACTS_TTL = 2.0
#: a unit's signals are computed over every change of its queued scans while it has
#: at most this many scans (stored and queued) ...
EXACT_SCANS = 64
#: ... and past that at most this often (seconds): a hot unit's view costs no O(scans) work
SIGNALS_TTL = 0.25


@dataclass(frozen=True, slots=True)
class Scan:
    """One resolver hit: which unit, when, a coarse place, a daily-salted client hash, and
    the client's network as a per-unit pseudonym (None when unknown)."""

    gtin: str
    serial: str
    at: datetime
    place: str | None
    client: str
    agent: str
    network: str | None = None

    def to_row(self) -> dict[str, Any]:
        """The scans-table row."""
        return {
            "gtin": self.gtin,
            "serial": self.serial,
            "at": format_time(self.at),
            "place": self.place,
            "client": self.client,
            "agent": self.agent,
            "network": self.network,
        }


@dataclass(frozen=True)
class Probe:
    """What the probing aggregate found for one GTIN, and when (`ProbingCache`):
    the signals it fired, and, when none fired, the never-commissioned serials it
    counted (``serials``; None: the GTIN is no registered product's)."""

    at: datetime
    signals: list[Signal]
    serials: frozenset[str] | None


class ProbingCache:
    """The probing aggregate's last answer by GTIN (`SignalService._probing_of`), at
    most ``capacity`` GTINs (least recently used first out).

    Owned by the `Ledger` and shared by the services of its per-request copies
    (`Ledger.reading`), so that it outlives a request. A fired signal is kept for
    `PROBING_TTL`; a quiet answer until this process records a scan of a serial it
    did not count and no unit has (`SignalService.scans_recorded`), or `QUIET_TTL`
    (scans that other processes record).
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._probes: OrderedDict[str, Probe] = OrderedDict()

    def get(self, gtin: str, now: datetime) -> Probe | None:
        """The GTIN's answer if still fresh at ``now``."""
        probe = self._probes.get(gtin)
        if probe is None:
            return None
        ttl = PROBING_TTL if probe.signals else QUIET_TTL
        if now - probe.at >= ttl:
            del self._probes[gtin]
            return None
        self._probes.move_to_end(gtin)
        return probe

    def put(self, gtin: str, probe: Probe) -> None:
        """Keep ``probe`` as the GTIN's answer."""
        self._probes[gtin] = probe
        self._probes.move_to_end(gtin)
        while len(self._probes) > self.capacity:
            self._probes.popitem(last=False)

    def quiet(self, gtin: str) -> Probe | None:
        """The GTIN's answer if it fired nothing (whatever its age)."""
        probe = self._probes.get(gtin)
        return probe if probe is not None and not probe.signals else None

    def drop(self, gtin: str) -> None:
        """Forget the GTIN's answer."""
        self._probes.pop(gtin, None)


@dataclass(frozen=True)
class StoredFacts:
    """What a unit's signals read from the database, at one log size and stored scan
    count (`FactsCache`): its recent stored scans as facts, its recorded owner
    clients, its open reports as facts."""

    at: float
    scans: list[ScanFact]
    owners: frozenset[str]
    reports: list[ReportFact]
    nbytes: int


class FactsCache:
    """`StoredFacts` by (gtin, serial, log size, stored scan count), at most
    ``max_bytes`` of them (estimated; least recently used first out).

    A unit's stored scans change only when the flusher stores scans (its count moves),
    its owners only with a claim (the log grows); its open reports are kept at most
    `FACTS_TTL` (a report filed or answered here drops them at once, `forget`).
    Owned by the `Ledger`, shared by its per-request copies.
    """

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._facts: OrderedDict[tuple[str, str, int, int], StoredFacts] = OrderedDict()
        self._keys: dict[tuple[str, str], tuple[str, str, int, int]] = {}

    def get(self, key: tuple[str, str, int, int]) -> StoredFacts | None:
        """The facts at ``key`` if younger than `FACTS_TTL`."""
        found = self._facts.get(key)
        if found is None or time.monotonic() - found.at >= FACTS_TTL:
            return None
        self._facts.move_to_end(key)
        return found

    def latest(self, gtin: str, serial: str) -> StoredFacts | None:
        """The unit's facts younger than `FACTS_TTL`, whatever log size and stored scan
        count they were read at (memory-only views: scans stored since are missing from
        them for at most that long)."""
        key = self._keys.get((gtin, serial))
        return None if key is None else self.get(key)

    def put(self, key: tuple[str, str, int, int], facts: StoredFacts) -> None:
        """Keep ``facts`` as the unit's, replacing what it had."""
        self.forget(key[0], key[1])
        self._facts[key] = facts
        self._keys[(key[0], key[1])] = key
        self.nbytes += facts.nbytes
        while self.nbytes > self.max_bytes and self._facts:
            old, dropped = self._facts.popitem(last=False)
            self._keys.pop((old[0], old[1]), None)
            self.nbytes -= dropped.nbytes

    def clear(self) -> None:
        """Drop every unit's facts."""
        self._facts.clear()
        self._keys.clear()
        self.nbytes = 0

    def forget(self, gtin: str, serial: str) -> None:
        """Drop the unit's facts (a report about it was filed or answered)."""
        key = self._keys.pop((gtin, serial), None)
        if key is not None:
            self.nbytes -= self._facts.pop(key).nbytes


#: a unit's clone signals and its open reports' finding
Answer = tuple[list[Signal], ReportFinding | None]


class SignalsCache:
    """A unit's last computed signals and report finding, with the `StoredFacts` and
    the number of queued scans they were computed over, at most ``capacity`` units
    (least recently used first out; a few hundred bytes each). Owned by the `Ledger`."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._found: OrderedDict[tuple[str, str], tuple[StoredFacts, int, float, Answer]] = (
            OrderedDict()
        )

    def get(self, key: tuple[str, str], stored: StoredFacts, queued: int) -> Answer | None:
        """The answer computed over ``stored`` and ``queued`` queued scans, or (more
        than `EXACT_SCANS` in all) over ``stored`` within `SIGNALS_TTL`; else None."""
        found = self._found.get(key)
        if found is None or found[0] is not stored:
            return None
        few = queued + len(stored.scans) <= EXACT_SCANS
        if found[1] != queued and (few or time.monotonic() - found[2] >= SIGNALS_TTL):
            return None
        self._found.move_to_end(key)
        return found[3]

    def put(self, key: tuple[str, str], stored: StoredFacts, queued: int, answer: Answer) -> None:
        """Keep ``answer`` as computed over ``stored`` and ``queued`` queued scans."""
        self._found[key] = (stored, queued, time.monotonic(), answer)
        self._found.move_to_end(key)
        while len(self._found) > self.capacity:
            self._found.popitem(last=False)


class SignalService:
    """Signals, alerts and scan retention of one log, under ``policy``."""

    def __init__(
        self,
        store: Store,
        signal_store: SignalStore,
        log: int,
        policy: SignalPolicy,
        clock: Callable[[], datetime],
        probing: ProbingCache,
        facts: FactsCache | None = None,
        signals: SignalsCache | None = None,
    ) -> None:
        self._store = store
        self._signal_store = signal_store
        self._log = log
        self.policy = policy
        self._clock = clock
        self._probing_cache = probing
        self._facts_cache = facts if facts is not None else FactsCache()
        self._signals_cache = signals if signals is not None else SignalsCache()

    def _since(self) -> str:
        return format_time(self._clock() - self.policy.scan_retention)

    def judge(
        self,
        view: dict[str, Any],
        unit: gs1.UnitId,
        *,
        owner_token: str | None = None,
        pending: Sequence[Scan] = (),
        size: int = 0,
        memory: object = None,
    ) -> dict[str, Any]:
        """The view with its verdict and reasons extended by signals and reports, and
        ``owner`` (the viewer's token is the current owner's). ``size``: the log size
        the view was read at (0: unknown, nothing is cached). ``memory`` (not None):
        from the caches alone.

        A unit's signals are computed again when its stored facts change (a flush,
        the log grew, `FACTS_TTL`) or its queued scans do; for a unit with more than
        `EXACT_SCANS` scans (one scanned hundreds of times a second), at most every
        `SIGNALS_TTL` seconds: its view costs no work in its number of scans.

        Raises:
            NotInMemoryError: ``memory`` given and a read is needed.
        """
        if view["verdict"] == INVALID:
            return {**view, "owner": False}
        since = self._since()
        memory_only = memory is not None
        if view["verdict"] == UNKNOWN:
            signals = self._probing_of(unit.gtin, since, memory_only)
            verdict, reasons = with_signals(view["verdict"], _reasons(view), signals)
            return {**view, "verdict": verdict, "reasons": _dicts(reasons), "owner": False}
        claim = _latest_claim(view["entries"])
        stored = self._stored_facts(
            view, unit, since, claim is not None, size, memory_only, len(pending)
        )
        owner = False
        if claim is not None:
            current = claim["event"].get("owner")
            if current:
                owner = owner_token is not None and owner_hash(owner_token) == current
        signals, finding = self._signals_of(unit, stored, claim, pending)
        verdict, reasons = with_signals(view["verdict"], _reasons(view), signals, finding, owner)
        return {**view, "verdict": verdict, "reasons": _dicts(reasons), "owner": owner}

    def _signals_of(
        self,
        unit: gs1.UnitId,
        stored: StoredFacts,
        claim: dict[str, Any] | None,
        pending: Sequence[Scan],
    ) -> Answer:
        """The unit's clone signals and report finding over ``stored`` and its queued
        scans (``pending``), reused from the `SignalsCache` as `judge` says."""
        key = (unit.gtin, unit.serial)
        queued = len(pending)
        hit = self._signals_cache.get(key, stored, queued)
        if hit is not None:
            return hit
        owners = set(stored.owners)
        claimed_at = None
        if claim is not None:
            claimed_at = parse_time(claim["received"])
            current = claim["event"].get("owner")
            if current:
                owners.add(owner_client(current))
        mine = [p for p in pending if (p.gtin, p.serial) == key]
        facts = stored.scans
        if mine:
            facts = sorted(facts + _scan_facts(mine), key=lambda f: f.at)
        signals = unit_signals(
            facts, claimed_at=claimed_at, owners=owners, thresholds=self.policy.thresholds
        )
        finding = corroborated(stored.reports, self.policy.reports)
        self._signals_cache.put(key, stored, queued, (signals, finding))
        return signals, finding

    def _stored_facts(
        self,
        view: dict[str, Any],
        unit: gs1.UnitId,
        since: str,
        claimed: bool,
        size: int,
        memory_only: bool = False,
        queued: int = 0,
    ) -> StoredFacts:
        """The unit's stored scans, owner clients and open reports, from the
        `FactsCache` while the log's size and the unit's stored scan count are those
        of ``view`` (three reads otherwise); ``memory_only``, for a unit with more
        than `EXACT_SCANS` scans (``queued`` of them queued), the latest read within
        `FACTS_TTL` also serves.

        Raises:
            NotInMemoryError: ``memory_only`` and not cached.
        """
        key = (unit.gtin, unit.serial, size, view["scans"]["count"])
        cached = self._facts_cache.get(key) if size else None
        if cached is not None:
            return cached
        if memory_only:
            # a unit with few scans is judged over exactly its stored ones; a busy
            # one over those read within FACTS_TTL (scans stored since are missing)
            many = view["scans"]["count"] + queued > EXACT_SCANS
            cached = self._facts_cache.latest(unit.gtin, unit.serial) if many else None
            if cached is None:
                raise NotInMemoryError("stored facts")
            return cached
        rows = self._signal_store.unit_scans(self._log, unit.gtin, unit.serial, since)
        owners = (
            self._signal_store.owner_clients(self._log, unit.gtin, unit.serial)
            if claimed
            else set()
        )
        reports = self._signal_store.reports(
            self._log, unit=(unit.gtin, unit.serial), status=(ReportStatus.OPEN,)
        )
        found = StoredFacts(
            time.monotonic(),
            _facts(rows),
            frozenset(owners),
            _report_facts(reports),
            512 + 400 * len(rows) + 100 * len(owners) + 400 * len(reports),
        )
        if size:
            self._facts_cache.put(key, found)
        return found

    def forget_unit(self, gtin: str, serial: str) -> None:
        """Drop what is cached of the unit's stored facts (a report changed)."""
        self._facts_cache.forget(gtin, serial)

    def _probing(self, gtins: Sequence[str], since: str) -> list[Signal]:
        known = [g for g in gtins if self._signal_store.product_brand(self._log, g) is not None]
        rows = self._signal_store.unregistered_scans(self._log, known, since)
        return serial_probing(rows, self.policy.thresholds)

    def _probing_of(self, gtin: str, since: str, memory_only: bool = False) -> list[Signal]:
        """The probing signal of one GTIN for an unknown unit's view, from the
        `ProbingCache` while fresh: a prober hitting invented serials costs one lookup
        per view, not an aggregate over the GTIN's scans.

        Raises:
            NotInMemoryError: ``memory_only`` and not cached.
        """
        now = self._clock()
        hit = self._probing_cache.get(gtin, now)
        if hit is not None:
            return hit.signals
        if memory_only:
            raise NotInMemoryError("probing aggregate")
        if self._signal_store.product_brand(self._log, gtin) is None:
            self._probing_cache.put(gtin, Probe(now, [], None))
            return []
        rows = self._signal_store.unregistered_scans(self._log, [gtin], since)
        found = serial_probing(rows, self.policy.thresholds)
        serials = None if found else frozenset(r["serial"] for r in rows)
        self._probing_cache.put(gtin, Probe(now, found, serials))
        return found

    def scans_recorded(self, scans: Sequence[Scan]) -> None:
        """Tell the probing cache about scans just stored: a quiet GTIN's answer is
        dropped when a scan names a serial it did not count and no unit has (one
        indexed read per such GTIN and batch), so the next view counts again. Repeat
        scans of the serials it counted, and scans of real units, keep it."""
        by_gtin: dict[str, set[str]] = {}
        for scan in scans:
            by_gtin.setdefault(scan.gtin, set()).add(scan.serial)
        for gtin, serials in by_gtin.items():
            probe = self._probing_cache.quiet(gtin)
            if probe is None or probe.serials is None:
                continue
            new = serials - probe.serials
            if new and new - self._signal_store.registered_serials(self._log, gtin, new):
                self._probing_cache.drop(gtin)

    def unit_alerts(self, brand: str) -> list[UnitAlertShape]:
        """The clone signals of the brand's units scanned within the retention window,
        and the probing of its GTINs, as ``{unit, code, evidence}`` (unit may be None)."""
        since = self._since()
        units = self._signal_store.scanned_units(self._log, brand, since, ALERT_UNITS)
        claims = self._signal_store.claim_leaves(self._log, units)
        out: list[UnitAlertShape] = []
        for gtin, serial in units:
            rows = self._signal_store.unit_scans(self._log, gtin, serial, since)
            claimed_at, owners = None, set()
            leaf = claims.get((gtin, serial))
            if leaf is not None:
                parsed = Leaf.from_bytes(leaf)
                claimed_at = parsed.received_at
                owners = self._signal_store.owner_clients(self._log, gtin, serial)
                event = parsed.signed.event
                if isinstance(event, Claim) and event.owner:
                    owners.add(owner_client(event.owner))
            path = gs1.UnitId(gtin=gtin, serial=serial).path()
            for signal in unit_signals(
                _facts(rows),
                claimed_at=claimed_at,
                owners=owners,
                thresholds=self.policy.thresholds,
            ):
                out.append(
                    {"unit": {"gtin": gtin, "serial": serial, "path": path}, **signal.to_dict()}
                )
        gtins = self._signal_store.brand_gtins(self._log, brand)
        out += [{"unit": None, **s.to_dict()} for s in self._probing(gtins, since)]
        return out

    def prune_scans(self) -> int:
        """Delete scans older than the retention window; return how many."""
        deleted = self._store.delete_scans_before(self._log, self._since())
        if deleted:
            self._facts_cache.clear()  # the cached facts may hold deleted scans
        return deleted


def response_summary(reports: Sequence[dict[str, Any]]) -> ResponseSummaryShape:
    """How fast reports were answered: open count, answered count, median and worst
    seconds from a report to its first response."""
    waits = [
        (parse_time(r["first_response_at"]) - parse_time(r["created_at"])).total_seconds()
        for r in reports
        if r.get("first_response_at")
    ]
    return {
        "open": sum(1 for r in reports if r["status"] == ReportStatus.OPEN),
        "answered": len(waits),
        "median_seconds": round(statistics.median(waits)) if waits else None,
        "max_seconds": round(max(waits)) if waits else None,
    }


def _latest_claim(entries: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    claims = [e for e in entries if e["event"].get("kind") == "claim"]
    return claims[-1] if claims else None


def _reasons(view: dict[str, Any]) -> list[Reason]:
    return [Reason(r["code"], r["message"], r.get("evidence") or {}) for r in view["reasons"]]


def _dicts(reasons: Sequence[Reason]) -> list[ReasonShape]:
    return [r.to_dict() for r in reasons]


def _scan_facts(scans: Sequence[Scan]) -> list[ScanFact]:
    """Queued scans as facts (what `_facts` makes of their rows, without the text)."""
    facts = []
    for scan in scans:
        place, source = read_place(scan.place)
        facts.append(ScanFact(scan.at, place, scan.client, source, scan.network))
    return facts


def _facts(rows: Sequence[dict[str, Any]]) -> list[ScanFact]:
    facts = []
    for r in rows:
        place, source = read_place(r["place"])  # a trusted header's place, or a hint
        facts.append(ScanFact(parse_time(r["at"]), place, r["client"], source, r.get("network")))
    return sorted(facts, key=lambda f: f.at)


def _report_facts(rows: Sequence[dict[str, Any]]) -> list[ReportFact]:
    """Open report rows as the facts ledger.signals.reports judges."""
    return [
        ReportFact(r["reason"], parse_time(r["created_at"]), r["client"], r.get("network"))
        for r in rows
    ]
