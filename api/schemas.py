"""Pydantic models and ``responses`` entries that document the API in OpenAPI (only that).

Routes return the service's plain dicts as JSON directly. Their shapes are defined once,
as typed dicts in `ledger.shapes`; the models here are built from those (`_model`),
adding only what OpenAPI documents beyond the types (bounds, patterns, examples), so
clients and schemathesis know what to expect and the two cannot drift apart. Every
error status a route can answer is listed with `problems`, as ``application/problem+json``.
Binary values are unpadded base64url strings (docs/FORMAT.md).
"""

from __future__ import annotations

import copy
import inspect
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model
from pydantic.fields import FieldInfo

from api import schemas_epcis, schemas_events, schemas_evidence
from ledger import shapes
from ledger.vocab import SignalCode

B64 = r"^[A-Za-z0-9_-]*$"


_CODE = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_TYPE = r"^urn:provenance-ledger:problem:[a-z0-9]+(-[a-z0-9]+)*$"


class EpcisRefusal(BaseModel):
    """Why one event of an EPCIS capture (``event``: its place in the document; ``epc``:
    the EPC to blame, if one is) was refused: a problem of its own."""

    model_config = ConfigDict(extra="forbid")
    event: int = Field(ge=0)
    epc: int | None = Field(default=None, ge=0)
    eventID: str | None = None  # noqa: N815 - the EPCIS member's own name
    type: str = Field(pattern=_TYPE)
    code: str = Field(pattern=_CODE)
    status: int = Field(ge=400, le=599)
    detail: str
    field: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, with the members some refusals add: a witness's stale
    ``size`` (409), a wrong claim code's ``attempts_left`` and ``wait_after``, an EPCIS
    capture's refused ``events``."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern=_TYPE, examples=["urn:provenance-ledger:problem:head-conflict"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(pattern=_CODE, examples=["head-conflict"])
    field: str | None = Field(default=None, examples=["events[0].prev"])
    size: int | None = Field(default=None, ge=0)
    attempts_left: int | None = Field(default=None, ge=0)
    wait_after: int | None = Field(default=None, ge=0)
    events: list[EpcisRefusal] | None = None


#: closed: a member the shape does not name is drift, and schemathesis reports it
_CLOSED = ConfigDict(extra="forbid")
#: marks a schema that `document_components` replaces by a ``$ref`` to the component it
#: names (pydantic resolves every ``$ref`` it sees, and cannot see these components)
_LINK = schemas_evidence.LINK
#: a signed event as the log holds it: one of the kinds (api.schemas_events)
_EVENT = Annotated[dict[str, Any], WithJsonSchema({_LINK: "Event"})]
_SIGNALS = tuple(str(code) for code in SignalCode)


def _evidence(name: str) -> Any:
    """A code's evidence (api.schemas_evidence): the member is any code's, and the
    model's rules (`_by_code`) pick its own code's."""
    return Annotated[dict[str, Any], WithJsonSchema({_LINK: name})]


def _by_code(codes: tuple[str, ...]) -> ConfigDict:
    """A closed model whose ``evidence`` is the shape of its ``code``."""
    return ConfigDict(extra="forbid", json_schema_extra={"allOf": schemas_evidence.rules(codes)})


def _model(
    shape: type,
    name: str,
    *,
    config: ConfigDict = _CLOSED,
    types: dict[str, Any] | None = None,
    **fields: Any,
) -> type[BaseModel]:
    """The pydantic model (OpenAPI component ``name``) of a `ledger.shapes` typed dict.

    The fields, their types and which are required come from ``shape``; ``fields`` only
    documents some of them (a `Field` with bounds, a pattern, examples), ``types``
    replaces the type of some (a plain dict that has a schema of its own). A shape
    nested in ``shape`` must have its model already (it becomes a ``$ref`` to that
    component). A key the shape does not require is optional with default None unless
    ``fields`` says otherwise. The model is closed (``additionalProperties: false``)
    unless ``config`` says otherwise.

    Raises:
        TypeError: ``fields`` or ``types`` names a field the shape does not have.
    """
    hints = {**get_type_hints(shape), **(types or {})}
    unknown = (set(fields) | set(types or {})) - set(get_type_hints(shape))
    if unknown:
        raise TypeError(f"{shape.__name__} has no field {', '.join(sorted(unknown))}")
    required: frozenset[str] = getattr(shape, "__required_keys__", frozenset())
    definitions: dict[str, Any] = {
        key: (
            _swap(hint),
            fields.get(key, FieldInfo() if key in required else Field(default=None)),
        )
        for key, hint in hints.items()
    }
    model = create_model(
        name,
        __doc__=inspect.cleandoc(shape.__doc__ or ""),
        __config__=config,
        **definitions,
    )
    _MODELS[shape] = model
    return model


