"""OpenAPI models of the JSON answers built in the routes themselves (not `ledger.shapes`):
the consume receipt, a brand's retailers, the incident notes, the map update proof and a
product picture's upload receipt. Each is closed (``additionalProperties: false``), so
schemathesis' conformance check sees a member added or dropped (docs/API.md describes
each in prose). OpenAPI only: the routes build the dicts, these describe them.
"""

from __future__ import annotations

from typing import Literal

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
