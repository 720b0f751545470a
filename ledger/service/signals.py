"""Clone signals on the unit view and in a brand's alerts, and the scans they read.

`SignalService.judge` takes the log-based unit view (cached by log size) and adds
what lives outside the log: the unit's clone signals (ledger.signals.compute over its recent
scans), its open consumer reports, and whether the viewer is its owner. `alerts` is the
brand's triage queue: the signals of the brand's recently scanned units, the probing of
its GTINs with invented serials, and its consumer reports with their response times.
`prune_scans` applies the scan retention. Its caches are in ledger.service.signalcaches
(re-exported here: ``FactsCache``, ``ProbingCache``, ``SignalsCache``).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ledger import gs1
from ledger.entry import Leaf
from ledger.events import Claim, format_time, parse_time
from ledger.service.claims import owner_client, owner_hash
from ledger.service.policies import SignalPolicy
from ledger.service.scanfacts import (
    Scan,
    ScanRow,
    by_time,
    pending_facts,
    report_facts,
    row_facts,
)
from ledger.service.signalcaches import (
    EXACT_SCANS,
    Answer,
    FactsCache,
    Probe,
    ProbingCache,
    SignalsCache,
    StoredFacts,
)
from ledger.service.unitview import last_claim
from ledger.service.viewcache import NotInMemoryError
from ledger.shapes import ReasonShape, ResponseSummaryShape, UnitAlertShape
from ledger.signals.compute import Signal, serial_probing, unit_signals
from ledger.signals.reports import corroborated
from ledger.store import SignalStore, Store
from ledger.verify.verdict import INVALID, UNKNOWN, Reason, with_signals
from ledger.vocab import ReportStatus

__all__ = [
    "FactsCache",
    "ProbingCache",
    "Scan",
    "SignalService",
    "SignalsCache",
    "response_summary",
]

#: units whose signals an alerts listing computes at most
ALERT_UNITS = 200
#: units whose last judged reasons are kept at most (`SignalService._judged`): each holds
#: a list of a few reasons; cleared whole when full
JUDGED_UNITS = 4096


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
        #: per unit: (view's reasons, answer, owner, verdict in, verdict, reasons) (`_judged`)
        self._judged_last: dict[tuple[str, str], tuple[Any, ...]] = {}

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
        memory_only = memory is not None
        if view["verdict"] == UNKNOWN:
            signals = self._probing_of(unit.gtin, self._since(), memory_only)
            verdict, reasons = with_signals(view["verdict"], _reasons(view), signals)
            return {**view, "verdict": verdict, "reasons": _dicts(reasons), "owner": False}
        claim = last_claim(view["entries"])
        # its stored and queued scans: more than EXACT_SCANS make a busy unit, judged
        # over facts and signals up to their TTLs old (signalcaches)
        scans = view["scans"]["count"] + len(pending)
        stored = self._stored_facts(view, unit, claim is not None, size, memory_only, scans)
        owner = False
        if claim is not None:
            current = claim["event"].get("owner")
            # a consumed unit's token is public (its consume revealed it): no one is its
            # owner any more, so no one's scans are excused
            consumed = bool((view.get("unit") or {}).get("consumed_at"))
            if current and not consumed:
                owner = owner_token is not None and owner_hash(owner_token) == current
        answer = self._signals_of(unit, stored, claim, pending, scans)
        judged, worded = self._judged(unit, view, answer, owner)
        return {**view, "verdict": judged, "reasons": worded, "owner": owner}

    def _judged(
        self, unit: gs1.UnitId, view: dict[str, Any], answer: Answer, owner: bool
    ) -> tuple[str, list[ReasonShape]]:
        """`with_signals` of the view's verdict and reasons with ``answer`` (signals,
        report finding) for ``owner``, as dicts; the unit's last answer again while the
        view's reasons and ``answer`` are the objects it was worked out from (a label's
        finished view and a cached answer are kept objects: identity, never equality)
        and the viewer's ownership is the same. The list is shared: read, not changed."""
        key = (unit.gtin, unit.serial)
        found = self._judged_last.get(key)
        if (
            found is not None
            and found[0] is view["reasons"]
            and found[1] is answer
            and found[2] == owner
            and found[3] == view["verdict"]
        ):
            return found[4], found[5]
        signals, finding = answer
        verdict, reasons = with_signals(view["verdict"], _reasons(view), signals, finding, owner)
        done = _dicts(reasons)
        if found is not None and _same_json(found[5], done):
            # the same words as last time: the same object, so that what is kept by it
            # (the reasons' JSON, the consumer page) is found again
            done = found[5]
        if len(self._judged_last) >= JUDGED_UNITS:
            self._judged_last.clear()
        self._judged_last[key] = (view["reasons"], answer, owner, view["verdict"], verdict, done)
        return verdict, done

    def _signals_of(
        self,
        unit: gs1.UnitId,
        stored: StoredFacts,
        claim: dict[str, Any] | None,
        pending: Sequence[Scan],
        scans: int,
    ) -> Answer:
        """The unit's clone signals and report finding over ``stored`` and its queued
        scans (``pending``; ``scans``: its stored and queued scans in all), reused from
        the `SignalsCache` as `judge` says."""
        key = (unit.gtin, unit.serial)
        queued, newest = len(pending), newest_scan(pending)
        hit = self._signals_cache.get(key, stored, queued, newest, scans)
        if hit is not None:
            return hit
        owners = set(stored.owners)
        claimed_at = None
        if claim is not None:
            claimed_at = parse_time(claim["received"])
            current = claim["event"].get("owner")
            if current:
                owners.add(owner_client(current))
        facts = stored.scans
        mine = pending_facts(pending, key)
        if mine:
            facts = sorted(facts + mine, key=by_time)
        signals = unit_signals(
            facts, claimed_at=claimed_at, owners=owners, thresholds=self.policy.thresholds
        )
        finding = corroborated(stored.reports, self.policy.reports)
        self._signals_cache.put(key, stored, queued, newest, (signals, finding))
        return signals, finding

    def _stored_facts(
        self,
        view: dict[str, Any],
        unit: gs1.UnitId,
        claimed: bool,
        size: int,
        memory_only: bool,
        scans: int,
    ) -> StoredFacts:
        """The unit's stored scans, owner clients and open reports, from the
        `FactsCache` while the log's size and the unit's stored scan count are those
        of ``view`` (three reads otherwise, kept at the count read with the scans).
        For a unit with more than `EXACT_SCANS` scans (``scans``: stored and queued)
        older ones serve too: ``memory_only``, the latest read within `FACTS_TTL`;
        else those read at this log size within `FACTS_REREAD` (so a flush alone does
        not send a busy unit's refresh back to its stored scans).

        Raises:
            NotInMemoryError: ``memory_only`` and not cached.
        """
        key = (unit.gtin, unit.serial, size, view["scans"]["count"])
        cached = self._facts_cache.get(key) if size else None
        if cached is not None:
            return cached
        # a unit with few scans is judged over exactly its stored ones; a busy one
        # over those read within FACTS_TTL (scans stored since are missing)
        many = scans > EXACT_SCANS
        if memory_only:
            cached = self._facts_cache.latest(unit.gtin, unit.serial) if many else None
            if cached is None:
                raise NotInMemoryError("stored facts")
            return cached
        if many and size:
            # read again by age, not after every flush: a flush moves the count, and
            # re-reading a busy unit's 500 latest scans each time is the resolver's
            # cost; the log has not grown since these (`FactsCache.recent`)
            cached = self._facts_cache.recent(unit.gtin, unit.serial, size)
            if cached is not None:
                return cached
        # the count read with the scans, not the view's: a batch stored between the
        # view's read and this one is in these scans, and the facts are kept as what
        # they are (a view whose count and scans differ is judged again: api.unitviews)
        count, rows = self._signal_store.unit_scans(
            self._log, unit.gtin, unit.serial, self._since()
        )
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
            row_facts(rows),
            frozenset(owners),
            report_facts(reports),
            512 + 400 * len(rows) + 100 * len(owners) + 400 * len(reports),
        )
        if size:
            self._facts_cache.put((unit.gtin, unit.serial, size, count), found)
        return found

    def forget_answer(self, gtin: str, serial: str) -> None:
        """Drop the unit's last computed signals (not its stored facts, kept by the
        count read with them): they were judged with queued scans that a write may
        have stored during the read, so they may count a scan twice (api.unitviews)."""
        self._signals_cache.forget((gtin, serial))

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

    def scans_recorded(self, rows: Sequence[ScanRow]) -> None:
        """Tell the probing cache about scans just stored (their scans-table rows,
        `Scan.to_row`): a quiet GTIN's answer is dropped when a scan names a serial it
        did not count and no unit has (one indexed read per such GTIN and batch), so
        the next view counts again. Repeat scans of the serials it counted, and scans
        of real units, keep it."""
        by_gtin: dict[str, set[str]] = {}
        for row in rows:
            by_gtin.setdefault(row[0], set()).add(row[1])
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
            _, rows = self._signal_store.unit_scans(self._log, gtin, serial, since)
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
                row_facts(rows),
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


def newest_scan(pending: Sequence[Scan]) -> object:
    """The object that stands for ``pending``'s newest scan, compared by identity: the
    sequence's ``newest`` when it has one (api.scans hands out scans unpacked anew on
    each read, and names the packed one that stays), else its last `Scan`."""
    newest = getattr(pending, "newest", None)
    if newest is not None or not pending:
        return newest
    return pending[-1]


def _reasons(view: dict[str, Any]) -> list[Reason]:
    return [Reason(r["code"], r["message"], r.get("evidence") or {}) for r in view["reasons"]]


def _dicts(reasons: Sequence[Reason]) -> list[ReasonShape]:
    return [r.to_dict() for r in reasons]


def _same_json(kept: object, new: object) -> bool:
    """Whether two values are written alike in JSON (equality would take ``1``, ``1.0``
    and ``True`` for one another, and dicts in another order as equal)."""
    if kept != new:
        return False
    try:
        return json.dumps(kept) == json.dumps(new)
    except (TypeError, ValueError):
        return False