_MODELS: dict[type, type[BaseModel]] = {}


def _swap(hint: Any) -> Any:
    """``hint`` with every shape in it replaced by its model (list[X], X | None, ...)."""
    if hint in _MODELS:
        return _MODELS[hint]
    origin, args = get_origin(hint), get_args(hint)
    if not args:
        return hint
    swapped = tuple(_swap(a) for a in args)
    if origin in (Union, UnionType):
        return Union[swapped]  # noqa: UP007 - built from a tuple of types
    return origin[swapped] if len(swapped) > 1 else origin[swapped[0]]


def _index() -> Any:
    """A log index (a fresh `Field` each time: pydantic keeps per-field state in it)."""
    return Field(ge=0)


def _b64() -> Any:
    """An unpadded base64url string (docs/FORMAT.md)."""
    return Field(pattern=B64)


ReceiptItem = _model(
    shapes.ReceiptItemShape, "ReceiptItem", index=_index(), leaf_hash=_b64(), event_hash=_b64()
)
Receipt = _model(shapes.ReceiptShape, "Receipt", size=Field(ge=0))
ClaimReceipt = _model(shapes.ClaimShape, "ClaimReceipt", index=_index())
EntryView = _model(
    shapes.EntryShape,
    "EntryView",
    types={"event": _EVENT},
    index=_index(),
    leaf=_b64(),
    leaf_hash=_b64(),
)
Entries = _model(shapes.EntriesShape, "Entries", size=Field(ge=0))
InclusionProof = _model(
    shapes.InclusionProofShape, "InclusionProof", index=_index(), size=Field(ge=1), leaf_hash=_b64()
)
ConsistencyProof = _model(
    shapes.ConsistencyProofShape, "ConsistencyProof", old=Field(ge=0), new=Field(ge=0)
)
CheckpointSizes = _model(shapes.CheckpointSizesShape, "CheckpointSizes")
WitnessSummary = _model(
    shapes.WitnessSummaryShape, "WitnessSummary", configured=Field(ge=0), vouched=Field(ge=0)
)
CosignatureReceipt = _model(shapes.CosignatureReceiptShape, "CosignatureReceipt", size=Field(ge=1))
Reason = _model(
    shapes.ReasonShape,
    "Reason",
    config=_by_code(schemas_evidence.CODES),
    types={"evidence": _evidence("AnyEvidence")},
    text=Field(default=None, description="title and text per language (en, zh-CN)"),
)
Signal = _model(
    shapes.SignalShape,
    "Signal",
    config=_by_code(_SIGNALS),
    types={"evidence": _evidence("SignalEvidence")},
)
ActorRef = _model(shapes.ActorRefShape, "ActorRef")
ProductRef = _model(shapes.ProductRefShape, "ProductRef")
UnitInfo = _model(shapes.UnitInfoShape, "UnitInfo")
UnitEntry = _model(
    shapes.UnitEntryShape,
    "UnitEntry",
    types={"event": _EVENT},
    index=_index(),
    leaf=_b64(),
    leaf_hash=_b64(),
)
LogVersions = _model(
    shapes.LogVersionsShape, "LogVersions", format_from=_index(), rules_from=_index()
)
Scan = _model(shapes.ScanShape, "Scan")
ScanSummary = _model(shapes.ScanSummaryShape, "ScanSummary", count=Field(ge=0))
UnitView = _model(
    shapes.UnitViewShape,
    "UnitView",
    verdict=Field(examples=["genuine"]),
    owner=Field(default=False, description="the viewer's owner cookie is the owner's"),
)
KeyView = _model(shapes.KeyShape, "KeyView")
RecoveryView = _model(shapes.RecoveryShape, "RecoveryView")
Registry = _model(shapes.RegistryShape, "Registry")
ActorView = _model(shapes.ActorShape, "ActorView")
UnitRef = _model(shapes.UnitRefShape, "UnitRef")
ReportFiled = _model(shapes.ReportFiledShape, "ReportFiled")
Report = _model(shapes.ReportShape, "Report")
UnitAlert = _model(
    shapes.UnitAlertShape,
    "UnitAlert",
    config=_by_code(_SIGNALS),
    types={"evidence": _evidence("SignalEvidence")},
)
ResponseSummary = _model(shapes.ResponseSummaryShape, "ResponseSummary")
Alerts = _model(shapes.AlertsShape, "Alerts")
Health = _model(shapes.HealthShape, "Health", status=Field(examples=["ok"]), size=Field(ge=0))
Custody = _model(shapes.CustodyShape, "Custody", head=_b64(), head_index=_index())
CustodyList = _model(shapes.CustodyListShape, "CustodyList")
Held = _model(shapes.HeldShape, "Held", index=_index())
HeldList = _model(shapes.HeldListShape, "HeldList")
ActorItem = _model(shapes.ActorItemShape, "ActorItem")
ActorList = _model(shapes.ActorListShape, "ActorList")
Grant = _model(shapes.GrantShape, "Grant", granted_index=_index())
Evidence = _model(shapes.EvidenceShape, "Evidence", types={"event": _EVENT}, index=_index())
AuthorizationAnswer = _model(shapes.AuthorizationAnswerShape, "AuthorizationAnswer")


