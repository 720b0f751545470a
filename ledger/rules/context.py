"""What every rule shares: the `Context` a kind's rule sees, the signer and key checks, and
the time bounds.

`signing_key` says which public key must have signed an event (or raises the rule the
signer breaks); `check_key_use` says whether that key may sign this kind now (its scope,
a recovered key's waiting period); `check_time` bounds the event's own time against the
log's clock; `require_role` is the kinds' check of the signer's role; `key_id_of`,
`current_key`, `is_full_key` and `recovery_wait` are the key lookups ledger.rules.registry
and ledger.rules.keys reuse (`pending_recovery`: the service's lists of pending
recoveries). Pure: no I/O, no clock (``now`` is an argument),
the state is read, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger import codec, crypto
from ledger.entry import SignedEvent
from ledger.errors import RuleError, ValidationError
from ledger.events import ActorRegister, Event, parse_time
from ledger.frozen import filled
from ledger.rules.errors import (
    ActorRevokedError,
    ForeignKeyError,
    FormatRetiredError,
    FutureTimeError,
    GenesisError,
    KeyNotEffectiveError,
    KeyOutOfScopeError,
    KeyRemovedError,
    StaleTimeError,
    UnknownActorError,
    UnknownKeyError,
)
from ledger.rules.state import ActorRecord, KeyRecord, State
from ledger.vocab import KeyScope, Role

#: how far an event's own time may run ahead of the log's clock (inclusive)
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: how long after the fact an event may still be logged (a courier offline for days).
#: Bounds backdating: without it a partner whose authorization expired (not revoked)
#: could keep signing events dated inside its old window.
MAX_BACKDATE = timedelta(hours=72)
#: how long an operator's ``key.recover`` waits before its key may sign, unless the
#: genesis entry names another ``recovery_wait``: time for the subject (and its monitor)
#: to see it and cancel it with any key it still holds
RECOVERY_WAIT = timedelta(days=7)
#: how far back a ``key.rotate`` may report a removed key compromised (``compromised_since``,
#: rule set 2). Unbounded, one report (by the actor, or by a thief holding one of its full
#: keys) would turn everything the key ever signed amber. A rule constant, not a server
#: setting: every auditor replays the same rule, so changing it is a rule-set change.
MAX_COMPROMISE_BACKDATE = timedelta(days=30)

#: the kinds a scoped key may sign, per scope. No scope reaches ``key.*``: a scoped key
#: never rotates keys, reports a compromise or cancels a recovery.
SCOPE_KINDS: dict[str, frozenset[str]] = {
    KeyScope.MINT: frozenset({"product.register", "commission"}),
    KeyScope.CUSTODY: frozenset(
        {
            "handoff",
            "receive",
            "inspect",
            "sell",
            "deliver",
            "return",
            "decommission",
            "pack",
            "unpack",
        }
    ),
    KeyScope.FLAG: frozenset({"flag"}),
    KeyScope.RECALL: frozenset({"recall"}),
    KeyScope.AUTHORIZE: frozenset({"authorize", "authorization.revoke"}),
    KeyScope.CONSOLE: frozenset(
        {"product.register", "authorize", "authorization.revoke", "flag", "recall"}
    ),
    # ending an authorization without the power to grant one: what a brand gives a key
    # the operator's server holds (its console), so a stolen server key cannot make
    # partners up (docs/RELIABILITY.md, the console key)
    KeyScope.REVOKE: frozenset({"authorization.revoke"}),
}


@dataclass(frozen=True)
class Context:
    """What a kind's rule sees: the state, the signed event, its log index, its signer."""

    state: State
    signed: SignedEvent
    index: int
    signer: ActorRecord
    #: the log's clock at this entry (its receive time)
    now: datetime
    #: the rule set in force at ``index`` (`log_versions`): 1 keeps the rules of logs
    #: from before rule set 2 (docs/ARCHITECTURE.md section 4), as small conditionals
    rules: int = 2

    @property
    def event(self) -> Event:
        """The event being checked."""
        return self.signed.event

    @property
    def hash(self) -> str:
        """The event hash, base64url: a unit's new head, an authorization's id."""
        return codec.b64url_encode(self.signed.hash)


def new_context(
    state: State, signed: SignedEvent, index: int, signer: ActorRecord, now: datetime, rules: int
) -> Context:
    """``Context(...)`` of these fields, made without the frozen dataclass's ``__init__``
    (one ``object.__setattr__`` a field; one context an entry): it holds its fields and
    nothing else, so its instance dictionary filled in field order is the same object."""
    return filled(
        Context, state=state, signed=signed, index=index, signer=signer, now=now, rules=rules
    )


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


