"""The ledger's event kinds as frozen dataclasses, parsed from and to plain dicts.

An *event* is the JSON object an actor signs (see ledger.entry for signing and leaves).
Every event has ``kind``, ``actor`` (the signer's actor id) and ``time`` (RFC 3339 UTC);
the other fields depend on the kind and are listed in docs/FORMAT.md. Unit events carry
``unit`` (GTIN-14 + serial) and ``prev`` (the unit chain's previous event hash, null only
for ``commission``).

Parsing is strict: unknown fields, missing fields, wrong types, explicit nulls for
optional fields and out-of-range values are refused with a `ValidationError` naming the
field. ``Event.from_dict(d).to_dict() == d`` for every accepted ``d``, so the signed bytes
can always be reproduced. This module checks shape only; whether the ledger accepts an
event (who may do what, when) is ledger.rules' job. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from ledger import gs1
from ledger.errors import ValidationError

# the fields' validators, vocabularies and bounds (ledger.eventfields); the public ones
# are named here too, as the event kinds' module has always offered them
from ledger.eventfields import (
    ACTOR_ROLES,
    INSPECT_RESULTS,
    KEY_SCOPES,
    LATEST_VERSION,
    LOG_VERSIONS,
    MAX_LIST,
    MAX_RECOVERY_WAIT,
    MAX_TEXT,
    MIN_RECOVERY_WAIT,
    PARTNER_ROLES,
    Check,
    ClaimCommitment,
    _actor_id,
    _claim_code,
    _claim_commitment,
    _code,
    _expiry,
    _gtin,
    _hash,
    _key_id,
    _list_of,
    _lot,
    _null,
    _one_of,
    _owner_token,
    _prefix,
    _public_key,
    _seconds,
    _sscc,
    _text,
    _time,
    _unit,
    _version,
    check_actor_id,
    format_time,
    parse_time,
)

__all__ = [
    "ACTOR_ROLES",
    "INSPECT_RESULTS",
    "KEY_SCOPES",
    "LATEST_VERSION",
    "LOG_VERSIONS",
    "MAX_LIST",
    "MAX_RECOVERY_WAIT",
    "MAX_TEXT",
    "MIN_RECOVERY_WAIT",
    "PARTNER_ROLES",
    "ClaimCommitment",
    "check_actor_id",
    "format_time",
    "parse_time",
]

# --- the kinds ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Event:
    """Fields every event has. Subclasses are the kinds; parse with `event_from_dict`."""

    kind: ClassVar[str] = ""
    #: validators of the kind's own fields; a field with a default is optional
    checks: ClassVar[dict[str, Check]] = {}
    actor: str
    time: str

    @property
    def at(self) -> datetime:
        """The event time as an aware UTC datetime."""
        return parse_time(self.time)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Event:
        """Parse and validate an event of this kind.

        Raises:
            ValidationError: a field is unknown, missing, null or malformed.
        """
        if type(data) is not dict and not isinstance(data, Mapping):  # (dict: no ABC check)
            raise ValidationError("expected a JSON object", field="event")
        if data.get("kind") != cls.kind:
            raise ValidationError(f"expected kind {cls.kind!r}", field="kind")
        return cls._filled(data)

    @classmethod
    def _filled(cls, data: Mapping[str, object]) -> Event:
        """`from_dict` once ``data`` is known to be a mapping of this kind (as
        `event_from_dict` knows it): the fields checked, the event made."""
        all_checks, known, required, _, defaults = _shape(cls)
        if not known.issuperset(data):
            raise ValidationError("unknown field", field=sorted(set(data) - known)[0])
        values: dict[str, Any] = dict(defaults)  # every field, in field order
        for name, check in all_checks.items():
            if name in data:
                values[name] = check(data[name], name)
            elif name in required:
                raise ValidationError("required field is missing", field=name)
        # every field is set (the required ones were given): the instance dictionary
        # filled in field order is what the frozen dataclass's __init__ makes, one
        # object.__setattr__ a field (an event's parse makes one, the audit one an entry)
        event = object.__new__(cls)
        event.__dict__.update(values)
        return event

    def to_dict(self) -> dict[str, Any]:
        """Return the event as the plain dict that is signed (inverse of `from_dict`)."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in _shape(type(self))[3]:
            value = getattr(self, name)
            if value is None and name != "prev":
                continue  # optional and absent
            if isinstance(value, gs1.UnitId):
                value = {"gtin": value.gtin, "serial": value.serial}
            elif isinstance(value, ClaimCommitment):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


_Shape = tuple[dict[str, Check], frozenset[str], frozenset[str], tuple[str, ...], dict[str, Any]]


