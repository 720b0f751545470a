"""The EPCIS vocabulary of the ledger: one mapping table, URIs, extension fields.

Each ledger unit kind maps to one EPCIS 2.0 ObjectEvent shape (action, CBV 2.0 bizStep,
disposition), ``pack`` and ``unpack`` to an AggregationEvent shape; the same table read
backwards turns a partner's EPCIS event into a ledger kind. It is docs/EPCIS.md's
table, and a test checks the two agree.

Ledger fields EPCIS has no place for travel as JSON-LD extension properties under the
prefix ``pl:`` (``urn:provenance-ledger:epcis:``), declared in the document's
``@context`` as EPCIS 2.0 section 9.3 (user extensions) allows. Actors are named by
the URN ``urn:provenance-ledger:actor:{actor id}``. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.errors import ValidationError

#: the EPCIS 2.0 JSON-LD context (EPCIS 2.0 section 9.3) plus our extension prefix
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EXTENSION_NS = "urn:provenance-ledger:epcis:"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"pl": EXTENSION_NS}]
EXT = "pl:"
ACTOR_URN = "urn:provenance-ledger:actor:"
BIZSTEP_URN = "urn:provenance-ledger:bizstep:"
#: the canonical GS1 Digital Link host: EPCIS 2.0 names instances by canonical URIs
DEFAULT_EPC_BASE = "https://id.gs1.org"

# CBV 2.0 values may also arrive as full URIs (CBV section 6.x); we compare bare words.
_CBV_PREFIXES = {
    "bizStep": ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:"),
    "disposition": ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:"),
    "type": ("https://ref.gs1.org/cbv/SDT-", "urn:epcglobal:cbv:sdt:"),
}


@dataclass(frozen=True)
class Shape:
    """One row of the mapping table.

    ``result`` is the ``inspect`` result the disposition stands for (else None);
    ``importable`` says whether a partner may capture this kind through EPCIS.
    """

    kind: str
    action: str
    biz_step: str
    disposition: str | None
    importable: bool
    result: str | None = None
    #: the EPCIS event type: an ObjectEvent, or for ``pack``/``unpack`` an
    #: AggregationEvent (its ``parentID`` the container, ``childEPCs`` the unit)
    type: str = "ObjectEvent"


TABLE: tuple[Shape, ...] = (
    Shape("commission", "ADD", "commissioning", "active", importable=False),
    Shape("handoff", "OBSERVE", "shipping", "in_transit", importable=True),
    Shape("receive", "OBSERVE", "receiving", "in_progress", importable=True),
    Shape("inspect", "OBSERVE", "inspecting", "conformant", importable=True, result="pass"),
    Shape("inspect", "OBSERVE", "inspecting", "non_conformant", importable=True, result="fail"),
    Shape("sell", "OBSERVE", "retail_selling", "retail_sold", importable=True),
    Shape("deliver", "OBSERVE", "shipping", "retail_sold", importable=True),
    Shape("return", "OBSERVE", "shipping", "returned", importable=True),
    Shape("recall", "OBSERVE", "holding", "recalled", importable=True),
    Shape("decommission", "DELETE", "decommissioning", "inactive", importable=True),
    Shape("claim", "OBSERVE", BIZSTEP_URN + "claiming", "retail_sold", importable=False),
    Shape("flag", "OBSERVE", BIZSTEP_URN + "flagging", None, importable=False),
    Shape("consume", "OBSERVE", BIZSTEP_URN + "consuming", "inactive", importable=False),
    Shape("pack", "ADD", "packing", "in_progress", importable=True, type="AggregationEvent"),
    Shape("unpack", "DELETE", "unpacking", "in_progress", importable=True, type="AggregationEvent"),
)

_BY_STEP = {(s.biz_step, s.disposition): s for s in TABLE}


def shape_of(kind: str, result: str | None = None) -> Shape:
    """Return the table row for a ledger unit kind (and an inspection's result).

    Raises:
        ValidationError: the kind has no EPCIS shape (it is not a unit kind).
    """
    for shape in TABLE:
        if shape.kind == kind and (shape.result is None or shape.result == result):
            return shape
    raise ValidationError(f"kind {kind!r} has no EPCIS mapping", field="kind")


def shape_for(biz_step: str, disposition: str | None) -> Shape | None:
    """Return the row whose (bizStep, disposition) matches, or None (unmapped)."""
    return _BY_STEP.get((biz_step, disposition))


def bare(term: str, value: str) -> str:
    """Return a CBV value as its bare word (``shipping`` for its URI forms)."""
    for prefix in _CBV_PREFIXES[term]:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def actor_uri(actor_id: str) -> str:
    """Return the URI that names an actor in source and destination lists."""
    return ACTOR_URN + actor_id


def actor_of(uri: object) -> str | None:
    """Return the actor id an actor URI names, or None if it is not one of ours."""
    if isinstance(uri, str) and uri.startswith(ACTOR_URN):
        return uri[len(ACTOR_URN) :]
    return None
