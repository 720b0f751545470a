"""Rules of the key kinds: ``key.rotate``, ``key.recover`` and ``key.recover.cancel``,
and the key records every registration makes (`new_keys`).

Called through ledger.rules.registry's table of kinds (after ledger.rules.check has
checked the signer, its key and the event time); each returns the records the event
creates or replaces, or raises the `RuleError` subclass (ledger.rules.errors) of the
rule it breaks. An actor's keys are its own: only the subject signs a rotation or a
cancellation; an operator only recovers a lost actor, and the recovery waits.

No I/O, no clock; the state is read, never changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.events import KeyRecover, KeyRecoverCancel, KeyRotate, parse_time
from ledger.rules.context import (
    MAX_COMPROMISE_BACKDATE,
    Context,
    current_key,
    is_full_key,
    key_id_of,
    recovery_wait,
    require_role,
)
from ledger.rules.errors import (
    ActorRevokedError,
    CompromisedInFutureError,
    CompromiseTooOldError,
    EmptyRotationError,
    KeyInUseError,
    LastKeyError,
    NothingCompromisedError,
    NothingScopedError,
    NotOperatorError,
    NotSubjectError,
    OperatorNotSubjectError,
    RecoveryNotPendingError,
    RecoveryTooSoonError,
    UnknownRecoveryError,
    UnknownSubjectError,
)
from ledger.rules.state import ActorRecord, KeyRecord, Record, State, with_changes
from ledger.vocab import Role


def new_keys(
    state: State,
    keys: Iterable[str],
    owner: str,
    index: int,
    field: str = "keys",
    scope: tuple[str, ...] = (),
) -> list[KeyRecord]:
    """Key records owned by ``owner`` for ``keys``, added at ``index`` with ``scope``.

    Raises:
        KeyInUseError: a key this log has seen before (no key is ever reused), named by
            its position in ``field``.
        EncodingError: a key that is not base64url of 32 bytes.
    """
    out = []
    for i, public in enumerate(keys):
        key_id = key_id_of(public, f"{field}[{i}]")
        if key_id in state.keys:
            raise KeyInUseError(
                f"key {key_id} is already registered to {state.keys[key_id].actor}",
                field=f"{field}[{i}]",
            )
        out.append(
            KeyRecord(key_id=key_id, actor=owner, public_key=public, added_index=index, scope=scope)
        )
    return out


def key_rotate(ctx: Context, event: KeyRotate) -> list[Record]:
    """The records of a ``key.rotate``: the removed keys marked (with their compromise
    time), the added ones new. Signed by the subject itself (rule set 1 let an operator
    sign it for anyone).

    Raises:
        RuleError: the subclass of the broken rule (unknown or revoked subject, another
            signer, an empty rotation, a scope or compromise time with nothing to apply
            to, a compromise time in the future or too far back, a key not current, a
            key reused, no full key left).
    """
    state = ctx.state
    subject = _live_subject(state, event.subject)
    # No one signs for another: not even an operator rotates someone else's keys (a lost
    # actor is recovered by key.recover, which waits and can be cancelled). The signing
    # key is a full one: check_key_use refused a scoped key, a pending recovered key.
    if ctx.rules >= 2 or ctx.signer.role != Role.OPERATOR:
        # rule set 1 let an operator rotate anyone's keys (docs/ARCHITECTURE.md section 4)
        _require_subject(ctx, subject)
    if not event.add and not event.remove:
        raise EmptyRotationError("a key.rotate adds or removes at least one key", field="add")
    if event.scope is not None and not event.add:
        raise NothingScopedError("a scope applies to the keys a key.rotate adds", field="scope")
    if event.compromised_since is not None:
        if not event.remove:
            raise NothingCompromisedError(
                "compromised_since applies to the keys a key.rotate removes",
                field="compromised_since",
            )
        since = parse_time(event.compromised_since, "compromised_since")
        if since > event.at:
            raise CompromisedInFutureError(
                "a key is reported compromised as of a time before the report",
                field="compromised_since",
            )
        if ctx.rules >= 2 and since < ctx.now - MAX_COMPROMISE_BACKDATE:
            # bounded by the log's clock, which the signer does not choose
            raise CompromiseTooOldError(
                f"a key is reported compromised at most {MAX_COMPROMISE_BACKDATE.days} days"
                " back from the log's time",
                field="compromised_since",
            )
    removed = [
        with_changes(
            current_key(state, key_id, subject.id, f"remove[{i}]"),
            removed_index=ctx.index,
            compromised_since=event.compromised_since,
        )
        for i, key_id in enumerate(event.remove)
    ]
    if ctx.rules >= 2 and event.compromised_since is not None:
        _check_compromise_after_key(event.compromised_since, removed)
    added = new_keys(state, event.add, subject.id, ctx.index, "add", event.scope or ())
    # only a full key can rotate again: an actor left with scoped keys alone could never
    # manage its keys and would need an operator's recovery
    gone = {k.key_id for k in removed}
    full = sum(
        1
        for k in state.keys.values()
        if k.actor == subject.id and k.key_id not in gone and is_full_key(k, ctx.now)
    )
    if full + (len(added) if not event.scope else 0) < 1:
        raise LastKeyError(
            f"{subject.id} must keep at least one current, unscoped key", field="remove"
        )
    return [*removed, *added]


def _check_compromise_after_key(since: str, removed: Iterable[KeyRecord]) -> None:
    """Refuse a compromise time before a removed key could sign: before a recovered key's
    ``effective`` time. (An ordinary key signed nothing before its registration, so a
    time before it marks nothing more; the state keeps no times to compare with.)"""
    for key in removed:
        if key.effective is not None and parse_time(since) < parse_time(key.effective):
            raise CompromiseTooOldError(
                f"key {key.key_id} signed nothing before {key.effective}, when its recovery"
                " took effect",
                field="compromised_since",
            )


def _live_subject(state: State, subject_id: str) -> ActorRecord:
    subject = state.actors.get(subject_id)
    if subject is None:
        raise UnknownSubjectError(f"no actor {subject_id!r} is registered", field="subject")
    if subject.revoked_index is not None:
        raise ActorRevokedError(f"{subject.id} is revoked", field="subject")
    return subject


def _require_subject(ctx: Context, subject: ActorRecord) -> None:
    if ctx.signer.id == subject.id:
        return
    if ctx.signer.role == Role.OPERATOR:
        raise OperatorNotSubjectError(
            f"an operator may not sign {ctx.event.kind} for {subject.id}: only its own keys"
            " may (an actor that lost every key is recovered with key.recover)",
            field="actor",
        )
    raise NotSubjectError(f"only {subject.id} may sign {ctx.event.kind} for itself", field="actor")


def key_recover(ctx: Context, event: KeyRecover) -> list[Record]:
    """The record of a ``key.recover``: an operator gives a live actor a new key that
    takes effect at ``effective``, at least the log's recovery wait after it is logged
    (the actor can cancel it meanwhile).

    Raises:
        RuleError: the subclass of the broken rule (not an operator, unknown or revoked
            subject, too soon, a key reused).
    """
    require_role(ctx, Role.OPERATOR, NotOperatorError)
    subject = _live_subject(ctx.state, event.subject)
    wait = recovery_wait(ctx.state)
    # measured in log time (the entry's receive time), which the signer does not choose
    if parse_time(event.effective, "effective") < ctx.now + wait:
        raise RecoveryTooSoonError(
            f"a recovered key takes effect at least {wait} after the log records it",
            field="effective",
        )
    key_id = key_id_of(event.key, "key")
    if key_id in ctx.state.keys:
        raise KeyInUseError(
            f"key {key_id} is already registered to {ctx.state.keys[key_id].actor}", field="key"
        )
    recovered = KeyRecord(
        key_id=key_id,
        actor=subject.id,
        public_key=event.key,
        added_index=ctx.index,
        recovered_index=ctx.index,
        effective=event.effective,
    )
    return [recovered]


def key_recover_cancel(ctx: Context, event: KeyRecoverCancel) -> list[Record]:
    """The record of a ``key.recover.cancel``: the subject removes a recovered key of
    its own before it takes effect.

    Raises:
        RuleError: the subclass of the broken rule (unknown or revoked subject, another
            signer, no such recovery, a recovery no longer pending).
    """
    subject = _live_subject(ctx.state, event.subject)
    _require_subject(ctx, subject)
    record = ctx.state.keys.get(event.key)
    if record is None or record.actor != subject.id or record.recovered_index is None:
        raise UnknownRecoveryError(
            f"no key {event.key} was recovered for {subject.id}", field="key"
        )
    if record.removed_index is not None:
        raise RecoveryNotPendingError(
            f"key {event.key} was removed at index {record.removed_index}", field="key"
        )
    if record.effective is not None and parse_time(record.effective, "effective") <= ctx.now:
        raise RecoveryNotPendingError(
            f"the recovery took effect at {record.effective}: remove the key with key.rotate",
            field="key",
        )
    return [with_changes(record, removed_index=ctx.index)]
