"""The derived state of a log (projections) as plain records, and an in-memory view.

Records are what replaying the log yields: actors, their keys, authorizations,
products and units (with their chain head, custodian and flags). `ledger.rules`
reads a `State` and returns the records an entry creates or replaces; `State.apply`
upserts them. The store (ledger.store) persists the same records in tables, and the
audit rebuilds a `State` from genesis and compares.

Indices are log indices; times are the event's own RFC 3339 text. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar

from ledger.vocab import UnitState


@dataclass(frozen=True)
class ActorRecord:
    """A registered actor; ``revoked_index`` is set once ``actor.revoke`` is logged."""

    id: str
    role: str
    name: str
    prefixes: tuple[str, ...]
    registered_index: int
    revoked_index: int | None = None
    #: the revocation's ``since``: its handling from then on is distrusted (None: all)
    revoked_since: str | None = None
    #: the genesis operator only: the log's ``recovery_wait`` in seconds (None: default)
    recovery_wait: int | None = None
    #: the genesis operator only: the log's event format and rule set from index
    #: ``log_since`` on (None: format 1 and rule set 1 throughout); set by a genesis that
    #: names them (since 0) or by a ``log.upgrade`` (since its next index)
    log_format: int | None = None
    log_rules: int | None = None
    log_since: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The record's identity within its table."""
        return ("actor", self.id)


@dataclass(frozen=True)
class KeyRecord:
    """A public key of an actor; ``removed_index`` is set once rotated out (or, for a
    recovered key, once its recovery is cancelled)."""

    key_id: str
    actor: str
    public_key: str
    added_index: int
    removed_index: int | None = None
    #: the kinds of work it may sign (ledger.vocab.KeyScope); empty: the actor's full key
    scope: tuple[str, ...] = ()
    #: a key an operator recovered: the ``key.recover``'s index and the log time from
    #: which the key may sign (None: an ordinary key, valid from ``added_index``)
    recovered_index: int | None = None
    effective: str | None = None
    #: reported compromised by its actor: what it signed from this log time on is suspect
    compromised_since: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The record's identity within its table."""
        return ("key", self.key_id)


@dataclass(frozen=True)
class AuthorizationRecord:
    """A brand's authorization of a partner; ``id`` is the authorize event's hash."""

    id: str
    brand: str
    partner: str
    role: str
    gtins: tuple[str, ...]
    prefixes: tuple[str, ...]
    not_before: str
    not_after: str
    granted_index: int
    revoked_index: int | None = None
    revoked_at: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The record's identity within its table."""
        return ("authorization", self.id)


@dataclass(frozen=True)
class ProductRecord:
    """A GTIN registered by its brand."""

    gtin: str
    brand: str
    name: str
    registered_index: int
    #: the Chinese name, the brand's support contact, the picture's SHA-256 (base64url)
    name_zh: str | None = None
    support: str | None = None
    image: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The record's identity within its table."""
        return ("product", self.gtin)


