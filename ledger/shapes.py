"""The JSON shapes the service returns, as typed dicts, defined once.

The service builds these plain dicts (`ledger.service`), the API returns them as JSON
unchanged, and `api.schemas` turns these very classes into the OpenAPI components
(adding only documentation: patterns, bounds, examples), so a field added here is
documented there and a field the service stops returning fails the type check. A
``TypedDict`` is a plain dict at run time: typing the service changes no output byte.

docs/API.md describes each shape in prose. Binary values are unpadded base64url
strings (docs/FORMAT.md). No I/O; standard library only.
"""

# No ``from __future__ import annotations``: Python 3.11's TypedDict sees ``NotRequired``
# only in evaluated annotations (with strings every key would count as required).
from typing import Any, NotRequired, TypedDict

from ledger.vocab import (
    AuthorizationStatus,
    LabelState,
    ReasonCode,
    ReportReason,
    ReportStatus,
    Role,
    SignalCode,
    UnitState,
    Verdict,
)

# --- writes ---------------------------------------------------------------------------


class ReceiptItemShape(TypedDict):
    """Where one submitted event sits in the log."""

    index: int
    leaf_hash: str
    event_hash: str
    duplicate: bool


class ReceiptShape(TypedDict):
    """The receipts of a write and the signed checkpoint that includes them."""

    receipts: list[ReceiptItemShape]
    size: int
    checkpoint: str


class ClaimShape(TypedDict):
    """A successful claim: its log index and checkpoint, and the secrets shown once."""

    index: int
    checkpoint: str
    transfer_code: str
    #: null when the client sent its own ``owner`` hash (it alone holds the token)
    owner_token: str | None
    resale: bool


# --- entries and proofs ---------------------------------------------------------------


class EntryShape(TypedDict):
    """One entry with its inclusion proof to the checkpoint returned alongside."""

    index: int
    leaf: str
    leaf_hash: str
    proof: list[str]
    event: dict[str, Any]
    received: str


class EntriesShape(TypedDict):
    """Entries with their proofs to one checkpoint."""

    entries: list[EntryShape]
    size: int
    checkpoint: str


class InclusionProofShape(TypedDict):
    """RFC 9162 inclusion proof of ``index`` in the tree of ``size``."""

    index: int
    size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProofShape(TypedDict):
    """RFC 9162 consistency proof from ``old`` to ``new``."""

    old: int
    new: int
    proof: list[str]


class CheckpointSizesShape(TypedDict):
    """The tree sizes at which the log signed a checkpoint, from ``start`` on, increasing;
    ``next``: the ``start`` of the following page (None: no more)."""

    sizes: list[int]
    next: int | None


class WitnessSummaryShape(TypedDict):
    """How many configured witnesses cosigned a checkpoint holding the unit's chain."""

    configured: int
    vouched: int


class CosignatureReceiptShape(TypedDict):
    """The log stored a witness's cosignature."""

    size: int
    cosigned_by: list[str]
    witnesses: WitnessSummaryShape


# --- the unit view --------------------------------------------------------------------


class ReasonShape(TypedDict):
    """Why the verdict is what it is; the API adds the page's words as ``text``."""

    code: ReasonCode | SignalCode
    message: str
    evidence: dict[str, Any]
    text: NotRequired[dict[str, dict[str, str]] | None]


class SignalShape(TypedDict):
    """One clone signal: a stable code and its evidence."""

    code: SignalCode
    evidence: dict[str, Any]


class ActorRefShape(TypedDict):
    """An actor as the unit view names it (an unknown actor: its id, no role);
    ``display: "role"`` when the unit's brand chose to name this partner by its role."""

    id: str
    name: str
    role: Role | None
    revoked: bool
    display: NotRequired[str]


class ProductRefShape(TypedDict):
    """The product a unit is an instance of; ``names``, ``support`` and ``image`` only
    when its brand gave them (``product.register``)."""

    gtin: str
    name: str
    names: NotRequired[dict[str, str]]
    support: NotRequired[str]
    image: NotRequired[str]


