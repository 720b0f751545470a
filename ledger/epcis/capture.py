"""A partner's capture envelope -> signed ledger events, or a refusal per EPCIS event.

The envelope (docs/EPCIS.md) is::

    {"format": "provenance-ledger/epcis-capture/v1", "actor": ACTOR, "key": KEY_ID,
     "document": EPCISDocument,
     "signatures": [[{"prev": HEAD, "sig": SIG}, ...one per EPC...], ...one per event...]}
  (each signature with ``"v": 2`` when it is format 2, signed for the log's origin)

Each ObjectEvent of ``document`` with N EPCs becomes N ledger events by the
deterministic mapping below; ``prev`` (the unit's head the event extends) comes from
the envelope, ``actor`` is the envelope's. ``sig`` is the partner's ordinary Ed25519
event signature over the converted event's message (ledger.entry: format 2 names the
log's origin, which the service supplies from the log it routes to), so each
resulting entry is a plain signed event that anyone verifies like every other one.

Conversion of one ObjectEvent (or AggregationEvent), steps:
    (1) ``type`` is ObjectEvent, or AggregationEvent for packing and unpacking;
    (2) (bizStep, disposition) is a row of the table (ledger.epcis.vocab), the row's
        kind is importable, and ``action`` is the row's;
    (3) ``epcList`` (an AggregationEvent's ``childEPCs``) holds 1 or more GS1 Digital
        Link URIs of serialized units (any host; lot and query ignored: a unit is its
        GTIN and serial); an AggregationEvent's ``parentID`` is the container's SSCC
        (``{base}/00/{sscc}`` or ``urn:epc:id:sscc:...``), ``pl:inner`` the container the
        units are in, put into it with them (one ``pack`` per unit);
    (4) ``eventTime`` (any offset) becomes UTC, keeping 0, 3 or 6 fraction digits;
    (5) parties: ``pl:actor``, the sourceList ``possessing_party`` of a handoff,
        return, sale or delivery and the destinationList ``possessing_party`` of a
        receipt name the signing actor if they name anyone; a handoff or return names
        its recipient as the one destination ``possessing_party`` actor URI;
    (6) ``place`` is ``pl:place``, else ``readPoint.id``, else ``bizLocation.id``;
        ``note`` is ``pl:note`` (inspect); ``reason`` is ``pl:reason`` (required for
        recall and decommission);
    (7) the ledger's own event validation (ledger.events).

Every other field (eventID, recordTime, bizTransactionList, ``pl:index``, ...) is
ignored: it is not signed and does not enter the ledger. No I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger import codec, crypto, gs1
from ledger.entry import FORMAT_1, FORMATS, SignedEvent
from ledger.epcis.errors import (
    EpcError,
    EventTimeError,
    MissingFieldError,
    NotImportableError,
    NotObjectEventError,
    PartyError,
    Refusal,
    SignatureCountError,
    UnmappedError,
)
from ledger.epcis.vocab import EXT, Shape, actor_of, actor_uri, bare, shape_for
from ledger.errors import EncodingError, LedgerError, ValidationError
from ledger.events import Event, check_actor_id, event_from_dict
from ledger.sscc import parse_sscc

FORMAT = "provenance-ledger/epcis-capture/v1"
MAX_EVENTS = 1000  # ledger events per capture: one atomic batch (ledger.service.ledger.MAX_BATCH)
_ENVELOPE_FIELDS = {"format", "actor", "key", "document", "signatures"}
_EVENT_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")
_SOURCE_KINDS = ("handoff", "return", "sell", "deliver")  # the signer gives the unit up


@dataclass(frozen=True)
class Envelope:
    """A parsed capture envelope: who signs, the EPCIS events, one (prev, sig) per EPC."""

    actor: str
    key: str
    events: tuple[Mapping[str, Any], ...]
    signatures: tuple[tuple[tuple[str, bytes, int], ...], ...]


@dataclass(frozen=True)
class Converted:
    """One ledger event made from EPC ``epc`` of EPCIS event ``event``."""

    event: int
    epc: int
    signed: SignedEvent


def parse_envelope(data: object) -> Envelope:
    """Check the envelope's shape (not the EPCIS events, not the signatures).

    Raises:
        ValidationError: a missing, unknown or malformed member (``field`` names it).
    """
    if not isinstance(data, Mapping):
        raise ValidationError("expected a JSON object", field="envelope")
    extra, missing = sorted(set(data) - _ENVELOPE_FIELDS), sorted(_ENVELOPE_FIELDS - set(data))
    if extra or missing:
        wrong = extra[0] if extra else missing[0]
        raise ValidationError(
            "unknown field" if extra else "required field is missing", field=wrong
        )
    if data["format"] != FORMAT:
        raise ValidationError(f"expected {FORMAT!r}", field="format")
    actor = check_actor_id(data["actor"], "actor")
    key = _b64(data["key"], "key", crypto.KEY_ID_SIZE)
    events = event_list(data["document"])
    signatures = data["signatures"]
    if not isinstance(signatures, list) or len(signatures) != len(events):
        raise ValidationError("expected one list of signatures per EPCIS event", field="signatures")
    return Envelope(
        actor=actor,
        key=key,
        events=tuple(events),
        signatures=tuple(_signatures(s, f"signatures[{i}]") for i, s in enumerate(signatures)),
    )


def event_list(document: object) -> list[Mapping[str, Any]]:
    """Return the ``eventList`` of an ``EPCISDocument``.

    Raises:
        ValidationError: not an EPCISDocument with 1 to `MAX_EVENTS` events.
    """
    if not isinstance(document, Mapping) or document.get("type") != "EPCISDocument":
        raise ValidationError("expected an EPCIS 2.0 EPCISDocument", field="document.type")
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, Mapping) else None
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        raise ValidationError(
            f"expected epcisBody.eventList with 1 to {MAX_EVENTS} events",
            field="document.epcisBody.eventList",
        )
    for i, item in enumerate(events):
        if not isinstance(item, Mapping):
            raise ValidationError(
                "expected a JSON object", field=f"document.epcisBody.eventList[{i}]"
            )
    return events


def _signatures(value: object, field: str) -> tuple[tuple[str, bytes, int], ...]:
    if not isinstance(value, list):
        raise ValidationError("expected a list of {prev, sig}", field=field)
    out = []
    for j, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) - {"v"} != {"prev", "sig"}:
            raise ValidationError('expected {"prev": ..., "sig": ...}', field=f"{field}[{j}]")
        prev = _b64(item["prev"], f"{field}[{j}].prev", 32)
        sig = codec.b64url_decode(_b64(item["sig"], f"{field}[{j}].sig", 64), field="sig")
        v = item.get("v", FORMAT_1)
        if type(v) is not int or v not in FORMATS or ("v" in item and v == FORMAT_1):
            raise ValidationError("v is 2 (format 2) or absent (format 1)", field=f"{field}[{j}].v")
        out.append((prev, sig, v))
    return tuple(out)


def _b64(value: object, field: str, size: int) -> str:
    try:
        codec.b64url_decode(value, field=field, size=size)  # type: ignore[arg-type]
    except EncodingError as e:
        raise ValidationError(e.message, field=field) from e
    return str(value)


# --- one EPCIS event ----------------------------------------------------------------------


def shape_of_event(epcis: Mapping[str, Any]) -> Shape:
    """Steps (1) and (2): the table row an ObjectEvent maps to.

    Raises:
        NotObjectEventError, UnmappedError, NotImportableError: see the module steps.
    """
    kind = epcis.get("type")
    if kind not in ("ObjectEvent", "AggregationEvent"):
        raise NotObjectEventError(
            f"only ObjectEvents and AggregationEvents are captured, not {kind!r}", field="type"
        )
    step, disposition = epcis.get("bizStep"), epcis.get("disposition")
    if not isinstance(step, str) or not isinstance(disposition, str | None):
        raise UnmappedError(
            "bizStep must be a string (disposition a string if present)", field="bizStep"
        )
    step = bare("bizStep", step)
    disposition = bare("disposition", disposition) if disposition is not None else None
    shape = shape_for(step, disposition)
    if shape is None:
        raise UnmappedError(
            f"bizStep {step!r} with disposition {disposition!r} maps to no ledger event",
            field="bizStep",
        )
    if shape.type != kind:
        raise NotObjectEventError(
            f"a {step} event is captured as an {shape.type}, not an {kind}", field="type"
        )
    if not shape.importable:
        raise NotImportableError(
            f"{shape.kind} events are not captured through EPCIS", field="bizStep"
        )
    if epcis.get("action") != shape.action:
        raise UnmappedError(
            f"a {step} event has action {shape.action}, not {epcis.get('action')!r}",
            field="action",
        )
    return shape


def epc_units(epcis: Mapping[str, Any]) -> list[gs1.UnitId]:
    """Step (3): the units an ObjectEvent names, in ``epcList`` order.

    Raises:
        EpcError: no epcList, an empty one, a duplicate, or an EPC that is not a GS1
            Digital Link URI of a serialized unit.
    """
    name = "childEPCs" if epcis.get("type") == "AggregationEvent" else "epcList"
    epcs = epcis.get(name)
    if not isinstance(epcs, list) or not epcs:
        raise EpcError(f"expected a non-empty {name} of GS1 Digital Link URIs", field=name)
    units = []
    for j, uri in enumerate(epcs):
        try:
            units.append(gs1.parse_digital_link(uri).unit_id())
        except LedgerError as e:
            raise EpcError(
                f"not a GS1 Digital Link of a unit: {e.message}", field=f"{name}[{j}]"
            ) from e
    if len(set(units)) != len(units):
        raise EpcError("a unit is listed twice", field=name)
    return units


def ledger_time(value: object) -> str:
    """Step (4): an EPCIS eventTime as the ledger's UTC time, fraction kept (0, 3 or 6 digits).

    Raises:
        EventTimeError: not RFC 3339 with an offset, not a real time, or finer than 1 us.
    """
    match = _EVENT_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise EventTimeError("expected an RFC 3339 eventTime with an offset", field="eventTime")
    whole, fraction, offset = match.groups()
    if fraction is not None and len(fraction) > 6:
        raise EventTimeError("the ledger keeps at most microseconds", field="eventTime")
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if offset == "Z" else offset))
    except ValueError as e:
        raise EventTimeError(f"not a valid time: {e}", field="eventTime") from e
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + fraction.ljust(3 if len(fraction) <= 3 else 6, "0")
    return text + "Z"


def convert_event(epcis: Mapping[str, Any], actor: str, prevs: Sequence[str]) -> list[Event]:
    """Convert one ObjectEvent into the ledger events it stands for, one per EPC.

    Args:
        epcis: the ObjectEvent.
        actor: the signing actor (the envelope's).
        prevs: the head each EPC's event extends, in ``epcList`` order.

    Raises:
        EpcisError: a subclass naming the failed step (module docstring).
        SignatureCountError: ``prevs`` does not have one head per EPC.
        ValidationError: the converted event is malformed (step 7).
    """
    shape = shape_of_event(epcis)  # (1), (2)
    units = epc_units(epcis)  # (3)
    fields: dict[str, Any] = {
        "kind": shape.kind,
        "actor": actor,
        "time": ledger_time(epcis.get("eventTime")),  # (4)
    }
    fields.update(_parties(epcis, shape, actor))  # (5)
    fields.update(_details(epcis, shape))  # (6)
    if len(prevs) != len(units):
        raise SignatureCountError(
            f"{len(units)} EPCs need {len(units)} signatures, not {len(prevs)}", field="signatures"
        )
    return [
        event_from_dict(
            {**fields, "unit": {"gtin": u.gtin, "serial": u.serial}, "prev": prev}
        )  # (7)
        for u, prev in zip(units, prevs, strict=True)
    ]


def _party_ids(epcis: Mapping[str, Any], list_name: str, member: str) -> list[str]:
    """The ``possessing_party`` URIs of a source or destination list."""
    items = epcis.get(list_name, [])
    if not isinstance(items, list):
        raise PartyError(f"{list_name} must be a list", field=list_name)
    return [
        item[member]
        for item in items
        if isinstance(item, Mapping)
        and isinstance(item.get("type"), str)
        and bare("type", item["type"]) == "possessing_party"
    ]


def _parties(epcis: Mapping[str, Any], shape: Shape, actor: str) -> dict[str, Any]:
    named = epcis.get(EXT + "actor")
    if named is not None and named != actor_uri(actor):
        raise PartyError(f"the event names {named!r}, but {actor} signs it", field=EXT + "actor")
    sources = _party_ids(epcis, "sourceList", "source")
    destinations = _party_ids(epcis, "destinationList", "destination")
    mine = (
        sources if shape.kind in _SOURCE_KINDS else destinations if shape.kind == "receive" else []
    )
    for uri in mine:
        if actor_of(uri) != actor:
            raise PartyError(
                f"possessing_party {uri!r} is not the signer {actor}",
                field="sourceList" if mine is sources else "destinationList",
            )
    if shape.kind not in ("handoff", "return"):
        return {}
    recipients = [actor_of(uri) for uri in destinations]
    if len(recipients) != 1 or recipients[0] is None:
        raise PartyError(
            f"a {shape.biz_step} event needs one destinationList possessing_party "
            f"naming an actor ({actor_uri('ACTOR-ID')})",
            field="destinationList",
        )
    return {"to": recipients[0]}


def _details(epcis: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    out: dict[str, Any] = {}
    place = epcis.get(EXT + "place")
    for where in ("readPoint", "bizLocation"):
        if place is None and isinstance(epcis.get(where), Mapping):
            place = epcis[where].get("id")
    if place is not None:
        out["place"] = place
    if shape.kind == "inspect":
        out["result"] = shape.result
        if EXT + "note" in epcis:
            out["note"] = epcis[EXT + "note"]
    if shape.kind in ("pack", "unpack"):
        out.update(_containers(epcis, shape))
    if shape.kind in ("return", "recall", "decommission"):
        reason = epcis.get(EXT + "reason")
        if reason is None and shape.kind != "return":
            raise MissingFieldError(f"a {shape.kind} needs {EXT}reason", field=EXT + "reason")
        if reason is not None:
            out["reason"] = reason
    return out


def _containers(epcis: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    """An AggregationEvent's container (``parentID``: an SSCC's Digital Link or EPC URN)
    and, for a ``pack``, the inner container the units went in with (``pl:inner``)."""
    try:
        out = {"container": parse_sscc(epcis.get("parentID"), "parentID")}  # type: ignore[arg-type]
        if shape.kind == "pack" and epcis.get(EXT + "inner") is not None:
            out["inner"] = parse_sscc(epcis[EXT + "inner"], EXT + "inner")
    except LedgerError as e:
        raise EpcError(f"not an SSCC: {e.message}", field=e.field) from e
    return out


# --- whole envelopes ----------------------------------------------------------------------


def convert_envelope(envelope: Envelope) -> tuple[list[Converted], list[Refusal]]:
    """Convert every event of ``envelope``; return the signed events and the refusals.

    Signatures are attached, not verified (the service verifies them with the
    partner's registered key).
    """
    converted: list[Converted] = []
    refusals: list[Refusal] = []
    for i, epcis in enumerate(envelope.events):
        signatures = envelope.signatures[i]
        try:
            events = convert_event(epcis, envelope.actor, [prev for prev, _, _ in signatures])
        except LedgerError as e:
            refusals.append(Refusal(i, None, e, event_id_of(epcis)))
            continue
        for j, (event, (_, sig, v)) in enumerate(zip(events, signatures, strict=True)):
            data = codec.canonical(event.to_dict())
            converted.append(Converted(i, j, SignedEvent(event, data, envelope.key, sig, v)))
    return converted, refusals


def event_id_of(epcis: Mapping[str, Any]) -> str | None:
    value = epcis.get("eventID")
    return value if isinstance(value, str) else None
