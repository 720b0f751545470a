"""Clone signals on the unit view and in a brand's alerts (a `Ledger` mixin).

`Signaling.judge_signals` takes the log-based unit view (cached by log size) and adds
what lives outside the log: the unit's clone signals (ledger.signals.compute over its recent
scans), its open consumer reports, and whether the viewer is its owner. `alerts` is the
brand's triage queue: the signals of the brand's recently scanned units, the probing of
its GTINs with invented serials, and its consumer reports with their response times.
`prune_scans` applies the scan retention.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ledger import gs1
from ledger.entry import Leaf
from ledger.events import Claim, format_time, parse_time
from ledger.service.claims import owner_client, owner_hash
from ledger.shapes import ReasonShape, ResponseSummaryShape, UnitAlertShape
from ledger.signals.compute import ScanFact, Signal, Thresholds, serial_probing, unit_signals
from ledger.verify.verdict import INVALID, UNKNOWN, Reason, with_signals
from ledger.vocab import ReportStatus

if TYPE_CHECKING:
    from ledger.service.ledger import Scan
    from ledger.store import SignalStore, Store

#: units whose signals an alerts listing computes at most
ALERT_UNITS = 200
#: how long a fired probing signal is reused for unknown units' views
PROBING_TTL = timedelta(minutes=5)


class Signaling:
    """Mixin of `ledger.service.ledger.Ledger`: signals, alerts, scan retention."""

    store: Store
    log: int
    signal_thresholds: Thresholds = Thresholds()
    scan_retention: timedelta = timedelta(days=90)

    def now(self) -> datetime:  # pragma: no cover - provided by Ledger
        raise NotImplementedError

    @property
    def signal_store(self) -> SignalStore:  # pragma: no cover - provided by Ledger
        raise NotImplementedError

    def _since(self) -> str:
        return format_time(self.now() - self.scan_retention)

    def judge_signals(
        self,
        view: dict[str, Any],
        unit: gs1.UnitId,
        *,
        owner_token: str | None = None,
        pending: Sequence[Scan] = (),
    ) -> dict[str, Any]:
        """The view with its verdict and reasons extended by signals and reports, and
        ``owner`` (the viewer's token is the current owner's)."""
        if view["verdict"] == INVALID:
            return {**view, "owner": False}
        since = self._since()
        if view["verdict"] == UNKNOWN:
            signals = self._probing_of(unit.gtin, since)
            verdict, reasons = with_signals(view["verdict"], _reasons(view), signals)
            return {**view, "verdict": verdict, "reasons": _dicts(reasons), "owner": False}
        rows = self.signal_store.unit_scans(self.log, unit.gtin, unit.serial, since)
        rows += [p.to_row() for p in pending if (p.gtin, p.serial) == (unit.gtin, unit.serial)]
        claim = _latest_claim(view["entries"])
        owners: set[str] = set()
        claimed_at, owner = None, False
        if claim is not None:
            claimed_at = parse_time(claim["received"])
            current = claim["event"].get("owner")
            owners = self.signal_store.owner_clients(self.log, unit.gtin, unit.serial)
            if current:
                owners.add(owner_client(current))
                owner = owner_token is not None and owner_hash(owner_token) == current
        signals = unit_signals(
            _facts(rows), claimed_at=claimed_at, owners=owners, thresholds=self.signal_thresholds
        )
        reports = self.signal_store.reports(
            self.log, unit=(unit.gtin, unit.serial), status=(ReportStatus.OPEN,)
        )
        verdict, reasons = with_signals(
            view["verdict"], _reasons(view), signals, [r["reason"] for r in reports], owner
        )
        return {**view, "verdict": verdict, "reasons": _dicts(reasons), "owner": owner}

    def _probing(self, gtins: Sequence[str], since: str) -> list[Signal]:
        known = [g for g in gtins if self.signal_store.product_brand(self.log, g) is not None]
        rows = self.signal_store.unregistered_scans(self.log, known, since)
        return serial_probing(rows, self.signal_thresholds)

    def _probing_of(self, gtin: str, since: str) -> list[Signal]:
        """The probing signal of one GTIN for an unknown unit's view. A fired signal is
        kept for `PROBING_TTL`: a prober hitting invented serials then costs one lookup
        per view instead of an aggregate over the GTIN's scans."""
        cache: dict[str, tuple[datetime, list[Signal]]] = self.__dict__.setdefault(
            "_probing_cache", {}
        )
        now = self.now()
        hit = cache.get(gtin)
        if hit is not None and now - hit[0] < PROBING_TTL:
            return hit[1]
        found = self._probing([gtin], since)
        if found:
            cache[gtin] = (now, found)
            if len(cache) > 10_000:
                cache.clear()
        else:
            cache.pop(gtin, None)
        return found

    def unit_alerts(self, brand: str) -> list[UnitAlertShape]:
        """The clone signals of the brand's units scanned within the retention window,
        and the probing of its GTINs, as ``{unit, code, evidence}`` (unit may be None)."""
        since = self._since()
        units = self.signal_store.scanned_units(self.log, brand, since, ALERT_UNITS)
        claims = self.signal_store.claim_leaves(self.log, units)
        out: list[UnitAlertShape] = []
        for gtin, serial in units:
            rows = self.signal_store.unit_scans(self.log, gtin, serial, since)
            claimed_at, owners = None, set()
            leaf = claims.get((gtin, serial))
            if leaf is not None:
                parsed = Leaf.from_bytes(leaf)
                claimed_at = parsed.received_at
                owners = self.signal_store.owner_clients(self.log, gtin, serial)
                event = parsed.signed.event
                if isinstance(event, Claim) and event.owner:
                    owners.add(owner_client(event.owner))
            path = gs1.UnitId(gtin=gtin, serial=serial).path()
            for signal in unit_signals(
                _facts(rows),
                claimed_at=claimed_at,
                owners=owners,
                thresholds=self.signal_thresholds,
            ):
                out.append(
                    {"unit": {"gtin": gtin, "serial": serial, "path": path}, **signal.to_dict()}
                )
        gtins = self.signal_store.brand_gtins(self.log, brand)
        out += [{"unit": None, **s.to_dict()} for s in self._probing(gtins, since)]
        return out

    def prune_scans(self) -> int:
        """Delete scans older than the retention window; return how many."""
        return self.store.delete_scans_before(self.log, self._since())


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


def _facts(rows: Sequence[dict[str, Any]]) -> list[ScanFact]:
    facts = [ScanFact(parse_time(r["at"]), r["place"], r["client"]) for r in rows]
    return sorted(facts, key=lambda f: f.at)
