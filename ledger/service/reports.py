"""Consumer reports and the brand's triage queue.

A report names a unit, a reason from `REASONS`, optional free text and an optional
photo (JPEG, PNG or WebP, at most `MAX_PHOTO` bytes, re-encoded without any metadata
by ledger.service.photos). Each client and each unit may file a few per day
(`ReportPolicy`). It is stored outside the signed log and routed to the brand of the
unit's GTIN (no brand: the operator's queue). Open reports put the unit's verdict on
``caution`` only when independent reporters agree (ledger.signals.reports); until then
they are a note.

The brand (or an operator) answers: ``ack`` records the first response and leaves the
report open; ``close`` closes it; ``flag`` appends the brand's signed ``flag`` entry on
the unit and closes the report with the flag's log index. The time from a report to
its first response is kept and summarised in the alerts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from ledger import gs1, reqsig
from ledger.entry import SignedEvent
from ledger.errors import ConflictError, LedgerError, NotFoundError, ValidationError
from ledger.events import Flag, format_time, parse_time
from ledger.reqsig import AuthenticationError, ForbiddenError
from ledger.rules.state import ActorRecord, KeyRecord, UnitRecord
from ledger.service import photos
from ledger.service.append import Appender
from ledger.service.policies import ReportPolicy
from ledger.service.salt import utc_day
from ledger.service.signals import SignalService, response_summary
from ledger.service.wherebought import clean_where
from ledger.shapes import AlertsShape, ReportFiledShape, ReportShape
from ledger.store import SignalStore, Store
from ledger.store.signals import Quota
from ledger.vocab import ReportAction, ReportReason, ReportStatus, Role, values

REASONS = values(ReportReason)
ACTIONS = values(ReportAction)
MAX_TEXT = 2000
MAX_PHOTO = 2 * 1024 * 1024
#: what a stored photo may be served as (photos are re-encoded on intake)
SERVED_TYPES = (photos.JPEG, photos.PNG)


class ReportQuotaError(LedgerError):
    """Too many reports from this client, or about this unit, today: try again tomorrow."""

    code = "report-quota"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def clean_photo(photo: bytes) -> tuple[bytes, str]:
    """The photo re-encoded without any metadata (ledger.service.photos) and its media
    type, ``image/jpeg`` or ``image/png``.

    Raises:
        ValidationError: more than `MAX_PHOTO` bytes.
        PhotoError: not a decodable JPEG, PNG or WebP image, or too many pixels.
    """
    if len(photo) > MAX_PHOTO:
        raise ValidationError(f"the photo exceeds {MAX_PHOTO} bytes", field="photo")
    return photos.reencode(photo)


def seconds_to_next_day(now: datetime) -> int:
    """Whole seconds from ``now`` to the next UTC midnight (at least 1): when a daily
    quota opens again."""
    moment = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    midnight = datetime.combine(moment.date() + timedelta(days=1), time(), tzinfo=UTC)
    return max(1, math.ceil((midnight - moment).total_seconds()))


class ReportService:
    """Reports of one log, their triage, the brand's alerts listing, and the request
    signatures that identify who triages.

    ``signals`` gives the alerts their clone signals; ``appender`` appends a flag.
    """

    def __init__(
        self,
        store: Store,
        signal_store: SignalStore,
        log: int,
        appender: Appender,
        signals: SignalService,
        clock: Callable[[], datetime],
        policy: ReportPolicy | None = None,
    ) -> None:
        self._store = store
        self._signal_store = signal_store
        self._log = log
        self._appender = appender
        self._signals = signals
        self._clock = clock
        self.policy = policy or ReportPolicy()

    def report(
        self,
        gtin: str,
        serial: str,
        reason: str,
        *,
        text: str | None = None,
        photo: bytes | None = None,
        where: str | None = None,
        client: str,
        network: str | None = None,
    ) -> ReportFiledShape:
        """File a consumer report; return ``{id, status, created_at, brand}``.

        At most `ReportPolicy.per_client` reports per ``client`` (a daily client hash)
        and `ReportPolicy.per_unit` per unit each UTC day: the quota is checked before
        the photo is decoded and counted in the transaction that stores the report, so a
        refused report stores nothing. The photo is stored re-encoded (`clean_photo`).
        ``client`` is the reporter's daily client hash, ``network`` a per-unit pseudonym
        of its network (ledger.signals.reports counts independent reporters by both).
        ``where`` is where the buyer bought it (a shop's name or a listing URL, checked
        by `ledger.service.wherebought.clean_where`).

        Raises:
            GS1Error: a malformed GTIN or serial.
            ValidationError: an unknown reason, too long a text, too large a photo, a
                "where bought" too long or holding control characters.
            PhotoError: a photo that is not a decodable image of sensible size.
            ReportQuotaError: the client's or the unit's reports of the day are spent.
        """
        unit = gs1.UnitId(gtin=gtin, serial=serial)
        if reason not in REASONS:
            raise ValidationError(f"the reason must be one of {', '.join(REASONS)}", field="reason")
        text = (text or "").strip() or None
        if text is not None and len(text) > MAX_TEXT:
            raise ValidationError(f"the text exceeds {MAX_TEXT} characters", field="text")
        where = clean_where(where)
        now = self._clock()
        quotas = self._quotas(unit, client, now)
        spent = self._signal_store.quota_used(self._log, quotas)
        if spent is not None:  # cheap refusal first: no photo decoded for a spent quota
            raise self._quota_error(spent, now)
        cleaned, media = clean_photo(photo) if photo else (None, None)
        found = self._store.records(self._log, {UnitRecord: [(unit.gtin, unit.serial)]})
        record = next((r for r in found if isinstance(r, UnitRecord)), None)
        brand = record.brand if record else self._signal_store.product_brand(self._log, unit.gtin)
        created = format_time(now)
        row = {
            "gtin": unit.gtin,
            "serial": unit.serial,
            "brand": brand,
            "reason": reason,
            "text": text,
            "where_bought": where,
            "photo": cleaned,
            "photo_type": media,
            "client": client,
            "network": network,
            "created_at": created,
            "status": ReportStatus.OPEN,
        }
        filed = self._signal_store.insert_report(self._log, row, quotas)
        self._signals.forget_unit(unit.gtin, unit.serial)  # its open reports changed
        if filed.report_id is None:
            raise self._quota_error(filed.spent or quotas[0], now)
        return {
            "id": filed.report_id,
            "status": ReportStatus.OPEN,
            "created_at": created,
            "brand": brand,
        }

    def _quotas(self, unit: gs1.UnitId, client: str, now: datetime) -> list[Quota]:
        day = utc_day(now)
        return [
            Quota("client", client, day, self.policy.per_client),
            Quota("unit", f"{unit.gtin}/{unit.serial}", day, self.policy.per_unit),
        ]

    def _quota_error(self, spent: Quota, now: datetime) -> ReportQuotaError:
        who = "from this client" if spent.scope == "client" else "about this unit"
        wait = seconds_to_next_day(now)
        return ReportQuotaError(
            f"too many reports {who} today (at most {spent.limit}); try again in {wait} s",
            wait,
        )

    def may_triage(self, actor: ActorRecord, brand: str | None) -> None:
        """Allow an operator, or the brand itself, to see and answer the brand's queue.

        Raises:
            ForbiddenError: anyone else, or a revoked actor.
        """
        if actor.revoked_index is not None:
            raise ForbiddenError(f"{actor.id} is revoked")
        if actor.role != Role.OPERATOR and actor.id != brand:
            raise ForbiddenError(f"{actor.id} may not see the alerts of {brand}")

    def authenticate(
        self, header: str | None, method: str, target: str, body: bytes
    ) -> ActorRecord:
        """The actor that signed a request (ledger.reqsig), with a current key.

        Raises:
            AuthenticationError: no, a malformed, a stale or a bad signature; an unknown
                or rotated-out key, or a recovered key before it takes effect.
        """
        parsed = reqsig.parse_header(header)
        keys = self._store.records(self._log, {KeyRecord: [parsed.key]})
        key = next((k for k in keys if isinstance(k, KeyRecord)), None)
        if key is None or key.removed_index is not None:
            raise AuthenticationError("the request is signed by an unknown or retired key")
        if key.effective is not None and parse_time(key.effective) > self._clock():
            # an operator's key.recover: the key speaks for its actor only once in effect
            raise AuthenticationError("the request is signed by a recovered key not yet in effect")
        reqsig.verify_request(parsed, key.public_key, method, target, body, self._clock())
        found = self._store.records(self._log, {ActorRecord: [key.actor]})
        actor = next((a for a in found if isinstance(a, ActorRecord)), None)
        if actor is None:  # pragma: no cover - a key always has its actor
            raise AuthenticationError("the key's actor is unknown")
        return actor

    def alerts(self, brand: str) -> AlertsShape:
        """The brand's triage queue: clone signals, reports (open first) and response times.

        Raises:
            NotFoundError: no such brand.
        """
        found = self._store.records(self._log, {ActorRecord: [brand]})
        actor = next((a for a in found if isinstance(a, ActorRecord)), None)
        if actor is None or actor.role != Role.BRAND:
            raise NotFoundError(f"no brand {brand!r}", field="brand")
        reports = self._signal_store.reports(self._log, brand=brand)
        return {
            "brand": brand,
            "generated": format_time(self._clock()),
            "signals": self._signals.unit_alerts(brand),
            "reports": sorted((_report_json(r) for r in reports), key=_open_first),
            "response": response_summary(reports),
        }

    def find(self, report_id: int) -> dict[str, Any] | None:
        """The stored report ``report_id`` of this log (its row, photo included), or None."""
        return self._signal_store.report(self._log, report_id)

    def has_report(self, report_id: int) -> bool:
        """Whether this log holds report ``report_id`` (a deployment asks each log)."""
        return self._signal_store.report(self._log, report_id) is not None

    def report_photo(self, report_id: int, by: ActorRecord) -> tuple[bytes, str]:
        """A report's photo and its media type, for its brand or an operator.

        Raises:
            NotFoundError: no such report, or it has no photo.
            ForbiddenError: ``by`` may not see it.
        """
        found = self._signal_store.report(self._log, report_id)
        if found is None or found["photo"] is None:
            raise NotFoundError(f"report {report_id} has no photo", field="report_id")
        self.may_triage(by, found["brand"])
        data, media = bytes(found["photo"]), str(found["photo_type"])
        if media not in SERVED_TYPES:  # ``legacy:...``: stored before re-encoding (0006)
            data, media = photos.reencode(data)
        return data, media

    def resolve_report(
        self,
        report_id: int,
        *,
        by: ActorRecord,
        action: str,
        note: str | None = None,
        flag: SignedEvent | None = None,
    ) -> ReportShape:
        """Answer a report as ``by`` (its brand or an operator); return the report.

        Raises:
            NotFoundError: no such report.
            ForbiddenError: ``by`` may not answer it.
            ValidationError: an unknown action; a ``flag`` without a flag event on the
                report's unit signed by ``by``.
            ConflictError: the report was already closed.
            RuleError, SignatureError: the ledger refuses the flag (nothing is changed).
        """
        report = self._signal_store.report(self._log, report_id)
        if report is None:
            raise NotFoundError(f"no report {report_id}", field="report")
        self.may_triage(by, report["brand"])
        if action not in ACTIONS:
            raise ValidationError(f"the action must be one of {', '.join(ACTIONS)}", field="action")
        if report["status"] != ReportStatus.OPEN:
            raise ConflictError(f"report {report_id} is already {report['status']}")
        now = format_time(self._clock())
        values: dict[str, Any] = {"first_response_at": report["first_response_at"] or now}
        if note:
            values["note"] = note[:MAX_TEXT]
        if action != ReportAction.ACK:
            values.update(status=ReportStatus.CLOSED, resolved_at=now, resolved_by=by.id)
        if action == ReportAction.FLAG:
            values.update(
                status=ReportStatus.FLAGGED, flag_index=self._append_flag(report, by, flag)
            )
        if not self._signal_store.update_report(self._log, report_id, ReportStatus.OPEN, values):
            raise ConflictError(f"report {report_id} was answered meanwhile")
        self._signals.forget_unit(report["gtin"], report["serial"])  # its open reports changed
        return _report_json({**report, **values})

    def _append_flag(
        self, report: dict[str, Any], by: ActorRecord, flag: SignedEvent | None
    ) -> int:
        event = flag.event if flag else None
        if flag is None or not isinstance(event, Flag):
            raise ValidationError("a flag resolution needs a signed flag event", field="flag")
        if (event.unit.gtin, event.unit.serial) != (report["gtin"], report["serial"]):
            raise ValidationError("the flag names another unit than the report", field="flag")
        if event.actor != by.id:
            raise ValidationError("the flag must be signed by whoever resolves", field="flag")
        return self._appender.append(flag).receipts[0].index


def _report_json(row: dict[str, Any]) -> ReportShape:
    unit = gs1.UnitId(gtin=row["gtin"], serial=row["serial"])
    return {
        "id": row["id"],
        "unit": {"gtin": unit.gtin, "serial": unit.serial, "path": unit.path()},
        "brand": row["brand"],
        "reason": row["reason"],
        "text": row["text"],
        "where": row.get("where_bought"),
        "photo": bool(row.get("has_photo", row.get("photo"))),
        "created_at": row["created_at"],
        "status": row["status"],
        "first_response_at": row["first_response_at"],
        "resolved_at": row["resolved_at"],
        "resolved_by": row["resolved_by"],
        "note": row["note"],
        "flag_index": row["flag_index"],
    }


def _open_first(report: ReportShape) -> tuple[int, int]:
    return (0 if report["status"] == ReportStatus.OPEN else 1, -int(report["id"]))
