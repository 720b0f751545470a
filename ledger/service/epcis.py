"""EPCIS use cases of one log (`EpcisService`): export a unit or a range of the log; capture.

Capture of a partner's signed envelope (docs/EPCIS.md), steps:
    (1) the envelope's shape (ledger.epcis.capture.parse_envelope);
    (2) every EPCIS event is converted to its ledger events (pure, deterministic);
    (3) the envelope's key must be a registered key of this log;
    (4) every converted event's signature is verified with it;
    (5) if any event failed (2) or (4), the capture is refused with every reason and the
        events that were fine marked ``epcis-not-checked``;
    (6) otherwise all ledger events go through `Appender.append_batch` in one atomic batch:
        the rules refuse the first event that breaks one, which is reported for its
        EPCIS event and the later ones marked ``epcis-not-checked``.

A capture is atomic: a document is one business message, and a partial append would
leave the partner's system and the ledger disagreeing. Resubmitting a fixed document is
safe because appends are idempotent (accepted events come back as duplicates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ledger import codec, crypto, entry
from ledger.entry import Leaf, SignedEvent
from ledger.epcis.capture import Converted, convert_envelope, parse_envelope
from ledger.epcis.errors import CaptureRefusedError, NotCheckedError, Refusal
from ledger.epcis.export import export_document
from ledger.epcis.vocab import DEFAULT_EPC_BASE
from ledger.errors import LedgerError, StorageError, ValidationError
from ledger.events import format_time
from ledger.rules import UnknownKeyError
from ledger.service.append import MAX_BATCH, Appender, BatchReceipt
from ledger.store import Store

_POSITION = re.compile(r"events\[(\d+)\](?:\.(.+))?")
_PAGE = 1000


class EpcisService:
    """EPCIS export and capture of one log; captures are appended by ``appender``."""

    def __init__(
        self, store: Store, log: int, appender: Appender, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._log = log
        self._appender = appender
        self._clock = clock

    def export_unit(
        self, gtin: str, serial: str, *, epc_base: str = DEFAULT_EPC_BASE
    ) -> dict[str, Any]:
        """The EPCISDocument of one unit's chain, with the latest signed checkpoint.

        An unknown unit gives a document with an empty eventList.

        Raises:
            GS1Error: ``epc_base`` is not a valid Digital Link base URL.
        """
        head = self._store.head(self._log)
        stored = self._store.unit_entries(self._log, gtin, serial)
        entries = [
            (e.index, e.leaf_hash, Leaf.from_bytes(e.leaf, head.origin))
            for e in stored
            if e.index < head.size
        ]
        return export_document(
            entries, format_time(self._clock()), epc_base=epc_base, checkpoint=self._note(head.size)
        )

    def export_range(
        self, start: int = 0, end: int | None = None, *, epc_base: str = DEFAULT_EPC_BASE
    ) -> dict[str, Any]:
        """The EPCISDocument of every unit entry with ``start <= index < end`` (default: all).

        A ``receive`` names its sender only if the handoff is inside the range.

        Raises:
            ValidationError: ``start`` is negative or above ``end``.
            GS1Error: ``epc_base`` is not a valid Digital Link base URL.
        """
        head = self._store.head(self._log)
        stop = head.size if end is None else min(end, head.size)
        if start < 0 or (end is not None and start > end):
            raise ValidationError("expected 0 <= start <= end", field="start")
        entries = []
        for page in range(start, stop, _PAGE):
            for e in self._store.entries(self._log, page, min(stop, page + _PAGE)):
                entries.append((e.index, e.leaf_hash, Leaf.from_bytes(e.leaf, head.origin)))
        return export_document(
            entries, format_time(self._clock()), epc_base=epc_base, checkpoint=self._note(head.size)
        )

    def capture(self, data: object) -> BatchReceipt:
        """Append the ledger events of a partner's signed capture envelope to this log,
        all or none (`capture`)."""
        return capture(lambda _signed: self, data)

    @property
    def origin(self) -> str:
        """The log's checkpoint origin: format-2 events of a capture are read against it."""
        return self._appender.origin

    def public_key(self, key_id: str) -> str | None:
        """The registered public key (base64url) with id ``key_id`` in this log, or None."""
        return self._store.public_keys(self._log, {key_id}).get(key_id)

    def append_batch(self, items: Sequence[SignedEvent]) -> BatchReceipt:
        """Append the converted events in one atomic batch (`Appender.append_batch`)."""
        return self._appender.append_batch(items)

    def _note(self, size: int) -> str | None:
        return self._store.checkpoint(self._log, size).note if size else None


