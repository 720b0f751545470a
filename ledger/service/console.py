"""The brand and operator console's use cases over one ledger (docs/CONSOLE.md).

`ConsoleService` gives the console its staff (ledger.service.console_auth), the alert
queue with its triage state, unit search, and the console's signed writes.

The console's writes are signed with the brand's console key
(ledger.service.console_keys.ConsoleKeys, ``ConsoleService.keys``): confirming an alert
appends a ``flag`` signed by it; a lot recall appends one ``recall`` per unit of the
lot, in one batch.

Triage state (acknowledged, assigned, closed, confirmed; the assignee and the note) is
console data, not log entries; a report's first response is also recorded on the
report itself (ledger.service.reports).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ledger import gs1
from ledger.entry import Leaf, SignedEvent
from ledger.errors import ConflictError, NotFoundError, ValidationError
from ledger.events import format_time
from ledger.reqsig import ForbiddenError
from ledger.rules.state import ActorRecord, UnitRecord
from ledger.service.console_alerts import report_alert, signal_alert
from ledger.service.console_auth import Staff, StaffService
from ledger.service.console_keys import ConsoleKeys
from ledger.service.ledger import Ledger
from ledger.store import ConsoleStore
from ledger.vocab import ReportAction, Role

MAX_REVOKE_REASON = 500
#: the console's alert statuses
STATUSES = ("new", "acknowledged", "assigned", "closed", "confirmed")
#: the triage actions a form may ask for
TRIAGE_ACTIONS = ("acknowledge", "assign", "note", "close", "confirm")
FLAG_CODE = "counterfeit-confirmed"
SEARCH_LIMIT = 100
MAX_NOTE = 2000


class ConsoleService:
    """The console over ``ledger`` (its default log)."""

    def __init__(self, ledger: Ledger, clock: Callable[[], datetime] | None = None) -> None:
        self._ledger = ledger
        self._clock = clock or ledger.now
        self._store = ConsoleStore(ledger.store.engines)
        self.staff = StaffService(self._store, self.kind_of, self._clock)
        #: the brands' console keys, and what they sign
        self.keys = ConsoleKeys(ledger, self._store, self.kind_of, self._clock)

    @property
    def ledger(self) -> Ledger:
        """The ledger whose default log the console serves."""
        return self._ledger

    # --- organisations -----------------------------------------------------------------

    def kind_of(self, org: str) -> str | None:
        """``brand`` or ``operator`` for a registered, unrevoked actor of those roles."""
        actor = self._actor(org)
        if actor is None or actor.revoked_index is not None:
            return None
        return actor.role if actor.role in (Role.BRAND, Role.OPERATOR) else None

    def brands_of(self, staff: Staff) -> list[str]:
        """The brands whose data ``staff`` sees: its own, or every brand for the
        operator's staff."""
        if staff.operator:
            return self._store.brands(self._ledger.log)
        return [staff.org] if staff.kind == "brand" else []

    def check_brand(self, staff: Staff, brand: str | None) -> None:
        """Allow ``staff`` to see ``brand``'s data.

        Raises:
            ForbiddenError: another brand's data (or a report of no brand) for a brand's
                staff.
        """
        if staff.operator:
            return
        if staff.kind != "brand" or brand != staff.org:
            raise ForbiddenError("this belongs to another organisation")

    def require(self, staff: Staff, action: str) -> None:
        """Allow ``action`` for ``staff``'s role.

        Raises:
            ForbiddenError: the role does not allow it.
        """
        if not staff.may(action):
            raise ForbiddenError(f"a {staff.kind} {staff.role} may not {action}")

    # --- the overview and the alert queue ------------------------------------------------

    def overview(self, staff: Staff) -> dict[str, Any]:
        """Counts for the overview page: open alerts and reports, scans today, units
        minted and recalled, the median seconds to a first response."""
        alerts = self.alerts(staff)
        brands = self.brands_of(staff)
        counts = self._store.brand_counts(self._ledger.log, brands) if brands else {}
        today = self._clock().astimezone(UTC).date().isoformat()
        waits = sorted(a["response_seconds"] for a in alerts if a["response_seconds"] is not None)
        scans = self._store.scans_since(self._ledger.log, brands, today) if brands else 0
        return {
            "open_alerts": sum(1 for a in alerts if a["source"] == "signal" and a["open"]),
            "open_reports": sum(1 for a in alerts if a["source"] == "report" and a["open"]),
            "scans_today": scans,
            "units": counts.get("units", 0),
            "recalled": counts.get("recalled", 0),
            "median_response": waits[len(waits) // 2] if waits else None,
            "brands": brands,
        }

    def alerts(self, staff: Staff, status: str | None = None) -> list[dict[str, Any]]:
        """Every clone signal and report of ``staff``'s brands with its console status
        (`STATUSES`), assignee, note, evidence and seconds to its first response; open
        ones first, newest first. ``status`` keeps only those with that status."""
        out: list[dict[str, Any]] = []
        for brand in self.brands_of(staff):
            out.extend(self.brand_alerts(brand))
        if status is not None:
            out = [a for a in out if a["status"] == status]
        out.sort(key=lambda a: a["sort"], reverse=True)  # newest first, then open first
        return sorted(out, key=lambda a: not a["open"])

    def brand_alerts(self, brand: str) -> list[dict[str, Any]]:
        """Every clone signal and report of ``brand`` as an alert (unsorted), with its
        console id (``signal:GTIN/SERIAL/CODE``, ``report:ID``) and triage; what the
        webhooks (ledger.service.webhooks) watch for new ones."""
        triage = self._store.triage(brand)
        queue = self._ledger.reports.alerts(brand)
        out = [signal_alert(brand, signal, triage) for signal in queue["signals"]]
        out.extend(report_alert(brand, dict(report), triage) for report in queue["reports"])
        return out

    def alert(self, staff: Staff, alert_id: str) -> dict[str, Any]:
        """One alert of ``staff``'s brands.

        Raises:
            NotFoundError: no such alert among them (another brand's is not found, so
                that no one learns which exist).
        """
        for found in self.alerts(staff):
            if found["id"] == alert_id:
                return found
        raise NotFoundError(f"no alert {alert_id!r}", field="alert")

    def report(self, staff: Staff, report_id: int) -> dict[str, Any]:
        """A report with its console triage, photo excluded.

        Raises:
            NotFoundError: no such report.
            ForbiddenError: another brand's report.
        """
        row = self._ledger.reports.find(report_id)
        if row is None:
            raise NotFoundError(f"no report {report_id}", field="report")
        self.check_brand(staff, row["brand"])
        triage = self._store.triage(row["brand"] or staff.org)
        out = report_alert(row["brand"] or "", {**row, "photo": row["photo"] is not None}, triage)
        out["report"] = {k: v for k, v in row.items() if k not in ("photo", "client", "network")}
        return out

    def report_photo(self, staff: Staff, report_id: int) -> tuple[bytes, str]:
        """A report's photo and media type.

        Raises:
            NotFoundError: no report or no photo.
            ForbiddenError: another brand's report.
        """
        row = self._ledger.reports.find(report_id)
        if row is None or row["photo"] is None:
            raise NotFoundError(f"report {report_id} has no photo", field="report")
        self.check_brand(staff, row["brand"])
        actor = self._actor(row["brand"]) if row["brand"] else None
        if actor is None:  # the operator's queue: shown as the operator sees it
            actor = self._actor(self._ledger.config.operator_id)
        assert actor is not None  # noqa: S101 - the operator is always registered
        return self._ledger.reports.report_photo(report_id, actor)

    def triage(
        self,
        staff: Staff,
        alert_id: str,
        action: str,
        *,
        assignee: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Apply a triage ``action`` (`TRIAGE_ACTIONS`) to an alert; return it.

        ``confirm`` appends a ``flag`` signed by the brand's console key on the unit
        (and, for a report, closes it with that flag); the others change console data
        only (a report's ``acknowledge`` also records its first response on it).

        Raises:
            ValidationError: an unknown action, an unknown assignee, a note too long,
                an alert about no unit confirmed.
            ForbiddenError: the role may not triage or confirm.
            NotFoundError: no such alert for ``staff``; no console key for a confirm.
            ConflictError: the alert is already closed or confirmed.
            RuleError: the log refuses the flag (nothing is changed).
        """
        if action not in TRIAGE_ACTIONS:
            raise ValidationError(
                f"the action must be one of {', '.join(TRIAGE_ACTIONS)}", field="action"
            )
        self.require(staff, "confirm" if action == "confirm" else "triage")
        found = self.alert(staff, alert_id)
        if not found["open"]:
            raise ConflictError(f"alert {alert_id} is already {found['status']}")
        note = (note or "").strip() or None
        if note is not None and len(note) > MAX_NOTE:
            raise ValidationError(f"a note is at most {MAX_NOTE} characters", field="note")
        brand, now = found["brand"], format_time(self._clock())
        values: dict[str, Any] = {
            "status": found["status"],
            "assignee": found["assignee"],
            "note": note or found["note"],
            "first_action_at": now,
            "updated_at": now,
            "flag_index": found["flag_index"],
        }
        if action == "acknowledge":
            values["status"] = "acknowledged"
        elif action == "assign":
            user = self._store.user(assignee or "")
            if user is None or user["org"] != staff.org:
                raise ValidationError("assign to a user of your organisation", field="assignee")
            values.update(status="assigned", assignee=user["username"])
        elif action == "close":
            values["status"] = "closed"
        elif action == "confirm":
            values.update(status="confirmed", flag_index=self._confirm(staff, found, note))
        if found["source"] == "report" and action in ("acknowledge", "close"):
            actor = self._report_actor(brand)
            self._ledger.reports.resolve_report(
                found["report_id"],
                by=actor,
                action=ReportAction.ACK if action == "acknowledge" else ReportAction.CLOSE,
                note=note,
            )
        self._store.set_triage(brand, alert_id, values)
        self.staff.audit(staff.org, staff.username, action, alert_id, note)
        return self.alert(staff, alert_id)

    def _confirm(self, staff: Staff, found: dict[str, Any], note: str | None) -> int:
        unit = found["unit"]
        if unit is None:
            raise ValidationError("this alert names no unit to flag", field="alert")
        signed = self._unit_event(
            found["brand"], "flag", unit["gtin"], unit["serial"], code=FLAG_CODE, note=note
        )
        if found["source"] == "report":
            result = self._ledger.reports.resolve_report(
                found["report_id"],
                by=self._report_actor(found["brand"]),
                action=ReportAction.FLAG,
                note=note,
                flag=signed,
            )
            return int(result["flag_index"] or 0)
        return self._ledger.append(signed).receipts[0].index

    def _report_actor(self, brand: str) -> ActorRecord:
        actor = self._actor(brand) or self._actor(self._ledger.config.operator_id)
        assert actor is not None  # noqa: S101 - the operator is always registered
        return actor

    # --- units ---------------------------------------------------------------------------

    def search_units(self, staff: Staff, query: str) -> list[dict[str, Any]]:
        """Units of ``staff``'s brands matching ``query``: serials (or their prefix),
        GTINs, lots, or a label URL (GS1 Digital Link), each word narrowing."""
        words = [w for w in query.strip().split() if w][:4]
        if not words:
            return []
        parsed = _digital_link(words[0]) if len(words) == 1 else None
        if parsed is not None:
            words = [parsed.gtin, parsed.serial]
        words = [w[:64] for w in words]
        brands = None if staff.operator else self.brands_of(staff)
        return self._store.find_units(self._ledger.log, brands, words, SEARCH_LIMIT)

    def unit(self, staff: Staff, gtin: str, serial: str) -> dict[str, Any]:
        """The unit view (chain, verdict, scans, claim) of one unit of ``staff``'s
        brands, with its alerts.

        Raises:
            GS1Error: a malformed GTIN or serial.
            NotFoundError: no such unit.
            ForbiddenError: another brand's unit.
        """
        unit = gs1.UnitId(gtin=gtin, serial=serial)
        record = self._unit(unit.gtin, unit.serial)
        if record is None:
            raise NotFoundError(f"no unit {unit.path()}", field="unit")
        self.check_brand(staff, record.brand)
        view = dict(self._ledger.unit_view(unit.gtin, unit.serial))
        view["alerts"] = [
            a
            for a in self.alerts(staff)
            if a["unit"] and (a["unit"]["gtin"], a["unit"]["serial"]) == (unit.gtin, unit.serial)
        ]
        view["record"] = record
        key_id = self.keys.key_id(record.brand)
        view["by_console"] = {
            e.index
            for e in self._ledger.unit_entries(unit.gtin, unit.serial)
            if key_id is not None and Leaf.from_bytes(e.leaf).signed.key == key_id
        }
        return view

    def flag_unit(self, staff: Staff, gtin: str, serial: str, note: str | None) -> int:
        """Append a ``flag`` on a unit of ``staff``'s brand, signed by its console key;
        return its log index.

        Raises:
            ForbiddenError: the role may not confirm, or another brand's unit.
            NotFoundError: no such unit, or no console key.
            RuleError: the log refuses it.
        """
        self.require(staff, "confirm")
        record = self._owned_unit(staff, gtin, serial)
        signed = self._unit_event(record.brand, "flag", gtin, serial, code=FLAG_CODE, note=note)
        index = self._ledger.append(signed).receipts[0].index
        self.staff.audit(staff.org, staff.username, "flag", f"{gtin}/{serial}", note)
        return index

    def recall_unit(self, staff: Staff, gtin: str, serial: str, reason: str) -> int:
        """Append a ``recall`` of one unit signed by the console key; return its index.

        Raises:
            ForbiddenError: the role may not recall, or another brand's unit.
            NotFoundError: no such unit, or no console key.
            ValidationError: no reason.
            RuleError: the log refuses it (e.g. the unit is already recalled).
        """
        self.require(staff, "recall")
        reason = _reason(reason)
        record = self._owned_unit(staff, gtin, serial)
        signed = self._unit_event(record.brand, "recall", gtin, serial, reason=reason)
        index = self._ledger.append(signed).receipts[0].index
        self.staff.audit(staff.org, staff.username, "recall", f"{gtin}/{serial}", reason)
        return index

    def recall_lot(self, staff: Staff, gtin: str, lot: str, reason: str) -> list[str]:
        """Recall every unit of ``gtin`` in ``lot`` not yet recalled or decommissioned,
        in one batch signed by the console key (all or none); return their serials.

        Raises:
            ForbiddenError: the role may not recall (a brand's staff only).
            NotFoundError: the lot has no unit to recall, or there is no console key.
            ValidationError: no reason, a malformed GTIN or lot.
            RuleError: the log refuses one of them (nothing is appended).
        """
        self.require(staff, "recall")
        reason = _reason(reason)
        gs1.UnitId(gtin=gtin, serial="0")
        lot = lot.strip()
        if not lot or len(lot) > 20:
            raise ValidationError("a lot is 1-20 characters", field="lot")
        rows = self._store.lot_units(self._ledger.log, staff.org, gtin, lot)
        todo = [r for r in rows if not r["recalled"] and not r["decommissioned"]]
        if not todo:
            raise NotFoundError(f"lot {lot} of {gtin} has no unit left to recall", field="lot")
        signer = self.keys.signer(staff.org)
        events = [
            self.keys.sign(
                signer,
                staff.org,
                "recall",
                unit={"gtin": gtin, "serial": r["serial"]},
                prev=r["head"],
                reason=reason,
            )
            for r in todo
        ]
        self._ledger.append_batch(events)
        self.staff.audit(
            staff.org, staff.username, "recall-lot", f"{gtin} lot {lot}", f"{len(todo)}: {reason}"
        )
        return [r["serial"] for r in todo]

    def partners(self, staff: Staff) -> list[dict[str, Any]]:
        """The authorizations of ``staff``'s brands with their windows and whether each
        is in force now (``active``), revoked or expired."""
        brands = self.brands_of(staff)
        now = format_time(self._clock())
        out = []
        for row in self._store.authorizations(self._ledger.log, brands) if brands else []:
            gtins, prefixes = row["gtins"], row["prefixes"]
            state = (
                "revoked"
                if row["revoked_index"] is not None
                else "expired"
                if row["not_after"] < now
                else "pending"
                if row["not_before"] > now
                else "active"
            )
            scope = [x for x in f"{gtins},{prefixes}".split(",") if x]
            by_console = row["revoked_index"] is not None and self._signed_by_console(
                row["brand"], int(row["revoked_index"])
            )
            actor = self._actor(row["brand"])
            out.append(
                {
                    **row,
                    "scope": ", ".join(scope),
                    "state": state,
                    "by_console": by_console,
                    "brand_name": actor.name if actor else row["brand"],
                }
            )
        return out

    def revoke_authorization(self, staff: Staff, authorization: str, reason: str | None) -> int:
        """Append an ``authorization.revoke`` of one of ``staff``'s brand's authorizations,
        signed by the brand's console key; return its log index.

        The console key must carry the ``revoke`` scope (`REVOKE_SCOPE`, given by
        ``provenance console key delegate BRAND --as BRAND --revoke``): the rules refuse
        it otherwise (``key-out-of-scope``), and no scope of the console key lets it
        grant an authorization.

        Raises:
            ForbiddenError: the role may not revoke, or the authorization is another
                brand's.
            NotFoundError: no such authorization, or no console key.
            ConflictError: it is already revoked.
            ValidationError: too long a reason.
            RuleError: the log refuses it (already revoked, key out of scope): nothing
                is written.
        """
        self.require(staff, "revoke")
        found = [
            r
            for r in self._store.authorizations(self._ledger.log, [staff.org])
            if r["id"] == authorization
        ] if staff.kind == "brand" else []  # fmt: skip
        if not found:
            raise NotFoundError(f"no authorization {authorization[:64]!r}", field="authorization")
        if found[0]["revoked_index"] is not None:
            raise ConflictError(
                f"the authorization was revoked at index {found[0]['revoked_index']}"
            )
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > MAX_REVOKE_REASON:
            raise ValidationError(
                f"a reason is at most {MAX_REVOKE_REASON} characters", field="reason"
            )
        signed = self.keys.console_sign(
            staff.org,
            "authorization.revoke",
            authorization=authorization,
            reason=reason,
        )
        index = self._ledger.append(signed).receipts[0].index
        self.staff.audit(
            staff.org, staff.username, "revoke", f"{found[0]['partner']} {authorization}", reason
        )
        return index

    def _signed_by_console(self, org: str, index: int) -> bool:
        """Whether entry ``index`` was signed by ``org``'s console key."""
        key_id = self.keys.key_id(org)
        if key_id is None:
            return False
        return Leaf.from_bytes(self._ledger.entry(index).leaf).signed.key == key_id

    def audit_trail(self, staff: Staff) -> list[dict[str, Any]]:
        """The latest staff actions of ``staff``'s organisation (the operator's admins:
        every organisation's).

        Raises:
            ForbiddenError: the role may not manage users.
        """
        self.require(staff, "users")
        return self.staff.audit_trail(None if staff.operator else staff.org)

    def _unit_event(
        self, brand: str, kind: str, gtin: str, serial: str, **fields: Any
    ) -> SignedEvent:
        record = self._unit(gtin, serial)
        if record is None:
            raise NotFoundError(f"no unit {gtin}/{serial}", field="unit")
        return self.keys.console_sign(
            brand,
            kind,
            unit={"gtin": gtin, "serial": serial},
            prev=record.head,
            **fields,
        )

    # --- records -------------------------------------------------------------------------

    def _actor(self, actor_id: str) -> ActorRecord | None:
        found = self._ledger.store.records(self._ledger.log, {ActorRecord: [actor_id]})
        return next((a for a in found if isinstance(a, ActorRecord)), None)

    def _unit(self, gtin: str, serial: str) -> UnitRecord | None:
        found = self._ledger.store.records(self._ledger.log, {UnitRecord: [(gtin, serial)]})
        return next((u for u in found if isinstance(u, UnitRecord)), None)

    def _owned_unit(self, staff: Staff, gtin: str, serial: str) -> UnitRecord:
        unit = gs1.UnitId(gtin=gtin, serial=serial)
        record = self._unit(unit.gtin, unit.serial)
        if record is None:
            raise NotFoundError(f"no unit {unit.path()}", field="unit")
        if staff.kind != "brand" or record.brand != staff.org:
            raise ForbiddenError("only the unit's own brand signs for it from the console")
        return record


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationError("give a reason of 1-500 characters", field="reason")
    return reason


def _digital_link(text: str) -> gs1.UnitId | None:
    if "/01/" not in text:
        return None
    try:
        link = gs1.parse_digital_link(text)
    except Exception:
        return None
    if link.serial is None:
        return None
    try:
        return gs1.UnitId(gtin=link.gtin, serial=link.serial)
    except Exception:
        return None
