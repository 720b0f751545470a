"""Rules of genesis and the registry kinds: actors, keys, authorizations, products.

Called by `ledger.rules.check.check` (which has already checked the signer, its key and the
event time) for ``actor.register``, ``actor.revoke``, ``key.rotate``, ``key.recover``,
``key.recover.cancel``, ``authorize``, ``authorization.revoke`` and ``product.register``;
each returns the records the event creates or replaces, or raises the `RuleError`
subclass (ledger.rules.errors) of the rule it breaks. The key kinds' rules, and the key
records every registration makes, are ledger.rules.keys'; this module's table routes
to them. Also holds the actor and product lookups that ledger.rules.custody shares.

No I/O, no clock; the state is read, never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ledger import gs1
from ledger.entry import SignedEvent
from ledger.errors import RuleError, ValidationError
from ledger.events import (
    LATEST_VERSION,
    ActorRegister,
    ActorRevoke,
    AuthorizationRevoke,
    Authorize,
    Event,
    KeyRecover,
    KeyRecoverCancel,
    KeyRotate,
    LogUpgrade,
    ProductRegister,
    parse_time,
)
from ledger.rules.context import (
    Context,
    log_versions,
    require_role,
)
from ledger.rules.errors import (
    ActorExistsError,
    AlreadyRevokedError,
    AuthorizationExistsError,
    BadWindowError,
    BrandPrefixesError,
    CannotRevokeOperatorError,
    EmptyScopeError,
    FormatRetiredError,
    GenesisError,
    HiddenCharactersError,
    LookalikeNameError,
    NotAuthorizationOwnerError,
    NotBrandError,
    NotOperatorError,
    NotProductOwnerError,
    NotUnderPrefixError,
    PrefixTakenError,
    ProductExistsError,
    RecoveryWaitError,
    RoleMismatchError,
    UnknownAuthorizationError,
    UnknownPartnerError,
    UnknownProductError,
    UnknownSubjectError,
    UpgradeError,
)
from ledger.rules.keys import key_recover, key_recover_cancel, key_rotate, new_keys
from ledger.rules.skeleton import hidden_characters, look_alike
from ledger.rules.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    Record,
    State,
    with_changes,
)
from ledger.vocab import Role

#: the owner of the log key's `KeyRecord`: not an actor id (those never hold ``@``), so
#: the log key signs for no actor, and no actor can ever register it (``key-in-use``)
LOG_KEY_OWNER = "@log"


def genesis(signed: SignedEvent, index: int) -> list[Record]:
    """Return the records of entry 0, the operator registering itself (and, when it
    names one, the log key that signs the checkpoints, owned by `LOG_KEY_OWNER`). A
    genesis that names ``format`` and ``rules`` (both 2) holds them from index 0 and is
    itself signed in format 2.

    `ledger.rules.signing_key` checks the rest of genesis (role, self-registration, a
    listed key signed it) before this is called.

    Raises:
        GenesisError: the event is not an ``actor.register``, or its log key is one of
            the operator's keys (the two roles need two keys).
        BrandPrefixesError: the operator carries GS1 prefixes.
        UpgradeError: it names a format or rule set that is not the latest, or one
            without the other, or names format 2 but is not signed in it.
    """
    event = signed.event
    if not isinstance(event, ActorRegister):
        raise GenesisError("entry 0 must be an actor.register", field="kind")
    _check_prefixes(event)
    actor = with_changes(_actor_record(event, index), recovery_wait=event.recovery_wait)
    if event.format is not None or event.rules is not None:
        # each names the latest or is absent (format 1 stays open to signers that do not
        # yet name the log; rule set 2 holds from 0 either way)
        for name in ("format", "rules"):
            if getattr(event, name) not in (None, LATEST_VERSION):
                raise UpgradeError(f"a new log starts with {name} {LATEST_VERSION}", field=name)
        if event.format is not None and signed.v < event.format:
            raise FormatRetiredError(
                f"a genesis naming format {event.format} is signed in it", field="v"
            )
        actor = with_changes(actor, log_format=event.format, log_rules=event.rules, log_since=0)
    records: list[Record] = [actor, *new_keys(State(), event.keys, event.subject, index)]
    if event.log_key is not None:
        if event.log_key in event.keys:
            raise GenesisError(
                "the log key must not be one of the operator's keys", field="log_key"
            )
        records += new_keys(State(), (event.log_key,), LOG_KEY_OWNER, index, "log_key")
    return records


def log_key(state: State) -> KeyRecord | None:
    """The log key its genesis named (None: a log from before, whose checkpoints the
    operator's genesis key signs)."""
    return next((k for k in state.keys.values() if k.actor == LOG_KEY_OWNER), None)


def _log_upgrade(ctx: Context, event: LogUpgrade) -> list[Record]:
    """An operator moves the log to the latest format and rule set from the next index
    on; the genesis operator's record keeps the switch (`ledger.rules.log_versions`)."""
    require_role(ctx, Role.OPERATOR, NotOperatorError)
    current = log_versions(ctx.state, ctx.index + 1)
    wanted = (event.format, event.rules)
    if wanted != (LATEST_VERSION, LATEST_VERSION) or current == wanted:
        raise UpgradeError(
            f"the log holds format {current[0]} and rules {current[1]}; an upgrade moves "
            f"it to format {LATEST_VERSION} and rules {LATEST_VERSION}",
            field="format",
        )
    genesis = next(a for a in ctx.state.actors.values() if a.registered_index == 0)
    return [
        with_changes(
            genesis, log_format=event.format, log_rules=event.rules, log_since=ctx.index + 1
        )
    ]


def check_registry(ctx: Context) -> list[Record]:
    """Apply the rules of ``ctx.event``'s (registry) kind.

    Raises:
        RuleError: the subclass of the broken rule (see each kind's rule below).
        ValidationError: the event is a unit event (those go to ledger.rules.custody).
    """
    handler = _KINDS.get(type(ctx.event))
    if handler is None:
        raise ValidationError("not a registry kind", field="kind")
    return handler(ctx, ctx.event)


# --- lookups shared with ledger.rules.custody ------------------------------------------------


def live_actor(state: State, actor_id: str, error: type[RuleError], field: str) -> ActorRecord:
    """Return the registered, unrevoked actor ``actor_id``.

    Raises:
        RuleError: the caller's ``error`` subclass, if it is unknown or revoked.
    """
    actor = state.actors.get(actor_id)
    if actor is None:
        raise error(f"no actor {actor_id!r} is registered", field=field)
    if actor.revoked_index is not None:
        raise error(f"{actor_id} was revoked at index {actor.revoked_index}", field=field)
    return actor


def own_product(ctx: Context, gtin: str, field: str) -> ProductRecord:
    """Return the product ``gtin``, which the signer must have registered.

    Raises:
        UnknownProductError: no such product.
        NotProductOwnerError: another brand registered it.
    """
    product = ctx.state.products.get(gtin)
    if product is None:
        raise UnknownProductError(f"GTIN {gtin} is not a registered product", field=field)
    if product.brand != ctx.signer.id:
        raise NotProductOwnerError(f"GTIN {gtin} belongs to {product.brand}", field=field)
    return product


# --- actors and keys ---------------------------------------------------------------------


def _actor_register(ctx: Context, event: ActorRegister) -> list[Record]:
    require_role(ctx, Role.OPERATOR, NotOperatorError)
    if event.log_key is not None:
        raise GenesisError("only entry 0 names the log key", field="log_key")
    if event.subject in ctx.state.actors:
        raise ActorExistsError(f"actor {event.subject!r} is already registered", field="subject")
    if event.format is not None or event.rules is not None:
        raise UpgradeError(
            "only the genesis entry names the log's format and rules (later: log.upgrade)",
            field="format",
        )
    if event.recovery_wait is not None:
        raise RecoveryWaitError(
            "only the genesis entry sets the log's recovery wait", field="recovery_wait"
        )
    _check_prefixes(event)
    if ctx.rules >= 2:  # rule set 1 let prefixes overlap (docs/ARCHITECTURE.md section 4)
        _check_prefixes_free(ctx.state, event.prefixes or ())
        _check_name_free(ctx.state, event)
    keys = new_keys(ctx.state, event.keys, event.subject, ctx.index)
    return [_actor_record(event, ctx.index), *keys]


def _actor_record(event: ActorRegister, index: int) -> ActorRecord:
    return ActorRecord(
        id=event.subject,
        role=event.role,
        name=event.name,
        prefixes=event.prefixes or (),
        registered_index=index,
    )


def _check_prefixes(event: ActorRegister) -> None:
    if event.role == Role.BRAND and not event.prefixes:
        raise BrandPrefixesError("a brand is registered with its GS1 prefixes", field="prefixes")
    if event.role != Role.BRAND and event.prefixes:
        raise BrandPrefixesError("only a brand carries GS1 prefixes", field="prefixes")


def _check_prefixes_free(state: State, prefixes: Iterable[str]) -> None:
    """Refuse a prefix that another brand holds, or that nests with one (either way:
    0614141 inside 06141410's range, or 06141410 inside 0614141's): GS1 prefixes are
    unique across brands, so no second brand can mint under a first one's GTINs. A
    revoked brand keeps its prefixes: its units are still in the log."""
    for i, prefix in enumerate(prefixes):
        for actor in state.actors.values():
            if actor.role != Role.BRAND:
                continue
            for held in actor.prefixes:
                if prefix.startswith(held) or held.startswith(prefix):
                    raise PrefixTakenError(
                        f"prefix {prefix} overlaps {held}, held by {actor.id}",
                        field=f"prefixes[{i}]",
                    )


def _check_name_free(state: State, event: ActorRegister) -> None:
    """Refuse an actor's name holding characters that show nothing (a zero width space
    in "Ac\u200bme", a right-to-left override: `hidden_characters`), and a brand whose
    name looks like another brand's (a TR39 confusable skeleton in common,
    case-insensitive, ledger.rules.skeleton): "ACME", "Acme" with a Cyrillic A, or
    "Acme" in full-width letters would show shoppers a second "Acme". Revoked brands
    keep their names, as they keep their prefixes."""
    hidden = hidden_characters(event.name)
    if hidden:
        raise HiddenCharactersError(
            f"name {event.name!r} holds characters that show nothing: {', '.join(hidden)}",
            field="name",
        )
    if event.role != Role.BRAND:
        return
    for actor in state.actors.values():
        if actor.role == Role.BRAND and look_alike(actor.name, event.name):
            raise LookalikeNameError(
                f"name {event.name!r} looks like {actor.name!r}, the name of {actor.id}",
                field="name",
            )


def _actor_revoke(ctx: Context, event: ActorRevoke) -> list[Record]:
    require_role(ctx, Role.OPERATOR, NotOperatorError)
    subject = ctx.state.actors.get(event.subject)
    if subject is None:
        raise UnknownSubjectError(f"no actor {event.subject!r} is registered", field="subject")
    if subject.revoked_index is not None:
        raise AlreadyRevokedError(
            f"{event.subject} was revoked at index {subject.revoked_index}", field="subject"
        )
    # The signer is a live operator, so refusing self-revocation also keeps the last one.
    if subject.id == event.actor:
        raise CannotRevokeOperatorError(
            "an operator cannot revoke itself (the log keeps at least one)", field="subject"
        )
    return [with_changes(subject, revoked_index=ctx.index, revoked_since=event.since)]


# --- authorizations and products ---------------------------------------------------------


def _authorize(ctx: Context, event: Authorize) -> list[Record]:
    require_role(ctx, Role.BRAND, NotBrandError)
    partner = live_actor(ctx.state, event.partner, UnknownPartnerError, "partner")
    if partner.role != event.role:
        raise RoleMismatchError(
            f"{partner.id} is a {partner.role}, not a {event.role}", field="role"
        )
    if not event.gtins and not event.prefixes:
        raise EmptyScopeError("name at least one GTIN or prefix", field="gtins")
    for i, gtin in enumerate(event.gtins):
        own_product(ctx, gtin, f"gtins[{i}]")
    for i, prefix in enumerate(event.prefixes):
        if not any(prefix.startswith(own) for own in ctx.signer.prefixes):
            raise NotUnderPrefixError(
                f"prefix {prefix} is not under a prefix of {ctx.signer.id}", field=f"prefixes[{i}]"
            )
    if parse_time(event.not_before, "not_before") >= parse_time(event.not_after, "not_after"):
        raise BadWindowError("not_before must be earlier than not_after", field="not_after")
    if ctx.hash in ctx.state.authorizations:
        raise AuthorizationExistsError(f"authorization {ctx.hash} exists", field="event")
    record = AuthorizationRecord(
        id=ctx.hash,
        brand=ctx.signer.id,
        partner=partner.id,
        role=event.role,
        gtins=event.gtins,
        prefixes=event.prefixes,
        not_before=event.not_before,
        not_after=event.not_after,
        granted_index=ctx.index,
    )
    return [record]


def _authorization_revoke(ctx: Context, event: AuthorizationRevoke) -> list[Record]:
    require_role(ctx, Role.BRAND, NotBrandError)
    auth = ctx.state.authorizations.get(event.authorization)
    if auth is None:
        raise UnknownAuthorizationError(
            f"no authorization {event.authorization}", field="authorization"
        )
    if auth.brand != ctx.signer.id:
        raise NotAuthorizationOwnerError(
            f"the authorization was granted by {auth.brand}", field="authorization"
        )
    if auth.revoked_index is not None:
        raise AlreadyRevokedError(
            f"the authorization was revoked at index {auth.revoked_index}", field="authorization"
        )
    return [with_changes(auth, revoked_index=ctx.index, revoked_at=event.time)]


def _product_register(ctx: Context, event: ProductRegister) -> list[Record]:
    require_role(ctx, Role.BRAND, NotBrandError)
    if not any(gs1.company_prefix_matches(event.gtin, p) for p in ctx.signer.prefixes):
        raise NotUnderPrefixError(
            f"GTIN {event.gtin} is not under a prefix of {ctx.signer.id}", field="gtin"
        )
    existing = ctx.state.products.get(event.gtin)
    # the brand that registered a GTIN may sign it again: the later product.register
    # replaces the names, the support contact and the picture's hash (an update signed
    # by the brand, as the first one was); another brand never may
    if existing is not None and existing.brand != ctx.signer.id:
        raise ProductExistsError(
            f"GTIN {event.gtin} was registered by {existing.brand}", field="gtin"
        )
    product = ProductRecord(
        gtin=event.gtin,
        brand=ctx.signer.id,
        name=event.name,
        registered_index=ctx.index,
        name_zh=event.name_zh,
        support=event.support,
        image=event.image,
    )
    return [product]


_KINDS: dict[type[Event], Callable[[Context, Any], list[Record]]] = {
    ActorRegister: _actor_register,
    ActorRevoke: _actor_revoke,
    LogUpgrade: _log_upgrade,
    KeyRotate: key_rotate,
    KeyRecover: key_recover,
    KeyRecoverCancel: key_recover_cancel,
    Authorize: _authorize,
    AuthorizationRevoke: _authorization_revoke,
    ProductRegister: _product_register,
}
