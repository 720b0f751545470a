"""The dispatch: `check` runs the signer and time checks, then the rules of the event's kind.

It imports ledger.rules.registry (which routes the key kinds to ledger.rules.keys) and
ledger.rules.custody at module level; none of them imports this module (they build on
ledger.rules.errors and ledger.rules.context), so the rules have no import circle.
"""

from __future__ import annotations

from datetime import datetime

from ledger.entry import SignedEvent
from ledger.events import UnitEvent
from ledger.rules import custody, registry
from ledger.rules.context import (
    check_format_at,
    check_key_use,
    check_time,
    log_versions,
    new_context,
    signing_key,
)
from ledger.rules.state import Record, State


def check(state: State, signed: SignedEvent, index: int, now: datetime) -> list[Record]:
    """Check ``signed`` against the rules and return the records accepting it produces.

    Steps:
        (1) the signer: at index 0 the operator's self-registration (genesis); elsewhere
            a registered, unrevoked actor signing with one of its current keys;
            (1b) the event's format is one the log takes at ``index`` (`check_format`);
        (2) the event time is at most `MAX_CLOCK_SKEW` after ``now`` and at most
            `MAX_BACKDATE` before it; (2b) the key may sign this kind now: a scoped
            key only within its scope, a recovered key only from its ``effective``;
        (3) the rules of the event's kind (ledger.rules.registry, ledger.rules.custody).

    Args:
        state: the state after entries ``0 .. index - 1``; read, never changed.
        signed: the event and its key id (the signature is NOT verified here).
        index: the log index the event would get.
        now: the log's clock (the entry's receive time), timezone-aware.

    Raises:
        RuleError: a subclass from ledger.rules.errors, naming the broken rule and the field.
        ConflictError: a unit event's ``prev`` is not the unit's head (field ``prev``).
        ValidationError: ``index`` is negative or ``now`` is naive.
    """
    return check_signed(state, signed, index, now)[1]


def check_signed(
    state: State, signed: SignedEvent, index: int, now: datetime
) -> tuple[str, list[Record]]:
    """`check`, also returning the public key (base64url) that must have signed ``signed``.

    For a caller that verifies the signature elsewhere (the audit's pipeline,
    ledger.audit.sigpipe): the rules name the key once, where `signing_key` followed by
    `check` would run the signer checks twice. Like `check`, it verifies no signature:
    the caller must verify ``signed.sig`` under the returned key before it trusts the
    records. Raises what `check` raises.
    """
    public = signing_key(state, signed, index)  # (1)
    return public, check_signer_known(state, signed, index, now)


def check_signer_known(
    state: State, signed: SignedEvent, index: int, now: datetime
) -> list[Record]:
    """`check` after its step (1): for a caller that has just called `signing_key` with
    this very ``state``, ``signed`` and ``index`` (the append: it verifies the signature
    under that key between the two, so the signer is checked once, not twice). Steps
    (1b) to (3); raises what `check` raises there. Called without `signing_key` first,
    it accepts a signer the rules would refuse: never do that."""
    event = signed.event
    event_format, rule_set = log_versions(state, index)  # one walk of the actors
    check_format_at(state, signed, event_format)  # (1b)
    check_time(event, now)  # (2)
    check_key_use(state, signed, now)  # (2b)
    if index == 0:  # (3)
        return registry.genesis(signed, index)
    signer = state.actors[event.actor]
    ctx = new_context(state, signed, index, signer, now, rule_set)
    if isinstance(event, UnitEvent):
        return custody.check_unit(ctx)
    return registry.check_registry(ctx)