class UnitInfoShape(TypedDict):
    """A unit's identity and where its custody stands."""

    gtin: str
    serial: str
    path: str
    lot: str | None
    expiry: str | None
    brand: ActorRefShape | None
    product: ProductRefShape | None
    state: UnitState
    custodian: ActorRefShape | None
    pending: ActorRefShape | None
    sold: bool
    delivered: bool
    claimed: bool
    recalled: bool
    decommissioned: bool
    flags: int
    #: how many times it was sold and when last (a return never clears them)
    sales: int
    last_sold: str | None
    consumed_at: str | None
    label: LabelState


class UnitEntryShape(EntryShape):
    """An entry of the unit view: the entry with its signer."""

    signer: ActorRefShape | None


class ScanShape(TypedDict):
    """A scan as the unit view quotes it: when, and the coarse place if known, with its
    source (``header``: a trusted proxy's geolocation; ``hint``: the client's own word)."""

    at: str
    place: str | None
    place_source: NotRequired[str | None]


class ScanSummaryShape(TypedDict):
    """How often the unit's code was checked, and the first time."""

    count: int
    first: ScanShape | None


class LogVersionsShape(TypedDict):
    """Which event format and rule set the log holds at which index (docs/FORMAT.md
    section 3.1): format 2 from ``format_from`` and rule set 2 from ``rules_from`` (null:
    not at all), and the entries that say so, each with its inclusion proof to the
    view's checkpoint: the genesis entry (index 0) and the log's ``log.upgrade``, if it
    has one. A client reads the switch from these entries; the two numbers are the
    server's word, refused when the entries say otherwise."""

    format_from: int | None
    rules_from: int | None
    entries: list[EntryShape]


class LogViewShape(TypedDict):
    """The part of the unit view that depends on the log's contents alone.

    The service keeps it while the log does not grow; `UnitViewShape` adds what changes
    without a new entry (scans, the viewer, witnesses). ``versions`` is null when the
    unit has no entry (nothing to judge).
    """

    verdict: Verdict
    reasons: list[ReasonShape]
    unit: UnitInfoShape | None
    entries: list[UnitEntryShape]
    checkpoint: str | None
    #: the unit's map proof under the map root the checkpoint signs (ledger.map.proof,
    #: unpadded base64url); None before the log has a map
    map_proof: str | None
    versions: LogVersionsShape | None


class UnitViewShape(LogViewShape):
    """Everything a client needs to judge one unit itself (docs/API.md)."""

    scans: ScanSummaryShape
    owner: bool
    witnesses: WitnessSummaryShape


# --- actors ---------------------------------------------------------------------------


class KeyShape(TypedDict):
    """A key of an actor, with the log indexes that added and removed it; its scope
    (empty: a full key), and, for a key an operator recovered, the ``key.recover``'s
    index and when the key takes effect; ``compromised_since`` once its actor reported it
    compromised."""

    key_id: str
    public_key: str
    added_index: int
    removed_index: int | None
    scope: list[str]
    recovered_index: int | None
    effective: str | None
    compromised_since: str | None


class RecoveryShape(TypedDict):
    """A pending ``key.recover``: the key an operator gave the actor, from when it signs;
    any current full key of the actor may still cancel it (``key.recover.cancel``)."""

    key_id: str
    public_key: str
    recovered_index: int
    effective: str


class RegistryShape(TypedDict):
    """An actor's registry entries proven in a checkpoint, with the actor's map proof."""

    checkpoint: str
    #: the actor's map proof (ledger.map.proof, base64url); None before the log has a map
    map_proof: str | None
    entries: list[EntryShape]


class ActorShape(TypedDict):
    """A registered actor and its keys."""

    id: str
    role: Role
    name: str
    prefixes: list[str]
    registered_index: int
    revoked_index: int | None
    keys: list[KeyShape]
    #: pending recoveries (not cancelled, not yet in effect), oldest first
    recoveries: list[RecoveryShape]
    #: the facts above as hints; this is their proof (ledger.verify.registry)
    registry: RegistryShape