_SHAPES: dict[type[Event], _Shape] = {}


def _shape(cls: type[Event]) -> _Shape:
    """A kind's (validators by field, the field names it may hold with ``kind``, the
    required ones, its dataclass field names in order, and the optional ones' defaults
    in field order): fixed per class, so worked out once instead of on every parse.

    `Event.from_dict` makes an event by filling its instance dictionary, which is what
    ``__init__`` does only while every field has a validator and no field a default
    factory, and no kind has a ``__post_init__``: checked here."""
    shape = _SHAPES.get(cls)
    if shape is None:
        all_checks: dict[str, Check] = {"actor": _actor_id, "time": _time, **cls.checks}
        names = tuple(f.name for f in fields(cls))
        required = frozenset(f.name for f in fields(cls) if f.default is MISSING)
        if (
            set(names) != set(all_checks)
            or any(f.default_factory is not MISSING for f in fields(cls))
            or hasattr(cls, "__post_init__")
        ):
            raise TypeError(f"{cls.__name__}: Event.from_dict cannot fill it field by field")
        defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        # in field order; a required field holds None here until the parse sets it
        in_order = {name: defaults.get(name) for name in names}
        shape = _SHAPES[cls] = (
            all_checks,
            frozenset(all_checks) | {"kind"},
            required,
            names,
            in_order,
        )
    return shape


@dataclass(frozen=True, kw_only=True)
class UnitEvent(Event):
    """An event on one unit's chain: it names the unit and the head it extends."""

    unit: gs1.UnitId
    prev: str | None
    #: where it happened, as people say it ("Shanghai DC 3", "CN-SH"); optional
    place: str | None = None


_ON_UNIT: dict[str, Check] = {"unit": _unit, "prev": _hash, "place": _text}


@dataclass(frozen=True, kw_only=True)
class ActorRegister(Event):
    """The operator onboards an actor with its keys (and a brand's GS1 prefixes)."""

    kind: ClassVar[str] = "actor.register"
    checks: ClassVar[dict[str, Check]] = {
        "subject": _actor_id,
        "role": _one_of(ACTOR_ROLES),
        "name": _text,
        "keys": _list_of(_public_key, 1),
        "prefixes": _list_of(_prefix, 1),
        "documents": _hash,
        "log_key": _public_key,
        "recovery_wait": _seconds,
        "format": _version,
        "rules": _version,
    }
    subject: str
    role: str
    name: str
    keys: tuple[str, ...]
    prefixes: tuple[str, ...] | None = None
    documents: str | None = None
    #: genesis only: the public key that signs the log's checkpoints, which is none of
    #: the operator's ``keys`` (separate roles, separate keys; absent in logs created
    #: before, whose checkpoints the genesis key signs)
    log_key: str | None = None
    #: genesis only: the log's waiting period, in seconds, before an operator's
    #: ``key.recover`` takes effect (absent: 7 days); signed, so every verifier agrees
    recovery_wait: int | None = None
    #: genesis only: the event format and rule set the log holds from entry 0 (absent:
    #: format 1 and rule set 1 until a ``log.upgrade``); signed, so every verifier agrees
    format: int | None = None
    rules: int | None = None


@dataclass(frozen=True, kw_only=True)
class LogUpgrade(Event):
    """An operator moves its log to a newer event ``format`` and rule set ``rules``,
    from the next index on: earlier entries keep verifying under the old ones."""

    kind: ClassVar[str] = "log.upgrade"
    checks: ClassVar[dict[str, Check]] = {"format": _version, "rules": _version}
    format: int
    rules: int


@dataclass(frozen=True, kw_only=True)
class ActorRevoke(Event):
    """The operator revokes an actor: it can sign nothing after ``time``."""

    kind: ClassVar[str] = "actor.revoke"
    checks: ClassVar[dict[str, Check]] = {"subject": _actor_id, "reason": _text, "since": _time}
    subject: str
    reason: str
    #: units it signed for at or after ``since`` are shown with a caution (the blacklist);
    #: absent: every unit it ever handled
    since: str | None = None


@dataclass(frozen=True, kw_only=True)
class KeyRotate(Event):
    """An actor adds keys and retires key ids (only the subject itself signs it).

    ``scope`` limits every added key to those kinds of work (ledger.vocab.KeyScope): a
    scoped key counts as the subject's only within it and never rotates keys.
    ``compromised_since`` reports the removed keys as compromised from that time: what
    they signed from then on is shown with a caution.
    """

    kind: ClassVar[str] = "key.rotate"
    checks: ClassVar[dict[str, Check]] = {
        "subject": _actor_id,
        "add": _list_of(_public_key),
        "remove": _list_of(_key_id),
        "scope": _list_of(_one_of(KEY_SCOPES), 1),
        "compromised_since": _time,
    }
    subject: str
    add: tuple[str, ...]
    remove: tuple[str, ...]
    scope: tuple[str, ...] | None = None
    compromised_since: str | None = None


