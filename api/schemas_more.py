"""OpenAPI models of the JSON answers built in the routes themselves (not `ledger.shapes`):
the consume receipt, a brand's retailers, the incident notes, the map update proof and a
product picture's upload receipt. Each is closed (``additionalProperties: false``), so
schemathesis' conformance check sees a member added or dropped (docs/API.md describes
each in prose). OpenAPI only: the routes build the dicts, these describe them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

B64 = r"^[A-Za-z0-9_-]*$"
_CLOSED = ConfigDict(extra="forbid")


class ConsumeReceipt(BaseModel):
    """The ``consume`` entry's index and a checkpoint that includes it."""

    model_config = _CLOSED
    index: int = Field(ge=0)
    checkpoint: str


class Retailer(BaseModel):
    """A shop the brand authorizes as a retailer now: the GTINs and prefixes its grants
    cover, and when the last of them ends."""

    model_config = _CLOSED
    id: str
    name: str
    gtins: list[str]
    prefixes: list[str]
    until: str


class Retailers(BaseModel):
    """The brand's retailers at ``at`` (the server's time), by name."""

    model_config = _CLOSED
    brand: str
    name: str
    at: str
    retailers: list[Retailer]


class TreeHead(BaseModel):
    """A tree size and its root (standard base64, as in the signed note)."""

    model_config = _CLOSED
    size: int = Field(ge=0)
    root: str


class Incident(BaseModel):
    """One declared incident: the note signed by the log key and its fields."""

    model_config = _CLOSED
    note: str
    at: str
    given_up: TreeHead
    served: TreeHead
    reason: str


class Incidents(BaseModel):
    """The log's incident notes, oldest first (docs/FORMAT.md, "Incident notes")."""

    model_config = _CLOSED
    origin: str
    incidents: list[Incident]


class MapAuthorization(BaseModel):
    """An ``authorize`` entry older than the update, with its inclusion proof."""

    model_config = _CLOSED
    index: int = Field(ge=0)
    leaf: str = Field(pattern=B64)
    proof: list[str]


class MapKeyProof(BaseModel):
    """A moved key and its proof in the old map (ledger.map.proof text)."""

    model_config = _CLOSED
    key: str = Field(pattern=B64)
    proof: str = Field(pattern=B64)


class MapUpdateProof(BaseModel):
    """What a witness needs to recompute the new map root (docs/FORMAT.md section 14)."""

    model_config = _CLOSED
    format: Literal["provenance-ledger/map-update@v1"]
    old: int = Field(ge=0)
    new: int = Field(ge=0)
    compact: list[str]
    entries: list[str]
    authorizations: list[MapAuthorization]
    map_proofs: list[MapKeyProof]


class StoredImage(BaseModel):
    """The stored, re-encoded picture: its hash (the ``image`` the brand then signs), its
    media type and size, and its bytes (base64url) to check before signing."""

    model_config = _CLOSED
    hash: str = Field(pattern=B64)
    media: Literal["image/jpeg", "image/png"]
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    bytes: int = Field(ge=1)
    data: str = Field(pattern=B64)


# --- request bodies (the ones not built from models: read by the routes themselves) --

_REF = "#/components/schemas/"


def _json_body(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    """An ``openapi_extra`` that documents a required JSON request body."""
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


#: ``POST /v1/partners/custody``: up to 1,000 units (members beyond these are ignored)
CUSTODY_BODY = _json_body(
    {
        "type": "object",
        "required": ["units"],
        "properties": {
            "units": {
                "type": "array",
                "maxItems": 1000,
                "items": {
                    "type": "object",
                    "required": ["gtin", "serial"],
                    "properties": {"gtin": {"type": "string"}, "serial": {"type": "string"}},
                },
            }
        },
    },
    {"units": [{"gtin": "09506000134352", "serial": "SN-0001"}]},
)
#: ``POST /v1/reports/{id}/resolve`` (a signed request): the action, a note, and for
#: ``flag`` the signed ``flag`` event to append
RESOLVE_BODY = _json_body(
    {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"type": "string", "enum": ["ack", "close", "flag"]},
            "note": {"type": "string"},
            "flag": {
                "anyOf": [
                    {
                        "allOf": [
                            {"$ref": _REF + "SignedEvent"},
                            {"properties": {"event": {"$ref": _REF + "EventFlag"}}},
                        ]
                    },
                    {"type": "null"},
                ]
            },
        },
    },
    {"action": "ack", "note": "we are looking into it"},
)
#: ``POST /v1/units/{gtin}/{serial}/consume`` from a JSON client: the owner's token
CONSUME_BODY = _json_body(
    {
        "type": "object",
        "required": ["owner_token"],
        "properties": {
            "owner_token": {"type": "string", "description": "the owner token of the claim"}
        },
    },
    {"owner_token": "AAAAAAAAAAAAAAAAAAAAAA"},
)
#: ``POST /v1/products/{gtin}/image`` (a signed request): the picture's own bytes
IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("image/jpeg", "image/png", "image/webp")
        },
    }
}