@dataclass(frozen=True)
class UnitRecord:
    """A serialized unit and where its chain stands.

    ``head`` is the event hash (base64url) of the unit's latest event and ``head_index``
    its log index; ``length`` counts the unit's events. ``custodian`` is the actor that
    holds the unit (None once delivered to a consumer); ``pending`` names the recipient
    of an open handoff or return.

    The custody history the rules need (docs/ARCHITECTURE.md section 5): ``holders``,
    every actor that ever held the unit (the brand, then each recipient of a ``receive``,
    in order of first custody: a ``return`` may only go to one of them); ``seller``, the
    retailer of record of the latest ``sell`` (only it or the brand may return a sold or
    delivered unit); ``sales``, how many times it was sold, and ``last_sold``, the time of
    the latest sale: a return clears ``sold`` but never these, so a verdict cannot hide a
    past sale.
    """

    gtin: str
    serial: str
    brand: str
    head: str
    head_index: int
    length: int
    commissioned_index: int
    custodian: str | None
    pending: str | None = None
    sold: bool = False
    delivered: bool = False
    claimed: bool = False
    recalled: bool = False
    decommissioned: bool = False
    flags: int = 0
    lot: str | None = None
    expiry: str | None = None
    #: the commitment the next claim must open: the commission's claim commitment until
    #: the first claim, then the latest claim's transfer commitment (None: no resale)
    claim_salt: str | None = None
    claim_hash: str | None = None
    holders: tuple[str, ...] = ()
    seller: str | None = None
    sales: int = 0
    #: SHA-256 (base64url) of the current owner's token: the latest claim's ``owner``
    owner: str | None = None
    #: when the owner marked the unit used up (``consume``); None while it is not
    consumed_at: str | None = None
    last_sold: str | None = None
    #: the containers (SSCCs) the unit is packed in, outermost first (empty: loose);
    #: ``container`` is the outermost, the one a clerk scans and hands on
    containers: tuple[str, ...] = ()
    container: str | None = None

    @property
    def sold_before(self) -> bool:
        """The unit was sold at least once and is not sold now: it came back by a return."""
        return self.sales > 0 and not (self.sold or self.delivered)

    @property
    def key(self) -> tuple[str, str, str]:
        """The record's identity within its table."""
        return ("unit", self.gtin, self.serial)

    @property
    def state(self) -> UnitState:
        """One word for people: the most telling of the unit's flags."""
        if self.decommissioned:
            return UnitState.DECOMMISSIONED
        if self.claimed:
            return UnitState.CLAIMED
        if self.delivered:
            return UnitState.DELIVERED
        if self.pending is not None:
            return UnitState.IN_TRANSIT
        if self.sold:
            return UnitState.SOLD
        return UnitState.IN_STOCK


Record = ActorRecord | KeyRecord | AuthorizationRecord | ProductRecord | UnitRecord

R = TypeVar("R", ActorRecord, KeyRecord, AuthorizationRecord, ProductRecord, UnitRecord)

#: each record class's field names (filled on first use by `with_changes`)
_FIELD_NAMES: dict[type, frozenset[str]] = {}


def with_changes(record: R, **changes: Any) -> R:
    """A new record equal to ``record`` but for ``changes``: what `dataclasses.replace`
    returns, at a fraction of its cost (the rules make one or two per entry, and the
    audit replays every entry).

    Records are frozen dataclasses that hold their fields and nothing else (no
    ``__post_init__``, no cached values), so copying the instance dictionary and
    setting the changed names is the same as running ``__init__`` again; the original
    is never touched (copy on write). A name that is not a field raises `TypeError`,
    as `dataclasses.replace` does.
    """
    kind = type(record)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = frozenset(f.name for f in fields(kind))
    if not names.issuperset(changes):
        unknown = sorted(set(changes) - names)
        raise TypeError(f"{kind.__name__} has no field {unknown[0]!r}")
    copy: R = object.__new__(kind)
    values = copy.__dict__
    values.update(record.__dict__)
    values.update(changes)
    return copy


#: each record class's fields in order, a default's value or `MISSING` (`new_record`)
_DEFAULTS: dict[type, dict[str, Any]] = {}
#: each record class's fields without a default (`new_record`)
_REQUIRED: dict[type, frozenset[str]] = {}


def _record_layout(kind: type) -> tuple[dict[str, Any], frozenset[str]]:
    """``kind``'s fields in order with their defaults, and those it must be given."""
    defaults: dict[str, Any] = {}
    for f in fields(kind):
        if f.default_factory is not MISSING:  # none has one; if one did, it would be shared
            raise TypeError(f"{kind.__name__}.{f.name}: new_record takes no default factory")
        defaults[f.name] = f.default
    required = frozenset(name for name, value in defaults.items() if value is MISSING)
    _DEFAULTS[kind], _REQUIRED[kind] = defaults, required
    return defaults, required


