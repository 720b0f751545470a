"""The ledger's rules (DESIGN section 3): may this signed event enter the log now?

`check` reads a `State`, never changes it, and either raises the `RuleError` subclass
that names the broken rule (`ConflictError` when a unit's head moved) or returns the
records that accepting the event at a given log index creates or replaces; the caller
then calls ``state.apply(records)``. Replaying a log through `check` and `State.apply`
rebuilds its state exactly, so the service and the audit share this code.

Layout: this module holds the errors (one class and stable ``code`` per rule), the
signer and key checks and the dispatch; ledger.rules.registry holds the rules of genesis and
the registry kinds (actors, keys, authorizations, products); ledger.rules.custody those of
the unit kinds (commission and the custody state machine).

The rules read only what the event names: its signer, the signer's keys and
authorizations, its subject, partner, recipient, products, unit, the unit's brand,
custodian and pending recipient, and the operators (ledger.service.prefetch loads exactly that).

What it does not do: no Ed25519 signature check (the caller verifies the signature
against `signing_key`, outside its lock), no idempotency (the caller answers a repeated
event hash with the existing entry before calling `check`), no I/O, no clock (``now``
is an argument).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger import codec, crypto
from ledger.entry import SignedEvent
from ledger.errors import RuleError, ValidationError
from ledger.events import ActorRegister, Event, UnitEvent
from ledger.rules.state import ActorRecord, KeyRecord, Record, State

#: how far an event's own time may run ahead of the log's clock (inclusive)
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: how long after the fact an event may still be logged (a courier offline for days).
#: Bounds backdating: without it a partner whose authorization expired (not revoked)
#: could keep signing events dated inside its old window.
MAX_BACKDATE = timedelta(hours=72)


# --- errors: one per rule, ``code`` is the API's problem type ----------------------------


class GenesisError(RuleError):
    """Entry 0 must be the operator registering itself, and only entry 0 may do that."""

    code = "genesis"


class UnknownActorError(RuleError):
    """The signer is not a registered actor."""

    code = "unknown-actor"


class ActorRevokedError(RuleError):
    """The signer (or the subject of a key rotation) has been revoked."""

    code = "actor-revoked"


class UnknownKeyError(RuleError):
    """No registered key has this key id."""

    code = "unknown-key"


class ForeignKeyError(RuleError):
    """The key id belongs to another actor."""

    code = "foreign-key"


class KeyRemovedError(RuleError):
    """The key was rotated out and can sign nothing any more."""

    code = "key-removed"


class FutureTimeError(RuleError):
    """The event time is more than `MAX_CLOCK_SKEW` after the log's clock."""

    code = "future-time"


class StaleTimeError(RuleError):
    """The event time is more than `MAX_BACKDATE` before the log's clock."""

    code = "stale-time"


class NotOperatorError(RuleError):
    """Only an operator may sign this kind (actor.register, actor.revoke, claim)."""

    code = "not-operator"


class NotBrandError(RuleError):
    """Only a brand may sign this kind (authorize, authorization.revoke, product.register)."""

    code = "not-brand"


class ActorExistsError(RuleError):
    """An actor with this id is already registered (ids are never reused)."""

    code = "actor-exists"


class UnknownSubjectError(RuleError):
    """The actor to revoke or whose keys rotate is not registered."""

    code = "unknown-subject"


class AlreadyRevokedError(RuleError):
    """The actor or authorization is already revoked."""

    code = "already-revoked"


class CannotRevokeOperatorError(RuleError):
    """An operator cannot revoke itself, so the log always keeps one operator."""

    code = "cannot-revoke-operator"


class BrandPrefixesError(RuleError):
    """A brand is registered with its GS1 prefixes; no other role carries prefixes."""

    code = "brand-prefixes"


class KeyInUseError(RuleError):
    """The key is already registered in this log (to anyone); keys are never reused."""

    code = "key-in-use"


class NotSubjectOrOperatorError(RuleError):
    """Only the actor itself or an operator may rotate the actor's keys."""

    code = "not-subject-or-operator"


class EmptyRotationError(RuleError):
    """A key.rotate must add or remove at least one key."""

    code = "empty-rotation"


class LastKeyError(RuleError):
    """A key rotation would leave the actor without a current key."""

    code = "last-key"


class UnknownPartnerError(RuleError):
    """The authorized partner is not a registered, unrevoked actor."""

    code = "unknown-partner"


