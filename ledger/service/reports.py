"""Consumer reports and the brand's triage queue.

A report names a unit, a reason from `REASONS`, optional free text and an optional
photo (JPEG, PNG or WebP by its magic bytes, at most `MAX_PHOTO` bytes). It is stored
outside the signed log and routed to the brand of the unit's GTIN (no brand: the
operator's queue). Open reports put the unit's verdict on ``caution`` only when
independent reporters agree (ledger.signals.reports); until then they are a note.

The brand (or an operator) answers: ``ack`` records the first response and leaves the
report open; ``close`` closes it; ``flag`` appends the brand's signed ``flag`` entry on
the unit and closes the report with the flag's log index. The time from a report to
its first response is kept and summarised in the alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger import gs1, reqsig
from ledger.entry import SignedEvent
from ledger.errors import ConflictError, NotFoundError, ValidationError
from ledger.events import Flag, format_time
from ledger.reqsig import AuthenticationError, ForbiddenError
from ledger.rules.state import ActorRecord, KeyRecord, UnitRecord
from ledger.service.append import Appender
from ledger.service.signals import SignalService, response_summary
from ledger.shapes import AlertsShape, ReportFiledShape, ReportShape
from ledger.store import SignalStore, Store
from ledger.vocab import ReportAction, ReportReason, ReportStatus, Role, values

REASONS = values(ReportReason)
ACTIONS = values(ReportAction)
MAX_TEXT = 2000
MAX_PHOTO = 2 * 1024 * 1024
_PHOTO_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"RIFF", "image/webp"),
)


def photo_type(photo: bytes) -> str:
    """The photo's media type from its magic bytes.

    Raises:
        ValidationError: too large, or not JPEG, PNG or WebP.
    """
    if len(photo) > MAX_PHOTO:
        raise ValidationError(f"the photo exceeds {MAX_PHOTO} bytes", field="photo")
    for magic, media in _PHOTO_TYPES:
        if photo.startswith(magic) and (media != "image/webp" or photo[8:12] == b"WEBP"):
            return media
    raise ValidationError("the photo must be a JPEG, PNG or WebP image", field="photo")


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
    ) -> None:
        self._store = store
        self._signal_store = signal_store
        self._log = log
        self._appender = appender
        self._signals = signals
        self._clock = clock

    def report(
        self,
        gtin: str,
        serial: str,
        reason: str,
        *,
        text: str | None = None,
        photo: bytes | None = None,
        client: str,
        network: str | None = None,
    ) -> ReportFiledShape:
        """File a consumer report; return ``{id, status, created_at, brand}``.

        ``client`` is the reporter's daily client hash, ``network`` a per-unit pseudonym
        of its network (ledger.signals.reports counts independent reporters by both).

        Raises:
            GS1Error: a malformed GTIN or serial.
            ValidationError: an unknown reason, too long a text, a bad photo.
        """
        unit = gs1.UnitId(gtin=gtin, serial=serial)
        if reason not in REASONS:
            raise ValidationError(f"the reason must be one of {', '.join(REASONS)}", field="reason")
        text = (text or "").strip() or None
        if text is not None and len(text) > MAX_TEXT:
            raise ValidationError(f"the text exceeds {MAX_TEXT} characters", field="text")
        media = photo_type(photo) if photo else None
        found = self._store.records(self._log, {UnitRecord: [(unit.gtin, unit.serial)]})
        record = next((r for r in found if isinstance(r, UnitRecord)), None)
        brand = record.brand if record else self._signal_store.product_brand(self._log, unit.gtin)
        created = format_time(self._clock())
        row = {
            "gtin": unit.gtin,
            "serial": unit.serial,
            "brand": brand,
            "reason": reason,
            "text": text,
            "photo": photo or None,
            "photo_type": media,
            "client": client,
            "network": network,
            "created_at": created,
            "status": ReportStatus.OPEN,
        }
        report_id = self._signal_store.insert_report(self._log, row)
        return {"id": report_id, "status": ReportStatus.OPEN, "created_at": created, "brand": brand}

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
                or rotated-out key.
        """
        parsed = reqsig.parse_header(header)
        keys = self._store.records(self._log, {KeyRecord: [parsed.key]})
        key = next((k for k in keys if isinstance(k, KeyRecord)), None)
        if key is None or key.removed_index is not None:
            raise AuthenticationError("the request is signed by an unknown or retired key")
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
        return bytes(found["photo"]), str(found["photo_type"])

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