def capture(route: Callable[[Sequence[SignedEvent]], EpcisService], data: object) -> BatchReceipt:
    """Append the ledger events of a partner's signed capture envelope, all or none.

    ``route`` chooses the log's EPCIS service from the converted events (a deployment
    of several logs routes by unit; one log: ``EpcisService.capture``). Returns the
    batch receipt: one receipt per ledger event, in EPCIS event then EPC order
    (``duplicate`` for events already in the log).

    Raises:
        ValidationError: the envelope is malformed, or it converts to more than
            `MAX_BATCH` ledger events.
        UnknownKeyError: the envelope's key is not registered in this log.
        CaptureRefusedError: one or more events were refused (steps in the module
            docstring); nothing was written.
        StorageError: the database failed; nothing was written.
    """
    envelope = parse_envelope(data)  # (1)
    converted, refusals = convert_envelope(envelope)  # (2)
    total = len(envelope.events)
    if not converted:
        raise CaptureRefusedError(refusals, total)
    service = route([c.signed for c in converted])
    try:  # a format-2 signature names the log: read each event against the routed one
        converted = [replace(c, signed=c.signed.for_log(service.origin)) for c in converted]
    except LedgerError as e:
        raise ValidationError(e.message, field="signatures") from e
    signed = [c.signed for c in converted]
    public = service.public_key(envelope.key)  # (3)
    if public is None:
        raise UnknownKeyError(f"no registered key has id {envelope.key}", field="key")
    if len(converted) > MAX_BATCH:
        raise ValidationError(
            f"a capture holds at most {MAX_BATCH} ledger events", field="document"
        )
    key = crypto.public_key_from_raw(codec.b64url_decode(public, field="key"))
    for item in converted:  # (4)
        try:
            entry.verify_event(item.signed, key)
        except LedgerError as e:
            refusals.append(
                Refusal(item.event, item.epc, e, _event_id(envelope.events[item.event]))
            )
    if refusals:  # (5)
        raise CaptureRefusedError(refusals + _unchecked(converted, refusals, envelope), total)
    try:  # (6)
        return service.append_batch(signed)
    except StorageError:
        raise
    except LedgerError as e:
        position = _position(e, len(converted))
        if position is None:
            raise
        failed = converted[position]
        refusal = Refusal(failed.event, failed.epc, e, _event_id(envelope.events[failed.event]))
        later = _unchecked(converted[position + 1 :], [refusal], envelope)
        raise CaptureRefusedError([refusal, *later], total) from None


def _position(error: LedgerError, count: int) -> int | None:
    """Which batch item ``append_batch`` blamed; strip that prefix from the error's field."""
    if count == 1:
        return 0
    match = _POSITION.fullmatch(error.field or "")
    if match is None:
        return None
    error.field = match.group(2)
    return int(match.group(1))


def _unchecked(converted: list[Converted], refused: list[Refusal], envelope: Any) -> list[Refusal]:
    """`NotCheckedError` for each EPCIS event among ``converted`` with no refusal of its own."""
    done = {r.event for r in refused}
    out = []
    for i in sorted({c.event for c in converted} - done):
        error = NotCheckedError("not checked against the rules: another event was refused")
        out.append(Refusal(i, None, error, _event_id(envelope.events[i])))
    return out


def _event_id(epcis: Any) -> str | None:
    value = epcis.get("eventID") if isinstance(epcis, dict) else None
    return value if isinstance(value, str) else None