class RoleMismatchError(RuleError):
    """The authorization's role is not the partner's registered role."""

    code = "role-mismatch"


class EmptyScopeError(RuleError):
    """An authorization names no GTIN and no prefix."""

    code = "empty-scope"


class BadWindowError(RuleError):
    """An authorization's not_before is not earlier than its not_after."""

    code = "bad-window"


class NotUnderPrefixError(RuleError):
    """The GTIN or prefix is not under one of the brand's GS1 company prefixes."""

    code = "not-under-prefix"


class AuthorizationExistsError(RuleError):
    """An authorization with this id (event hash) already exists."""

    code = "authorization-exists"


class UnknownAuthorizationError(RuleError):
    """No authorization has this id."""

    code = "unknown-authorization"


class NotAuthorizationOwnerError(RuleError):
    """Only the brand that granted an authorization may revoke it."""

    code = "not-authorization-owner"


class ProductExistsError(RuleError):
    """The GTIN is already registered as a product (by any brand)."""

    code = "product-exists"


class UnknownProductError(RuleError):
    """The GTIN is not a registered product."""

    code = "unknown-product"


class NotProductOwnerError(RuleError):
    """The product was registered by another brand."""

    code = "not-product-owner"


class UnitExistsError(RuleError):
    """A unit with this GTIN and serial was already commissioned."""

    code = "unit-exists"


class UnknownUnitError(RuleError):
    """No unit with this GTIN and serial was commissioned."""

    code = "unknown-unit"


class DecommissionedError(RuleError):
    """The unit was decommissioned: nothing may follow."""

    code = "decommissioned"


class NotAuthorizedError(RuleError):
    """The signer holds no authorization from the unit's brand valid for this event."""

    code = "not-authorized"


class NotCustodianError(RuleError):
    """Only the unit's custodian (for some kinds: or its brand) may sign this event."""

    code = "not-custodian"


class TransferPendingError(RuleError):
    """The unit has an open handoff or return that its recipient has not received."""

    code = "transfer-pending"


class UnknownRecipientError(RuleError):
    """The recipient (``to``) is not a registered, unrevoked actor."""

    code = "unknown-recipient"


class SelfHandoffError(RuleError):
    """A custodian cannot hand a unit off to itself."""

    code = "self-handoff"


class NotRecipientError(RuleError):
    """Only the named recipient of the open transfer may receive the unit."""

    code = "not-recipient"


class AlreadySoldError(RuleError):
    """The unit is sold (and not returned): it cannot be sold again."""

    code = "already-sold"


class AlreadyClaimedError(RuleError):
    """The unit's claim code was already used."""

    code = "already-claimed"


class NotSoldError(RuleError):
    """Only a sold unit can be delivered."""

    code = "not-sold"


class NoClaimCodeError(RuleError):
    """The unit was commissioned without a claim commitment."""

    code = "no-claim-code"


class BadClaimCodeError(RuleError):
    """The claim code does not match the unit's commitment."""

    code = "bad-claim-code"


class NotBrandOrOperatorError(RuleError):
    """Only the unit's brand or an operator may recall or flag it."""

    code = "not-brand-or-operator"


# --- the entry points ----------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a kind's rule sees: the state, the signed event, its log index, its signer."""

    state: State
    signed: SignedEvent
    index: int
    signer: ActorRecord

    @property
    def event(self) -> Event:
        """The event being checked."""
        return self.signed.event

    @property
    def hash(self) -> str:
        """The event hash, base64url: a unit's new head, an authorization's id."""
        return codec.b64url_encode(self.signed.hash)


def check(state: State, signed: SignedEvent, index: int, now: datetime) -> list[Record]:
    """Check ``signed`` against the rules and return the records accepting it produces.

    Steps:
        (1) the signer: at index 0 the operator's self-registration (genesis); elsewhere
            a registered, unrevoked actor signing with one of its current keys;
        (2) the event time is at most `MAX_CLOCK_SKEW` after ``now`` and at most
            `MAX_BACKDATE` before it;
        (3) the rules of the event's kind (ledger.rules.registry, ledger.rules.custody).

    Args:
        state: the state after entries ``0 .. index - 1``; read, never changed.
        signed: the event and its key id (the signature is NOT verified here).
        index: the log index the event would get.
        now: the log's clock (the entry's receive time), timezone-aware.

    Raises:
        RuleError: a subclass defined here, naming the broken rule and the field.
        ConflictError: a unit event's ``prev`` is not the unit's head (field ``prev``).
        ValidationError: ``index`` is negative or ``now`` is naive.
    """
    # Imported here because both build on this module (Context, errors, helpers).
    from ledger.rules import custody, registry

    event = signed.event
    signing_key(state, signed, index)  # (1)
    _check_time(event, now)  # (2)
    if index == 0:  # (3)
        return registry.genesis(event, index)
    ctx = Context(state=state, signed=signed, index=index, signer=state.actors[event.actor])
    if isinstance(event, UnitEvent):
        return custody.check_unit(ctx)
    return registry.check_registry(ctx)


