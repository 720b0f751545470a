"""Log entries -> an EPCIS 2.0 ``EPCISDocument`` of ObjectEvents (JSON-LD).

Each unit entry becomes one ObjectEvent (table in `ledger.epcis.vocab`, docs/EPCIS.md),
a ``pack`` or ``unpack`` one AggregationEvent (action ADD or DELETE): ``parentID`` is the
container's Digital Link ``{base}/00/{sscc}``, ``childEPCs`` the unit's, ``pl:inner`` the
container the unit was in when it went in with it (a carton put on a pallet):

- ``epcList`` holds the unit's canonical GS1 Digital Link ``{base}/01/{gtin14}/21/{serial}``;
- ``eventTime`` is the signed event time, ``recordTime`` the log's receive time;
- ``eventID`` is the RFC 6920 ``ni:///sha-256;{base64url}`` name of the event hash
  (SHA-256 over the event's signed message, docs/FORMAT.md section 3): it names the signed
  ledger event, so it carries no ``?ver=CBV2.0`` (that suffix marks the CBV 2.0
  section 8.9 hash of the EPCIS event itself, a different preimage);
- custody moves appear as ``sourceList`` / ``destinationList`` of ``possessing_party``
  (and ``owning_party`` for the brand at commissioning), parties named by actor URIs;
- the log index, leaf hash, signer, kind and ``prev`` ride along as ``pl:`` extension
  properties, so every EPCIS event leads back to its ledger entry.

Non-unit entries (actors, keys, products, authorizations) have no EPCIS form and are
skipped. Pure: the caller hands in the entries; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ledger import codec, gs1
from ledger.entry import Leaf
from ledger.epcis.vocab import CONTEXT, DEFAULT_EPC_BASE, EXT, actor_uri, shape_of
from ledger.errors import ValidationError
from ledger.events import (
    Commission,
    Decommission,
    Flag,
    Handoff,
    Inspect,
    Pack,
    Recall,
    Receive,
    Return,
    UnitEvent,
    Unpack,
)
from ledger.sscc import sscc_link

Entry = tuple[int, bytes, Leaf]
"""One log entry as the exporter needs it: (index, RFC 9162 leaf hash, parsed leaf)."""


def event_id(event_hash: bytes) -> str:
    """Return the RFC 6920 ``ni`` URI of an event hash (section 3: unpadded base64url)."""
    return "ni:///sha-256;" + codec.b64url_encode(event_hash)


def export_document(
    entries: Iterable[Entry],
    created: str,
    *,
    epc_base: str = DEFAULT_EPC_BASE,
    checkpoint: str | None = None,
) -> dict[str, Any]:
    """Return the ``EPCISDocument`` for the unit entries among ``entries`` (log order).

    ``created`` is the document's ``creationDate`` (RFC 3339); ``checkpoint``, when
    given, is the signed C2SP checkpoint covering the entries (``pl:checkpoint``).

    Raises:
        GS1Error: ``epc_base`` is not a valid Digital Link base URL.
    """
    pending: dict[gs1.UnitId, str] = {}  # who sent a unit now awaiting receipt
    events = []
    for index, leaf_hash, leaf in entries:
        event = leaf.signed.event
        if not isinstance(event, UnitEvent):
            continue
        events.append(export_event(index, leaf_hash, leaf, pending.get(event.unit), epc_base))
        if isinstance(event, Handoff | Return):
            pending[event.unit] = event.actor
        elif isinstance(event, Receive):
            pending.pop(event.unit, None)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"eventList": events},
    }
    if checkpoint is not None:
        document[EXT + "checkpoint"] = checkpoint
    return document


def export_event(
    index: int, leaf_hash: bytes, leaf: Leaf, sender: str | None, epc_base: str
) -> dict[str, Any]:
    """Return the ObjectEvent of one unit entry.

    ``sender`` is who handed the unit over when the entry is a ``receive`` (the
    ``sourceList`` party), if the caller knows it.

    Raises:
        ValidationError: the entry is not a unit event.
        GS1Error: ``epc_base`` is not a valid Digital Link base URL.
    """
    event = leaf.signed.event
    if not isinstance(event, UnitEvent):
        raise ValidationError("only unit events have an EPCIS form", field="kind")
    shape = shape_of(event.kind, getattr(event, "result", None))
    out: dict[str, Any] = {
        "type": shape.type,
        "eventID": event_id(leaf.signed.hash),
        "eventTime": event.time,
        "eventTimeZoneOffset": "+00:00",
        "recordTime": leaf.received,
        "action": shape.action,
        "bizStep": shape.biz_step,
    }
    if shape.disposition is not None:
        out["disposition"] = shape.disposition
    link = gs1.format_digital_link(epc_base, event.unit.gtin, event.unit.serial)
    if isinstance(event, Pack | Unpack):  # the container is the parent, the unit its child
        out["parentID"] = sscc_link(epc_base, event.container)
        out["childEPCs"] = [link]
    else:
        out["epcList"] = [link]
    out.update(_parties(event, sender))
    if isinstance(event, Commission) and event.lot is not None:
        out["ilmd"] = {"cbvmda:lotNumber": event.lot}
    out.update(_extensions(index, leaf_hash, event))
    return out


def _parties(event: UnitEvent, sender: str | None) -> dict[str, Any]:
    """sourceList / destinationList (CBV 2.0 source/destination types) of a custody move."""

    def party(kind: str, role: str, actor: str) -> dict[str, str]:
        return {"type": role, kind: actor_uri(actor)}

    if isinstance(event, Commission):
        return {
            "destinationList": [
                party("destination", "owning_party", event.actor),
                party("destination", "possessing_party", event.actor),
            ]
        }
    if isinstance(event, Handoff | Return):
        return {
            "sourceList": [party("source", "possessing_party", event.actor)],
            "destinationList": [party("destination", "possessing_party", event.to)],
        }
    if isinstance(event, Receive):
        out: dict[str, Any] = {
            "destinationList": [party("destination", "possessing_party", event.actor)]
        }
        if sender is not None:
            out["sourceList"] = [party("source", "possessing_party", sender)]
        return out
    if event.kind in ("sell", "deliver"):
        return {"sourceList": [party("source", "possessing_party", event.actor)]}
    return {}


def _extensions(index: int, leaf_hash: bytes, event: UnitEvent) -> dict[str, Any]:
    """The ``pl:`` properties: where the entry sits, and the fields EPCIS has no slot for."""
    out: dict[str, Any] = {
        EXT + "index": index,
        EXT + "leafHash": codec.b64url_encode(leaf_hash),
        EXT + "kind": event.kind,
        EXT + "actor": actor_uri(event.actor),
    }
    if event.prev is not None:
        out[EXT + "prev"] = event.prev
    if event.place is not None:
        out[EXT + "place"] = event.place
    if isinstance(event, Inspect | Flag) and event.note is not None:
        out[EXT + "note"] = event.note
    if isinstance(event, Return | Recall | Decommission) and event.reason is not None:
        out[EXT + "reason"] = event.reason
    if isinstance(event, Flag):
        out[EXT + "code"] = event.code
    if isinstance(event, Commission) and event.expiry is not None:
        out[EXT + "expiry"] = event.expiry
    if isinstance(event, Pack) and event.inner is not None:
        out[EXT + "inner"] = event.inner
    return out