@dataclass(frozen=True, kw_only=True)
class KeyRecover(Event):
    """An operator gives an actor that lost every key a new one, effective only later.

    The key may sign nothing before ``effective`` (log time), which must lie at least the
    log's recovery wait after the entry; until then any current key of the subject can
    cancel it with ``key.recover.cancel``.
    """

    kind: ClassVar[str] = "key.recover"
    checks: ClassVar[dict[str, Check]] = {
        "subject": _actor_id,
        "key": _public_key,
        "effective": _time,
        "reason": _text,
    }
    subject: str
    key: str
    effective: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class KeyRecoverCancel(Event):
    """The subject cancels a pending ``key.recover`` by the recovered key's id."""

    kind: ClassVar[str] = "key.recover.cancel"
    checks: ClassVar[dict[str, Check]] = {"subject": _actor_id, "key": _key_id, "reason": _text}
    subject: str
    key: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Authorize(Event):
    """A brand lets a partner act in a role on some GTINs or prefixes, for a while.

    ``display``: how the shopper's page names the partner on the brand's units, ``name``
    (the default) or ``role`` alone ("Courier"), as the brand chooses."""

    kind: ClassVar[str] = "authorize"
    checks: ClassVar[dict[str, Check]] = {
        "partner": _actor_id,
        "role": _one_of(PARTNER_ROLES),
        "gtins": _list_of(_gtin),
        "prefixes": _list_of(_prefix),
        "not_before": _time,
        "not_after": _time,
        "display": _one_of(("name", "role")),
    }
    partner: str
    role: str
    gtins: tuple[str, ...]
    prefixes: tuple[str, ...]
    not_before: str
    not_after: str
    display: str | None = None


@dataclass(frozen=True, kw_only=True)
class AuthorizationRevoke(Event):
    """A brand ends an authorization, named by the hash of its ``authorize`` event."""

    kind: ClassVar[str] = "authorization.revoke"
    checks: ClassVar[dict[str, Check]] = {"authorization": _hash, "reason": _text}
    authorization: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ProductRegister(Event):
    """A brand registers a GTIN under one of its prefixes.

    ``name`` is the product's name (shown on English pages); ``name_zh`` its Chinese
    name, ``support`` the brand's support contact (a phone number, an address, a URL),
    shown to shoppers, a recall's first; ``image`` the SHA-256 (base64url) of its
    picture. Signed by the brand, so no one else can put a support number on its page.
    """

    kind: ClassVar[str] = "product.register"
    checks: ClassVar[dict[str, Check]] = {
        "gtin": _gtin,
        "name": _text,
        "name_zh": _text,
        "support": _text,
        "image": _hash,
    }
    gtin: str
    name: str
    name_zh: str | None = None
    support: str | None = None
    image: str | None = None


@dataclass(frozen=True, kw_only=True)
class Commission(UnitEvent):
    """A brand brings a serialized unit into existence; ``prev`` is null."""

    kind: ClassVar[str] = "commission"
    checks: ClassVar[dict[str, Check]] = {
        "unit": _unit,
        "prev": _null,
        "place": _text,
        "lot": _lot,
        "expiry": _expiry,
        "claim": _claim_commitment,
    }
    lot: str | None = None
    expiry: str | None = None
    claim: ClaimCommitment | None = None


@dataclass(frozen=True, kw_only=True)
class Handoff(UnitEvent):
    """The custodian hands the unit to ``to``, who must ``receive`` it."""

    kind: ClassVar[str] = "handoff"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "to": _actor_id}
    to: str


@dataclass(frozen=True, kw_only=True)
class Receive(UnitEvent):
    """The named recipient of the pending handoff takes custody."""

    kind: ClassVar[str] = "receive"
    checks: ClassVar[dict[str, Check]] = _ON_UNIT


@dataclass(frozen=True, kw_only=True)
class Inspect(UnitEvent):
    """An inspector (or the custodian) records an inspection result."""

    kind: ClassVar[str] = "inspect"
    checks: ClassVar[dict[str, Check]] = {
        **_ON_UNIT,
        "result": _one_of(INSPECT_RESULTS),
        "note": _text,
    }
    result: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Sell(UnitEvent):
    """A retailer sells the unit to a consumer."""

    kind: ClassVar[str] = "sell"
    checks: ClassVar[dict[str, Check]] = _ON_UNIT