def signing_key(state: State, signed: SignedEvent, index: int) -> str:
    """Return the base64url public key that must have signed ``signed``.

    At index 0 that is the key, among the genesis event's own ``keys``, whose id is
    ``signed.key``; elsewhere it is the signer's current key ``signed.key`` in ``state``.

    Raises:
        GenesisError: index 0 is not an operator's self-registration signed by one of
            its keys, or an operator registers itself after index 0.
        UnknownActorError: the signer is not registered.
        ActorRevokedError: the signer is revoked.
        UnknownKeyError, ForeignKeyError, KeyRemovedError: ``signed.key`` is not a
            current key of the signer.
        ValidationError: ``index`` is negative.
    """
    event = signed.event
    if index < 0:
        raise ValidationError("a log index is 0 or more", field="index")
    if index == 0:
        return _genesis_key(signed)
    if isinstance(event, ActorRegister) and event.role == "operator":
        if event.subject == event.actor:
            raise GenesisError("an operator registers itself only at index 0", field="subject")
    signer = state.actors.get(event.actor)
    if signer is None:
        raise UnknownActorError(f"no actor {event.actor!r} is registered", field="actor")
    if signer.revoked_index is not None:
        raise ActorRevokedError(
            f"{event.actor} was revoked at index {signer.revoked_index}", field="actor"
        )
    return current_key(state, signed.key, event.actor, "key").public_key


def _genesis_key(signed: SignedEvent) -> str:
    event = signed.event
    if not isinstance(event, ActorRegister):
        raise GenesisError("entry 0 must be an actor.register", field="kind")
    if event.role != "operator":
        raise GenesisError("entry 0 registers the operator", field="role")
    if event.subject != event.actor:
        raise GenesisError("entry 0 is the operator registering itself", field="subject")
    for i, public in enumerate(event.keys):
        if key_id_of(public, f"keys[{i}]") == signed.key:
            return public
    raise GenesisError("entry 0 must be signed by one of the keys it lists", field="key")


def _check_time(event: Event, now: datetime) -> None:
    if now.tzinfo is None:
        raise ValidationError("the log clock must be timezone-aware", field="now")
    if event.at - now > MAX_CLOCK_SKEW:
        raise FutureTimeError(
            f"{event.time} is more than {MAX_CLOCK_SKEW} after the log's clock", field="time"
        )
    if now - event.at > MAX_BACKDATE:
        raise StaleTimeError(
            f"{event.time} is more than {MAX_BACKDATE} before the log's clock", field="time"
        )


# --- key checks shared with ledger.rules.registry ----------------------------------------------


def key_id_of(public: str, field: str) -> str:
    """Return the key id of a base64url public key (FORMAT section 1).

    Raises:
        EncodingError: ``public`` is not base64url of 32 bytes.
    """
    return crypto.key_id(codec.b64url_decode(public, field=field, size=crypto.PUBLIC_KEY_SIZE))


def current_key(state: State, key_id: str, owner: str, field: str) -> KeyRecord:
    """Return the key ``key_id``, which must be a current key of ``owner``.

    Raises:
        UnknownKeyError: no key has this id.
        ForeignKeyError: the key belongs to another actor.
        KeyRemovedError: the key was rotated out.
    """
    record = state.keys.get(key_id)
    if record is None:
        raise UnknownKeyError(f"no key has id {key_id}", field=field)
    if record.actor != owner:
        raise ForeignKeyError(f"key {key_id} belongs to {record.actor}", field=field)
    if record.removed_index is not None:
        raise KeyRemovedError(
            f"key {key_id} was removed at index {record.removed_index}", field=field
        )
    return record