# --- reports and alerts ---------------------------------------------------------------


class UnitRefShape(TypedDict):
    """A unit as a report or an alert names it."""

    gtin: str
    serial: str
    path: str


class ReportFiledShape(TypedDict):
    """A consumer report was filed: its id, status, time and the brand it went to."""

    id: int
    status: ReportStatus
    created_at: str
    brand: str | None


class ReportShape(TypedDict):
    """A consumer report as its brand (or an operator) sees it; no photo bytes."""

    id: int
    unit: UnitRefShape
    brand: str | None
    reason: ReportReason
    text: str | None
    #: where the buyer bought it: a shop's name or a listing URL, as typed (no controls)
    where: str | None
    photo: bool
    created_at: str
    status: ReportStatus
    first_response_at: str | None
    resolved_at: str | None
    resolved_by: str | None
    note: str | None
    flag_index: int | None


class UnitAlertShape(TypedDict):
    """A clone signal in the brand's queue, on a unit (None: serial probing of a GTIN)."""

    unit: UnitRefShape | None
    code: SignalCode
    evidence: dict[str, Any]


class ResponseSummaryShape(TypedDict):
    """How fast reports were answered, in seconds from a report to its first response."""

    open: int
    answered: int
    median_seconds: int | None
    max_seconds: int | None


class AlertsShape(TypedDict):
    """A brand's triage queue: clone signals, reports (open first), response times."""

    brand: str
    generated: str
    signals: list[UnitAlertShape]
    reports: list[ReportShape]
    response: ResponseSummaryShape


# --- partners: custody of many units, inboxes, seller checks -------------------------


class CustodyShape(TypedDict):
    """Where one unit's custody stands: its head (the next event's ``prev``), the index
    of its latest entry, who holds it, to whom it is on its way, what it is packed in."""

    gtin: str
    serial: str
    lot: str | None
    head: str
    head_index: int
    custodian: str | None
    pending: str | None
    #: the SSCCs it is packed in, outermost first (empty: loose), and the outermost
    containers: list[str]
    container: str | None


class CustodyListShape(TypedDict):
    """The custody of the units asked for that are in the log."""

    units: list[CustodyShape]


class HeldShape(TypedDict):
    """A unit in an inbox or in holdings: ``counterpart`` is the sender (inbox) or the
    recipient of an open transfer (holdings, else None); ``index`` its latest entry."""

    gtin: str
    serial: str
    lot: str | None
    expiry: str | None
    counterpart: str | None
    index: int
    #: the SSCC of the outermost container it is packed in (None: loose)
    container: str | None


class HeldListShape(TypedDict):
    """An actor's inbox or holdings, by GTIN and serial."""

    actor: str
    units: list[HeldShape]


class ActorItemShape(TypedDict):
    """An actor as the actor list shows it."""

    id: str
    role: str
    name: str
    revoked: bool


class ActorListShape(TypedDict):
    """The registered actors, by id."""

    actors: list[ActorItemShape]


class GrantShape(TypedDict):
    """A brand's authorization of a partner; ``id`` is its authorize event's hash."""

    id: str
    role: str
    gtins: list[str]
    prefixes: list[str]
    not_before: str
    not_after: str
    granted_index: int
    revoked_index: int | None
    revoked_at: str | None


class EvidenceShape(EntryShape):
    """An entry of a seller check's evidence; ``role``: ``grant``, ``revocation`` or
    ``key``."""

    role: str


class AuthorizationAnswerShape(TypedDict):
    """Whether a brand authorizes a partner (for a GTIN) at a time, with the evidence
    to check offline (ledger.verify.authorization)."""

    brand: str
    partner: str
    gtin: str | None
    at: str
    authorized: bool
    status: AuthorizationStatus
    authorization: GrantShape | None
    entries: list[EvidenceShape]
    checkpoint: str


# --- operations -----------------------------------------------------------------------


class HealthShape(TypedDict):
    """Liveness and the log's size."""

    status: str
    size: int