@dataclass(frozen=True, kw_only=True)
class Deliver(UnitEvent):
    """The custodian (a courier or retailer) delivers the sold unit to its buyer."""

    kind: ClassVar[str] = "deliver"
    checks: ClassVar[dict[str, Check]] = _ON_UNIT


@dataclass(frozen=True, kw_only=True)
class Claim(UnitEvent):
    """The registry records that a buyer revealed the unit's claim code.

    ``code`` opens the unit's current commitment: the commission's claim commitment for
    the first claim, the previous claim's ``transfer`` commitment for a resale.
    ``owner`` is SHA-256 of the owner's secret token (the page recognises its owner by
    it); ``transfer`` commits to the one-time code that lets the owner pass the unit on.
    """

    kind: ClassVar[str] = "claim"
    checks: ClassVar[dict[str, Check]] = {
        **_ON_UNIT,
        "code": _claim_code,
        "owner": _hash,
        "transfer": _claim_commitment,
    }
    code: str
    owner: str | None = None
    transfer: ClaimCommitment | None = None


@dataclass(frozen=True, kw_only=True)
class Return(UnitEvent):
    """A unit goes back up the chain; ``to`` must then ``receive`` it."""

    kind: ClassVar[str] = "return"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "to": _actor_id, "reason": _text}
    to: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Recall(UnitEvent):
    """The brand or operator recalls the unit."""

    kind: ClassVar[str] = "recall"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "reason": _text}
    reason: str


@dataclass(frozen=True, kw_only=True)
class Decommission(UnitEvent):
    """The unit leaves circulation (destroyed, consumed); nothing may follow."""

    kind: ClassVar[str] = "decommission"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "reason": _text}
    reason: str


@dataclass(frozen=True, kw_only=True)
class Consume(UnitEvent):
    """The registry records that the unit's owner marked it used up (a bottle emptied, a
    jar finished): every later scan says so, so a refilled genuine container is caught.

    ``owner_token`` is the owner's secret token, revealed: SHA-256 of it is the ``owner``
    of the unit's latest ``claim`` (anyone can recompute it), so only the token's holder
    can have asked for it. A client that made its own token (the claim's ``owner`` sent
    by the client, docs/API.md) is its only holder; a token the server made for a browser
    form passed through the server once (it keeps only the hash). Nothing but a recall,
    a flag or a decommission may follow.
    """

    kind: ClassVar[str] = "consume"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "owner_token": _owner_token}
    owner_token: str


@dataclass(frozen=True, kw_only=True)
class Flag(UnitEvent):
    """The brand or operator marks the unit as suspicious, with a code and a note."""

    kind: ClassVar[str] = "flag"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "code": _code, "note": _text}
    code: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Pack(UnitEvent):
    """The custodian puts the unit into container ``container`` (an SSCC): loose, or,
    with ``inner``, by putting the container the unit is in (its outermost) into it."""

    kind: ClassVar[str] = "pack"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "container": _sscc, "inner": _sscc}
    container: str
    inner: str | None = None


@dataclass(frozen=True, kw_only=True)
class Unpack(UnitEvent):
    """The custodian opens ``container``, the unit's outermost container: the unit (or
    the inner container it is in) comes out of it."""

    kind: ClassVar[str] = "unpack"
    checks: ClassVar[dict[str, Check]] = {**_ON_UNIT, "container": _sscc}
    container: str


KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        ActorRegister,
        LogUpgrade,
        ActorRevoke,
        KeyRotate,
        KeyRecover,
        KeyRecoverCancel,
        Authorize,
        AuthorizationRevoke,
        ProductRegister,
        Commission,
        Handoff,
        Receive,
        Inspect,
        Sell,
        Deliver,
        Claim,
        Return,
        Recall,
        Decommission,
        Flag,
        Consume,
        Pack,
        Unpack,
    )
}
UNIT_KINDS = frozenset(k for k, cls in KINDS.items() if issubclass(cls, UnitEvent))


def event_from_dict(data: object) -> Event:
    """Parse any event by its ``kind``.

    Raises:
        ValidationError: not an object, an unknown kind, or a malformed field.
    """
    if type(data) is not dict and not isinstance(data, Mapping):  # (dict: no ABC check)
        raise ValidationError("expected a JSON object", field="event")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValidationError(f"unknown kind; expected one of {', '.join(KINDS)}", field="kind")
    return KINDS[kind]._filled(data)  # (a mapping, of that kind: `from_dict`'s checks)
