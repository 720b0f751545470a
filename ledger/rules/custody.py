"""Rules of the unit kinds: commission and the per-unit custody state machine.

Called by `ledger.rules.check.check` (which has already checked the signer, its key and the
event time) for every unit event. Each event on an existing unit is checked in order:

    (1) the unit exists and is not decommissioned (nothing follows ``decommission``);
    (2) ``prev`` is the unit's head, else `ConflictError` (409: a racing write won);
    (3) custody events (handoff, receive, inspect, sell, deliver, return) by anyone but
        the unit's brand need an authorization from that brand covering the unit's GTIN,
        unrevoked, whose window holds the event time and whose role fits the kind;
    (4) the kind's own rule (custodian, pending transfer, sold, claimed, ...).

The kinds follow the one state machine table of docs/ARCHITECTURE.md section 5
(tests/unit/test_state_machine_table.py checks them against it), ``return`` included:
only the custodian returns an unsold unit, only the retailer of record or the brand a
sold or delivered one, never over an open transfer and only to a past holder.

On success the unit's head, head index and length advance with the kind's changes.
Errors are the `RuleError` subclasses of ledger.rules.errors. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from ledger import codec, gs1
from ledger.errors import ConflictError, ValidationError
from ledger.events import (
    Claim,
    Commission,
    Consume,
    Decommission,
    Deliver,
    Flag,
    Handoff,
    Inspect,
    Pack,
    Recall,
    Receive,
    Return,
    Sell,
    UnitEvent,
    Unpack,
    parse_time,
)
from ledger.rules import containers
from ledger.rules.context import Context, require_role
from ledger.rules.errors import (
    AlreadyClaimedError,
    AlreadySoldError,
    BadClaimCodeError,
    ConsumedError,
    DecommissionedError,
    NeverHeldError,
    NoClaimCodeError,
    NotAuthorizedError,
    NotBrandOrOperatorError,
    NotCustodianError,
    NotOperatorError,
    NotOwnerError,
    NotRecipientError,
    NotRetailerOfRecordError,
    NotSoldError,
    ReturnOverTransferError,
    SelfHandoffError,
    TransferPendingError,
    UnitExistsError,
    UnknownRecipientError,
    UnknownUnitError,
)
from ledger.rules.registry import live_actor, own_product
from ledger.rules.state import (
    AuthorizationRecord,
    Record,
    UnitRecord,
    new_record,
    with_changes,
)
from ledger.vocab import Role

#: roles that may inspect a unit they do not hold
INSPECT_ROLES = (Role.INSPECTOR, Role.CUSTOMS)


def check_unit(ctx: Context) -> list[Record]:
    """Apply the rules of a unit event; return the unit's new record.

    Raises:
        RuleError: the subclass of the broken rule (steps in the module docstring).
        ConflictError: ``prev`` is not the unit's head.
        ValidationError: the event is not a unit event.
    """
    event = ctx.event
    if isinstance(event, Commission):
        return [_commission(ctx, event)]
    if not isinstance(event, UnitEvent) or type(event) not in _KINDS:
        raise ValidationError("not a unit kind", field="kind")
    unit = _head(ctx, event)  # (1), (2)
    changed = _KINDS[type(event)](ctx, event, unit)  # (3), (4)
    return [with_changes(changed, head=ctx.hash, head_index=ctx.index, length=unit.length + 1)]


def _commission(ctx: Context, event: Commission) -> UnitRecord:
    own_product(ctx, event.unit.gtin, "unit.gtin")
    if (event.unit.gtin, event.unit.serial) in ctx.state.units:
        raise UnitExistsError(f"unit {event.unit.path()} was already commissioned", field="unit")
    signer, index, claim = ctx.signer.id, ctx.index, event.claim
    return new_record(
        UnitRecord,
        gtin=event.unit.gtin,
        serial=event.unit.serial,
        brand=signer,
        head=ctx.hash,
        head_index=index,
        length=1,
        commissioned_index=index,
        custodian=signer,
        holders=(signer,),
        lot=event.lot,
        expiry=event.expiry,
        claim_salt=claim.salt if claim else None,
        claim_hash=claim.hash if claim else None,
    )


def _head(ctx: Context, event: UnitEvent) -> UnitRecord:
    unit = ctx.state.units.get((event.unit.gtin, event.unit.serial))
    if unit is None:
        raise UnknownUnitError(f"no unit {event.unit.path()} was commissioned", field="unit")
    if unit.decommissioned:
        raise DecommissionedError("the unit was decommissioned; nothing may follow", field="unit")
    if unit.consumed_at is not None and not isinstance(event, AFTER_CONSUME):
        raise ConsumedError(
            f"the unit was used up on {unit.consumed_at}: only a recall, a flag or a "
            "decommission may follow",
            field="unit",
        )
    if event.prev != unit.head:
        raise ConflictError(
            f"the unit's head is {unit.head}, not {event.prev}: another event came first",
            field="prev",
        )
    return unit


# --- authorization (3) -------------------------------------------------------------------


def _require_authorized(ctx: Context, unit: UnitRecord, roles: tuple[str, ...] | None) -> None:
    """The brand acts on its own units; anyone else needs a fitting authorization."""
    if ctx.signer.id == unit.brand:
        return
    # oldest first, as `State.authorizations_of` sorts them: `by_partner` is a set, whose
    # order differs between processes, and a damaged stored authorization can make
    # `_grants` raise, so an append and an audit must meet them in one order
    if not any(_grants(a, unit, ctx, roles) for a in ctx.state.authorizations_of(ctx.signer.id)):
        as_role = f" as {' or '.join(roles)}" if roles else ""
        raise NotAuthorizedError(
            f"{ctx.signer.id} holds no authorization from {unit.brand} for GTIN {unit.gtin}"
            f"{as_role} valid at {ctx.event.time}",
            field="actor",
        )


def _grants(
    auth: AuthorizationRecord, unit: UnitRecord, ctx: Context, roles: tuple[str, ...] | None
) -> bool:
    # Revoked in the log before this entry means refused, whatever the event's own time.
    if auth.brand != unit.brand or auth.revoked_index is not None:
        return False
    if roles is not None and auth.role not in roles:
        return False
    covered = unit.gtin in auth.gtins or any(
        gs1.company_prefix_matches(unit.gtin, p) for p in auth.prefixes
    )
    at = ctx.event.at
    window = (
        parse_time(auth.not_before, "not_before") <= at <= parse_time(auth.not_after, "not_after")
    )
    return covered and window


# --- the kinds (4) -------------------------------------------------------------------------


def _require_custodian(ctx: Context, unit: UnitRecord) -> None:
    if unit.custodian != ctx.signer.id:
        holder = unit.custodian or "nobody (delivered)"
        raise NotCustodianError(f"the unit is held by {holder}", field="actor")


def _require_no_pending(unit: UnitRecord) -> None:
    if unit.pending is not None:
        raise TransferPendingError(f"the unit is on its way to {unit.pending}", field="unit")


def _handoff(ctx: Context, event: Handoff, unit: UnitRecord) -> UnitRecord:
    _require_authorized(ctx, unit, None)
    _require_custodian(ctx, unit)
    _require_no_pending(unit)
    if event.to == ctx.signer.id:
        raise SelfHandoffError("a custodian cannot hand a unit to itself", field="to")
    live_actor(ctx.state, event.to, UnknownRecipientError, "to")
    return with_changes(unit, pending=event.to)


def _receive(ctx: Context, event: Receive, unit: UnitRecord) -> UnitRecord:
    _require_authorized(ctx, unit, None)
    if unit.pending != ctx.signer.id:
        expected = unit.pending or "nobody (no transfer is open)"
        raise NotRecipientError(f"the unit is on its way to {expected}", field="actor")
    holders = unit.holders if ctx.signer.id in unit.holders else (*unit.holders, ctx.signer.id)
    return with_changes(unit, custodian=ctx.signer.id, pending=None, holders=holders)


def _inspect(ctx: Context, event: Inspect, unit: UnitRecord) -> UnitRecord:
    holder = unit.custodian == ctx.signer.id
    _require_authorized(ctx, unit, None if holder else INSPECT_ROLES)
    return unit


def _sell(ctx: Context, event: Sell, unit: UnitRecord) -> UnitRecord:
    _require_authorized(ctx, unit, (Role.RETAILER,))
    _require_custodian(ctx, unit)
    _require_no_pending(unit)
    if unit.sold:
        raise AlreadySoldError("the unit is already sold", field="unit")
    if unit.claimed:
        raise AlreadyClaimedError("the unit is claimed by its owner", field="unit")
    # The sale is remembered beyond a return (sales, last_sold): a verdict never hides it.
    return with_changes(
        unit, sold=True, seller=ctx.signer.id, sales=unit.sales + 1, last_sold=event.time
    )


def _deliver(ctx: Context, event: Deliver, unit: UnitRecord) -> UnitRecord:
    _require_authorized(ctx, unit, None)
    _require_custodian(ctx, unit)
    _require_no_pending(unit)
    if not unit.sold:
        raise NotSoldError("only a sold unit is delivered", field="unit")
    return with_changes(unit, delivered=True, custodian=None)


def _claim(ctx: Context, event: Claim, unit: UnitRecord) -> UnitRecord:
    """A first claim opens the commission's claim commitment; a resale (the unit is
    already claimed) opens the previous claim's transfer commitment. Either way the
    commitment is then replaced by this claim's ``transfer`` (or by none), so every
    code works once."""
    require_role(ctx, Role.OPERATOR, NotOperatorError)
    if unit.claim_salt is None or unit.claim_hash is None:
        if unit.claimed:
            raise AlreadyClaimedError(
                "the unit is claimed and its owner gave no transfer code", field="unit"
            )
        raise NoClaimCodeError("the unit was commissioned without a claim code", field="unit")
    # FORMAT section 2: hash = SHA-256(salt || code), code as printed (ASCII).
    salt = codec.b64url_decode(unit.claim_salt, field="claim.salt")
    digest = hashlib.sha256(salt + event.code.encode("ascii")).digest()
    if not hmac.compare_digest(digest, codec.b64url_decode(unit.claim_hash, field="claim.hash")):
        if unit.claimed:
            raise AlreadyClaimedError(
                "the unit is already claimed; a resale needs the owner's transfer code",
                field="code",
            )
        raise BadClaimCodeError("the claim code does not match the unit", field="code")
    nxt = event.transfer
    return with_changes(
        unit,
        claimed=True,
        claim_salt=nxt.salt if nxt else None,
        claim_hash=nxt.hash if nxt else None,
        owner=event.owner,
    )


def _consume(ctx: Context, event: Consume, unit: UnitRecord) -> UnitRecord:
    """The owner marks the unit used up, through the registry (which signs: owners hold
    no key): the revealed token must hash to the latest claim's ``owner``, so the
    operator cannot mark a unit used up without the token (which it never held when the
    owner's client made it; ledger.events.Consume)."""
    require_role(ctx, Role.OPERATOR, NotOperatorError)
    if not unit.claimed or unit.owner is None:
        raise NotOwnerError("only a claimed unit's owner may mark it used up", field="unit")
    # FORMAT section 2: owner = SHA-256 of the token as it is written (ASCII), base64url
    digest = codec.b64url_encode(hashlib.sha256(event.owner_token.encode("ascii")).digest())
    if not hmac.compare_digest(digest, unit.owner):
        raise NotOwnerError("the owner token is not the current owner's", field="owner_token")
    return with_changes(unit, consumed_at=event.time)


def _return(ctx: Context, event: Return, unit: UnitRecord) -> UnitRecord:
    """A unit goes back up the chain (docs/ARCHITECTURE.md section 5, table "return").

    A sold or delivered unit comes back only through the retailer of record (it took the
    buyer's money, so it takes the unit back) or the brand: any other retailer could
    otherwise "return" a sold unit to itself and sell it again as new. An unsold unit is
    returned by its custodian. Never over an open transfer (it would silently replace
    it), and only to a party that held the unit (not to a stranger who never had it).

    Rule set 1 (logs before their ``log.upgrade``, docs/ARCHITECTURE.md section 4): a
    delivered unit (no custodian) came back through any retailer authorized for it, any
    other through its custodian, to any live actor, whatever transfer was open.
    """
    if ctx.rules < 2:
        if unit.custodian is None:
            _require_authorized(ctx, unit, (Role.RETAILER,))
        else:
            _require_authorized(ctx, unit, None)
            _require_custodian(ctx, unit)
        live_actor(ctx.state, event.to, UnknownRecipientError, "to")
        return with_changes(unit, pending=event.to, sold=False, delivered=False)
    if unit.sold or unit.delivered:
        if ctx.signer.id not in (unit.seller, unit.brand):
            raise NotRetailerOfRecordError(
                f"the unit was sold by {unit.seller}: only it or {unit.brand} may return it",
                field="actor",
            )
        _require_authorized(ctx, unit, (Role.RETAILER,))
    else:
        _require_authorized(ctx, unit, None)
        _require_custodian(ctx, unit)
    if unit.pending is not None:
        raise ReturnOverTransferError(
            f"the unit is on its way to {unit.pending}: that transfer is received first",
            field="unit",
        )
    if event.to not in unit.holders:
        raise NeverHeldError(
            f"{event.to} never held the unit; it may go back to {', '.join(unit.holders)}",
            field="to",
        )
    live_actor(ctx.state, event.to, UnknownRecipientError, "to")
    return with_changes(unit, pending=event.to, sold=False, delivered=False)


def _require_brand_or_operator(ctx: Context, unit: UnitRecord) -> None:
    if ctx.signer.id != unit.brand and ctx.signer.role != Role.OPERATOR:
        raise NotBrandOrOperatorError(
            f"only {unit.brand} or an operator may sign {ctx.event.kind}", field="actor"
        )


def _recall(ctx: Context, event: Recall, unit: UnitRecord) -> UnitRecord:
    _require_brand_or_operator(ctx, unit)
    return with_changes(unit, recalled=True)


def _flag(ctx: Context, event: Flag, unit: UnitRecord) -> UnitRecord:
    _require_brand_or_operator(ctx, unit)
    return with_changes(unit, flags=unit.flags + 1)


def _decommission(ctx: Context, event: Decommission, unit: UnitRecord) -> UnitRecord:
    if ctx.signer.id not in (unit.custodian, unit.brand):
        raise NotCustodianError(
            f"only the custodian or {unit.brand} may decommission the unit", field="actor"
        )
    return with_changes(unit, decommissioned=True, pending=None)


def _pack(ctx: Context, event: Pack, unit: UnitRecord) -> UnitRecord:
    _require_authorized(ctx, unit, None)
    _require_custodian(ctx, unit)
    _require_no_pending(unit)
    return containers.pack(event, unit)


def _unpack(ctx: Context, event: Unpack, unit: UnitRecord) -> UnitRecord:
    _require_authorized(ctx, unit, None)
    _require_custodian(ctx, unit)
    _require_no_pending(unit)
    return containers.unpack(event, unit)


_KINDS: dict[type[UnitEvent], Callable[[Context, Any, UnitRecord], UnitRecord]] = {
    Handoff: _handoff,
    Receive: _receive,
    Inspect: _inspect,
    Sell: _sell,
    Deliver: _deliver,
    Claim: _claim,
    Return: _return,
    Recall: _recall,
    Flag: _flag,
    Decommission: _decommission,
    Consume: _consume,
    Pack: _pack,
    Unpack: _unpack,
}

#: the kinds that may follow ``consume``
AFTER_CONSUME = (Recall, Flag, Decommission)
