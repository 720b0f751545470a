"""What every rule shares: the `Context` a kind's rule sees, the signer and key checks, and
the time bounds.

`signing_key` says which public key must have signed an event (or raises the rule the
signer breaks); `check_time` bounds the event's own time against the log's clock;
`key_id_of` and `current_key` are the key lookups ledger.rules.registry reuses. Pure: no
I/O, no clock (``now`` is an argument), the state is read, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger import codec, crypto
from ledger.entry import SignedEvent
from ledger.errors import ValidationError
from ledger.events import ActorRegister, Event
from ledger.rules.errors import (
    ActorRevokedError,
    ForeignKeyError,
    FutureTimeError,
    GenesisError,
    KeyRemovedError,
    StaleTimeError,
    UnknownActorError,
    UnknownKeyError,
)
from ledger.rules.state import ActorRecord, KeyRecord, State
from ledger.vocab import Role

#: how far an event's own time may run ahead of the log's clock (inclusive)
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: how long after the fact an event may still be logged (a courier offline for days).
#: Bounds backdating: without it a partner whose authorization expired (not revoked)
#: could keep signing events dated inside its old window.
MAX_BACKDATE = timedelta(hours=72)


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
    if isinstance(event, ActorRegister) and event.role == Role.OPERATOR:
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
    if event.role != Role.OPERATOR:
        raise GenesisError("entry 0 registers the operator", field="role")
    if event.subject != event.actor:
        raise GenesisError("entry 0 is the operator registering itself", field="subject")
    for i, public in enumerate(event.keys):
        if key_id_of(public, f"keys[{i}]") == signed.key:
            return public
    raise GenesisError("entry 0 must be signed by one of the keys it lists", field="key")


def check_time(event: Event, now: datetime) -> None:
    """Accept ``event``'s own time if it lies within the window around the log's clock.

    The window runs from `MAX_BACKDATE` before ``now`` to `MAX_CLOCK_SKEW` after it,
    both ends inclusive.

    Raises:
        ValidationError: ``now`` is naive.
        FutureTimeError: the event time is more than `MAX_CLOCK_SKEW` after ``now``.
        StaleTimeError: the event time is more than `MAX_BACKDATE` before ``now``.
    """
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


# --- key checks shared with ledger.rules.registry ------------------------------------------


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