def new_record(kind: type[R], **values: Any) -> R:
    """``kind(**values)``, at a fraction of its cost: a frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__`` (27 fields a `UnitRecord`, ~4.5 us),
    and the rules make a record for every entry (a commission's unit).

    Records hold their fields and nothing else (no ``__post_init__``, no cached values,
    no default factories: `_record_layout` checks), so the instance dictionary filled
    with the defaults, then ``values``, in field order, is the object ``__init__``
    makes, equal to it and alike in every field. A name that is not a field, or a
    missing field without a default, raises `TypeError`, as ``__init__`` does.
    """
    defaults = _DEFAULTS.get(kind)
    if defaults is None:
        defaults, required = _record_layout(kind)
    else:
        required = _REQUIRED[kind]
    if not (defaults.keys() >= values.keys() and values.keys() >= required):
        unknown = sorted(values.keys() - defaults.keys())
        if unknown:
            raise TypeError(f"{kind.__name__} has no field {unknown[0]!r}")
        raise TypeError(f"{kind.__name__} needs {sorted(required - values.keys())[0]!r}")
    record: R = object.__new__(kind)
    held = record.__dict__
    held.update(defaults)
    held.update(values)
    return record


_granted_index = attrgetter("granted_index")


@dataclass
class State:
    """An in-memory view of a log's projections, keyed like the store's tables."""

    actors: dict[str, ActorRecord] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    authorizations: dict[str, AuthorizationRecord] = field(default_factory=dict)
    products: dict[str, ProductRecord] = field(default_factory=dict)
    units: dict[tuple[str, str], UnitRecord] = field(default_factory=dict)
    #: authorization ids by partner, kept in step with ``authorizations``
    by_partner: dict[str, set[str]] = field(default_factory=dict)
    #: `authorizations_of`'s answers, each dropped when one of that partner's records is
    #: applied (every custody event asks for its signer's: sorting them each time was
    #: ~1 % of an audit, docs/PERFORMANCE.md "audit43")
    _sorted_of: dict[str, tuple[AuthorizationRecord, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def apply(self, records: Iterable[Record]) -> None:
        """Insert or replace each record (the last one for a key wins)."""
        for record in records:
            if isinstance(record, ActorRecord):
                self.actors[record.id] = record
            elif isinstance(record, KeyRecord):
                self.keys[record.key_id] = record
            elif isinstance(record, AuthorizationRecord):
                old = self.authorizations.get(record.id)
                if old is not None and old.partner != record.partner:  # (no rule does this)
                    self._forget_partner(old.partner, record.id)
                self.authorizations[record.id] = record
                self.by_partner.setdefault(record.partner, set()).add(record.id)
                self._sorted_of.pop(record.partner, None)
            elif isinstance(record, ProductRecord):
                self.products[record.gtin] = record
            else:
                self.units[(record.gtin, record.serial)] = record

    def _forget_partner(self, partner: str, authorization: str) -> None:
        """Take ``authorization`` out of ``partner``'s list (it now names another)."""
        ids = self.by_partner.get(partner)
        if ids is not None:
            ids.discard(authorization)
            if not ids:
                del self.by_partner[partner]
        self._sorted_of.pop(partner, None)

    def authorizations_of(self, partner: str) -> tuple[AuthorizationRecord, ...]:
        """Every authorization (revoked or not) granted to ``partner``, oldest first."""
        found = self._sorted_of.get(partner)
        if found is None:
            ids = self.by_partner.get(partner, set())
            found = tuple(sorted((self.authorizations[i] for i in ids), key=_granted_index))
            self._sorted_of[partner] = found
        return found

    def records(self) -> list[Record]:
        """Every record, in a stable order (for comparison and persistence)."""
        out: list[Record] = []
        for table in (self.actors, self.keys, self.authorizations, self.products):
            out.extend(table[k] for k in sorted(table))
        out.extend(self.units[k] for k in sorted(self.units))
        return out


class PartnerLookup:
    """The partner an authorization was granted to, in the rules' state its holder keeps
    current (``state``): the ``partner_of`` that `ledger.map.heads.HeadTracker` takes,
    as an object of its own. A bound method of the tracker's owner would make owner ->
    tracker -> method -> owner a reference cycle, freed only by the cyclic collector
    with everything the owner reaches (a batch's records and heads, an audit's whole
    trie; docs/PERFORMANCE.md "cycles47")."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state

    def __call__(self, authorization: str) -> str | None:
        """The partner of ``authorization`` (None: no such authorization).

        Raises:
            RuntimeError: no state was given yet (a caller's bug, not a head).
        """
        if self.state is None:
            raise RuntimeError("an authorization's partner asked before any rules' state")
        record = self.state.authorizations.get(authorization)
        return None if record is None else record.partner
