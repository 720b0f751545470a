"""Pydantic models and ``responses`` entries that document the API in OpenAPI (only that).

Routes build plain dicts and return them as JSON directly; these models describe those
dicts so that clients and schemathesis know what to expect. Every error status a route
can answer is listed with `problems`, as ``application/problem+json``. Binary values are
unpadded base64url strings (docs/FORMAT.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

B64 = r"^[A-Za-z0-9_-]*$"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["urn:provenance-ledger:problem:head-conflict"])
    title: str
    status: int
    detail: str
    code: str = Field(examples=["head-conflict"])
    field: str | None = Field(default=None, examples=["events[0].prev"])


class ReceiptItem(BaseModel):
    """Where one submitted event sits in the log."""

    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=B64)
    event_hash: str = Field(pattern=B64)
    duplicate: bool


class Receipt(BaseModel):
    """The receipts of a write and the signed checkpoint that includes them."""

    receipts: list[ReceiptItem]
    size: int = Field(ge=0)
    checkpoint: str


class EntryView(BaseModel):
    """One entry with its inclusion proof to the checkpoint returned alongside."""

    model_config = ConfigDict(extra="allow")
    index: int = Field(ge=0)
    leaf: str = Field(pattern=B64)
    leaf_hash: str = Field(pattern=B64)
    proof: list[str]
    event: dict[str, Any]
    received: str


class Entries(BaseModel):
    """Entries with their proofs to one checkpoint."""

    entries: list[EntryView]
    size: int = Field(ge=0)
    checkpoint: str


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof of ``index`` in the tree of ``size``."""

    index: int = Field(ge=0)
    size: int = Field(ge=1)
    leaf_hash: str = Field(pattern=B64)
    proof: list[str]


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof from ``old`` to ``new``."""

    old: int = Field(ge=0)
    new: int = Field(ge=0)
    proof: list[str]


class Reason(BaseModel):
    """Why the verdict is what it is."""

    code: str
    message: str
    evidence: dict[str, Any]
    text: dict[str, dict[str, str]] | None = Field(
        default=None, description="title and text per language (en, zh-CN)"
    )


class ActorRef(BaseModel):
    """An actor as the unit view names it."""

    id: str
    name: str
    role: str | None
    revoked: bool


class UnitInfo(BaseModel):
    """A unit's identity and where its custody stands."""

    model_config = ConfigDict(extra="allow")
    gtin: str
    serial: str
    path: str
    state: str
    brand: ActorRef | None
    custodian: ActorRef | None
    label: str


class ScanSummary(BaseModel):
    """How often the unit's code was checked, and the first time."""

    count: int = Field(ge=0)
    first: dict[str, Any] | None


class WitnessSummary(BaseModel):
    """How many configured witnesses cosigned a checkpoint holding the unit's chain."""

    configured: int = Field(ge=0)
    vouched: int = Field(ge=0)


class CosignatureReceipt(BaseModel):
    """The log stored a witness's cosignature."""

    size: int = Field(ge=1)
    cosigned_by: list[str]
    witnesses: WitnessSummary


class UnitView(BaseModel):
    """Everything a client needs to judge one unit itself (docs/API.md)."""

    verdict: str = Field(examples=["genuine"])
    reasons: list[Reason]
    unit: UnitInfo | None
    entries: list[dict[str, Any]]
    checkpoint: str | None
    scans: ScanSummary
    owner: bool = Field(default=False, description="the viewer's owner cookie is the owner's")
    witnesses: WitnessSummary


class KeyView(BaseModel):
    """A key of an actor."""

    key_id: str
    public_key: str
    added_index: int
    removed_index: int | None


class ActorView(BaseModel):
    """A registered actor and its keys."""

    id: str
    role: str
    name: str
    prefixes: list[str]
    registered_index: int
    revoked_index: int | None
    keys: list[KeyView]


class Health(BaseModel):
    """Liveness and the log's size."""

    status: str = Field(examples=["ok"])
    size: int = Field(ge=0)


MAX_INT64 = 2**63 - 1
"""The largest index or tree size the stores hold (a signed 64-bit column)."""

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_MEANINGS = {
    400: "the body is not JSON, or a value is not in its encoding",
    403: "a signature does not verify, or the signer may not do this",
    404: "no such entry, checkpoint, actor or route",
    409: "a stale `prev` (the unit's chain moved on), a witness's stale old size, a split view",
    401: "the request is not signed by a registered, current key (docs/API.md)",
    413: "the body is over the configured limit",
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


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` define the `Problem` schema that `problems` refers to.

    The problem responses name their media type themselves, so FastAPI never sees the
    model; it is added to the generated document's components here, once.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            schemas["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        return document

    app.openapi = openapi  # type: ignore[method-assign]
