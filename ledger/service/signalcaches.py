"""The caches of the signal service (ledger.service.signals), owned by the `Ledger` and
shared by its per-request copies, so that they outlive a request.

- `ProbingCache`: the probing aggregate's last answer by GTIN (unknown units' views);
- `FactsCache`: a unit's stored scans, owner clients and open reports as read;
- `SignalsCache`: a unit's computed clone signals and report finding.

Each is bounded (in units, or in estimated bytes) and says how stale it may be.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.signals.compute import ScanFact, Signal
from ledger.signals.reports import ReportFact, ReportFinding

#: how long a fired probing signal is reused for unknown units' views
PROBING_TTL = timedelta(minutes=5)
#: how long a quiet probing answer is reused at most (scans other processes record)
QUIET_TTL = timedelta(seconds=30)
#: how long a unit's stored facts are reused at most (reports other processes change)
FACTS_TTL = 2.0
#: a busy unit's stored facts are read again once this old (seconds), not after every
#: flush: well within `FACTS_TTL`, so views from memory always find facts to judge with
FACTS_REREAD = 1.0
#: a unit's signals are computed over every change of its queued scans while it has
#: at most this many scans (stored and queued) ...
EXACT_SCANS = 64
#: ... and past that at most this often (seconds): a hot unit's view costs no O(scans) work
SIGNALS_TTL = 0.25


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

    def recent(self, gtin: str, serial: str, size: int) -> StoredFacts | None:
        """The unit's facts read at log size ``size`` within `FACTS_REREAD`, whatever
        stored scan count they were read at (a busy unit's database view: the log has
        not grown since, so no claim, recall or other entry is missing from them)."""
        key = self._keys.get((gtin, serial))
        if key is None or key[2] != size:
            return None
        found = self._facts.get(key)
        if found is None or time.monotonic() - found.at >= FACTS_REREAD:
            return None
        return found

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
    the queued scans they were computed over, at most ``capacity`` units (least
    recently used first out; a few hundred bytes each). Owned by the `Ledger`.

    The queued scans are told apart by their number and their newest scan: a number
    alone is not enough, since one scan can leave the queue (stored) as another
    arrives, and a view read across that write counted the stored one twice (from the
    database and from the queue snapshot it took before the read)."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._found: OrderedDict[
            tuple[str, str], tuple[StoredFacts, int, object, float, Answer]
        ] = OrderedDict()

    def get(
        self,
        key: tuple[str, str],
        stored: StoredFacts,
        queued: int,
        newest: object,
        scans: int,
    ) -> Answer | None:
        """The answer computed over ``stored`` and the same queued scans (``queued``
        of them, the newest ``newest``, compared by identity), or, for a unit of more
        than `EXACT_SCANS` scans in all (``scans``: its stored count plus ``queued``,
        not the stored facts' own, which may be a snapshot from when it had few), over
        ``stored`` within `SIGNALS_TTL`; else None."""
        found = self._found.get(key)
        if found is None or found[0] is not stored:
            return None
        few = scans <= EXACT_SCANS
        same = found[1] == queued and found[2] is newest
        if not same and (few or time.monotonic() - found[3] >= SIGNALS_TTL):
            return None
        self._found.move_to_end(key)
        return found[4]

    def put(
        self,
        key: tuple[str, str],
        stored: StoredFacts,
        queued: int,
        newest: object,
        answer: Answer,
    ) -> None:
        """Keep ``answer`` as computed over ``stored`` and ``queued`` queued scans,
        the newest ``newest``."""
        self._found[key] = (stored, queued, newest, time.monotonic(), answer)
        self._found.move_to_end(key)
        while len(self._found) > self.capacity:
            self._found.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        """Drop the unit's answer (computed over queued scans a write may have stored
        during the read of its facts: api.unitviews)."""
        self._found.pop(key, None)