MAX_INT64 = 2**63 - 1
"""The largest index or tree size the stores hold (a signed 64-bit column)."""

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_MEANINGS = {
    400: "the body is not JSON, or a value is not in its encoding",
    403: "a signature does not verify, the signer may not do this, or a form is forged (csrf)",
    404: "no such entry, checkpoint, actor or route",
    409: "a stale `prev` (the unit's chain moved on), a witness's stale old size, a split view",
    401: "the request is not signed by a registered, current key (docs/API.md)",
    413: "the body is over the configured limit",
    415: "the body is not declared `application/json`",
    423: "too many wrong claim codes: locked; retry after `Retry-After` seconds",
    422: "the request breaks the schema or a ledger rule",
    429: "over the client's rate limit; retry after `Retry-After` seconds",
    503: "the database does not answer",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    }
}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "not modified: the `If-None-Match` ETag is still current"}
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses, all problem+json with `Problem`."""
    return {
        status: {
            "description": _MEANINGS.get(status, "problem"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
            **({"headers": _RETRY_AFTER} if status in (423, 429) else {}),
        }
        for status in statuses
    }


def document_components(app: FastAPI) -> None:
    """Make ``app.openapi()`` define the schemas that responses and bodies refer to by
    ``$ref`` but FastAPI never sees as models: `Problem` (the problem responses name
    their media type themselves), the event kinds and the signed write body
    (api.schemas_events), the EPCIS document (api.schemas_epcis). Added once, copied,
    so no caller can change them.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))  # the nested models: components too
            schemas["Problem"] = problem
            extra = {
                **schemas_events.components(),
                **schemas_epcis.components(),
                **schemas_evidence.components(),
                "AnyEvidence": schemas_evidence.any_evidence(schemas_evidence.CODES),
                "SignalEvidence": schemas_evidence.any_evidence(_SIGNALS),
            }
            schemas.update(copy.deepcopy(extra))
            _link(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _link(node: Any) -> None:
    """Replace, in place, every ``{_LINK: name}`` schema under ``node`` by a ``$ref`` to
    the component ``name``."""
    items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in items:
        if isinstance(child, dict) and _LINK in child:
            name = child.pop(_LINK)
            child.clear()
            child["$ref"] = schemas_events.REF + name
        else:
            _link(child)