def check_key_use(state: State, signed: SignedEvent, now: datetime) -> None:
    """Accept the signing key (already a current key of the signer, `signing_key`) for
    this kind at this log time.

    A scoped key signs only the kinds of its scope (`SCOPE_KINDS`); a recovered key signs
    nothing before its ``effective`` log time. The genesis entry (no key record yet) and
    an ordinary full key pass.

    Raises:
        KeyOutOfScopeError: the key is scoped and the kind lies outside its scope.
        KeyNotEffectiveError: the key was recovered and ``now`` is before ``effective``.
    """
    record = state.keys.get(signed.key)
    if record is None:
        return
    kind = signed.event.kind
    if record.scope and not any(kind in SCOPE_KINDS[s] for s in record.scope):
        raise KeyOutOfScopeError(
            f"key {record.key_id} is scoped to {', '.join(record.scope)}: it may not sign {kind}",
            field="key",
        )
    if record.effective is not None and now < parse_time(record.effective, "effective"):
        raise KeyNotEffectiveError(
            f"key {record.key_id} was recovered by an operator and signs nothing before "
            f"{record.effective}",
            field="key",
        )


def is_full_key(record: KeyRecord, now: datetime) -> bool:
    """True if ``record`` is a current, unscoped key in effect at ``now``: one that may
    rotate its actor's keys or cancel a recovery."""
    if record.removed_index is not None or record.scope:
        return False
    return record.effective is None or parse_time(record.effective, "effective") <= now


def pending_recovery(record: KeyRecord, now: datetime) -> tuple[int, str] | None:
    """The ``key.recover``'s index and ``effective`` time if ``record`` is a key an
    operator recovered that is not yet in effect at ``now`` and not cancelled: the
    recovery its actor can still cancel, listed publicly (the actor's page, the
    operator's console) until then; None for any other key."""
    index, effective = record.recovered_index, record.effective
    if index is None or effective is None or record.removed_index is not None:
        return None
    return (index, effective) if parse_time(effective, "effective") > now else None


def log_versions(state: State, index: int) -> tuple[int, int]:
    """Return (event format, rule set) in force at log index ``index``: what the genesis
    operator's record says from its ``log_since`` on, else (1, 1), the versions of logs
    from before they were recorded. (The state holds every operator.) It answers for
    the next index of the log ``state`` is the state of, as the rules ask; a client
    reading earlier entries uses ledger.verify.recompute.Switch, built from the entries."""
    for actor in state.actors.values():
        if actor.registered_index == 0 and actor.log_since is not None:
            if index >= actor.log_since:
                return actor.log_format or 1, actor.log_rules or 1
    return 1, 1


def check_format(state: State, signed: SignedEvent, index: int) -> None:
    """Accept ``signed``'s format at ``index``: once the log holds format 2, a format-1
    event (whose message names no log, so it could be a replay from another log) is
    refused. Before the switch both are taken: format 2 only adds the log's name.

    Raises:
        FormatRetiredError: a format-1 event after the switch.
    """
    check_format_at(state, signed, log_versions(state, index)[0])


def check_format_at(state: State, signed: SignedEvent, required: int) -> None:
    """`check_format` with the event format in force at the index already looked up
    (`log_versions`): for `ledger.rules.check.check_signer_known`, which needs the
    rule set of the same index too, so the actors are walked once, not twice.

    Raises:
        FormatRetiredError: a format-1 event after the switch.
    """
    if signed.v < required:
        raise FormatRetiredError(
            f"this log takes event format {required} from index "
            f"{_since(state)}: sign for the log (format 2 names its origin)",
            field="v",
        )


def _since(state: State) -> int:
    return next((a.log_since or 0 for a in state.actors.values() if a.registered_index == 0), 0)


def recovery_wait(state: State) -> timedelta:
    """The log's recovery wait: the genesis operator's signed ``recovery_wait``, else
    `RECOVERY_WAIT`. (The state holds every operator, so the genesis one is at hand.)"""
    for actor in state.actors.values():
        if actor.registered_index == 0 and actor.recovery_wait is not None:
            return timedelta(seconds=actor.recovery_wait)
    return RECOVERY_WAIT


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


# --- checks shared by the kinds' rules ------------------------------------------------------


def require_role(ctx: Context, role: str, error: type[RuleError]) -> None:
    """Refuse unless the signer has ``role``.

    Raises:
        RuleError: the caller's ``error`` subclass, naming the field ``actor``.
    """
    if ctx.signer.role != role:
        raise error(f"only an actor with role {role} may sign {ctx.event.kind}", field="actor")


# --- key checks shared with ledger.rules.registry and ledger.rules.keys ----------------------


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
