"""The verdict from the proven chain alone: what a client computes instead of believing.

A server's verdict is a claim; the unit's chain, once every entry is proven in a signed
checkpoint and every signature checked (ledger.verify.verdict.check_unit_chain,
ledger.verify.unitproof), is evidence. `recompute` replays that chain through the pure
custody rules of ledger.rules (the same code the log ran when it accepted each event)
into the unit's record, then asks `ledger.verify.verdict.judge` for the verdict and its
reasons, with the actor facts the client holds:

- online (``provenance verify``): each actor's role, prefixes and revocation as
  ``GET /v1/actors/{id}`` serves them (`actor_record`), the revocation's ``since`` read
  by the caller from the proven ``actor.revoke`` entry; the keys that checked the
  signatures came from there too;
- offline (the unit proof): the ``actor.register`` entries in the proof itself
  (`actor_from_register`), proven in the checkpoint; revocations after a registration
  are not in a proof (the audit replays them).

What the chain alone cannot show is taken as the log decided it, and said here: a
partner's authorization by the brand (the rules' step 3) is assumed, since the
``authorize`` entries are not part of a unit's chain; the product's registration is
assumed to be the commission signer's, but the signer's registered GS1 prefixes, when
known, must cover the GTIN. Revocations are applied by `judge` (``since`` and handling
times), never to the replay, since an actor revoked today was live when it signed.
A chain the rules refuse is ``invalid`` (reason ``chain-broken``, naming the rule).

Which rule set and event format hold at each index is the log's own record (`Switch`:
the genesis entry's ``format``/``rules``, or the next index after a ``log.upgrade``;
docs/FORMAT.md section 3.1): a unit proof and a unit view carry those entries, proven,
and the caller reads the switch from them (`Switch.from_entries`); the replay takes no
default, so no client judges a chain by an assumed rule set. A format-1 entry at or
after the format switch breaks the chain.

Signals (scans, reports: ``post-claim-scans``, ``many-scanners``, ``reported``, ...) are
not in the log: they are server hints (`hints`), kept apart and labelled, never part of
the recomputed verdict. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ledger import gs1
from ledger.entry import Leaf
from ledger.errors import LedgerError
from ledger.events import (
    ActorRegister,
    Commission,
    Event,
    Inspect,
    LogUpgrade,
    UnitEvent,
    parse_time,
)
from ledger.rules.context import Context
from ledger.rules.custody import check_unit
from ledger.rules.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    State,
    UnitRecord,
)
from ledger.shapes import ReasonShape
from ledger.verify.verdict import Reason, judge, signing_key_reasons
from ledger.vocab import LabelState, ReasonCode, Role, SignalCode, Verdict

#: reason codes that come from outside the log (signals, reports, the viewer): hints
HINT_CODES = frozenset({*SignalCode, ReasonCode.REPORTED, ReasonCode.OWNED})
#: the window of the authorizations the replay assumes (the log checked the real ones)
_ALWAYS = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")


@dataclass(frozen=True)
class Switch:
    """From which log index format 2 (``format_from``) and rule set 2 (``rules_from``)
    hold, as the log records it; None: not at all (format 1 and rule set 1 throughout).
    A log created today is ``Switch(0, 0)``."""

    format_from: int | None
    rules_from: int | None

    def at(self, index: int) -> tuple[int, int]:
        """(event format required, rule set) at ``index``."""
        fmt = 2 if self.format_from is not None and index >= self.format_from else 1
        rules = 2 if self.rules_from is not None and index >= self.rules_from else 1
        return fmt, rules

    @classmethod
    def from_entries(cls, entries: Sequence[tuple[int, Event]]) -> Switch:
        """The switch proven entries show: the genesis (index 0, which must be among
        them) and any ``log.upgrade``.

        Raises:
            ValueError: the genesis entry is not among ``entries``.
        """
        genesis = next((e for i, e in entries if i == 0), None)
        if not isinstance(genesis, ActorRegister):
            raise ValueError("the switch is read from the genesis entry")
        format_from = 0 if genesis.format is not None else None
        rules_from = 0 if genesis.rules is not None else None
        for index, event in sorted(entries, key=lambda item: item[0]):
            if isinstance(event, LogUpgrade):
                format_from = index + 1 if format_from is None else format_from
                rules_from = index + 1 if rules_from is None else rules_from
        return cls(format_from, rules_from)


@dataclass(frozen=True)
class Recomputed:
    """The verdict, its reasons and the unit's record, from the proven chain alone."""

    verdict: Verdict
    reasons: list[Reason]
    unit: UnitRecord | None


def actor_record(view: Mapping[str, Any]) -> ActorRecord:
    """An actor's facts from its served JSON (``GET /v1/actors/{id}``, docs/API.md).

    Raises:
        KeyError, TypeError, ValueError: the JSON is not an actor.
    """
    revoked = view.get("revoked_index")
    since = view.get("revoked_since")
    try:
        parse_time(since, "revoked_since")
    except (LedgerError, TypeError, ValueError):
        since = None  # unreadable: every handling after the revocation is distrusted
    return ActorRecord(
        id=str(view["id"]),
        role=str(view["role"]),
        name=str(view.get("name") or view["id"]),
        prefixes=tuple(str(p) for p in view.get("prefixes") or ()),
        registered_index=int(view.get("registered_index") or 0),
        revoked_index=None if revoked is None else int(revoked),
        revoked_since=since,
    )


def key_records(actor_id: str, view: Mapping[str, Any]) -> dict[str, KeyRecord]:
    """The records of an actor's keys from its served JSON (``GET /v1/actors/{id}``),
    by key id; a malformed key entry is left out.
    """
    out: dict[str, KeyRecord] = {}
    for item in view.get("keys") or []:
        try:
            record = KeyRecord(
                key_id=str(item["key_id"]),
                actor=actor_id,
                public_key=str(item["public_key"]),
                added_index=int(item.get("added_index") or 0),
                removed_index=item.get("removed_index"),
                scope=tuple(str(s) for s in item.get("scope") or ()),
                recovered_index=item.get("recovered_index"),
                effective=item.get("effective"),
                compromised_since=item.get("compromised_since"),
            )
        except (KeyError, TypeError, ValueError):
            continue
        out[record.key_id] = record
    return out


def actor_from_register(index: int, event: ActorRegister) -> ActorRecord:
    """An actor's facts from its proven ``actor.register`` entry."""
    return ActorRecord(
        id=event.subject,
        role=event.role,
        name=event.name,
        prefixes=tuple(event.prefixes or ()),
        registered_index=index,
    )


def recompute(
    chain: Sequence[tuple[int, Leaf]],
    actors: Mapping[str, ActorRecord],
    *,
    label: LabelState = LabelState.ABSENT,
    label_evidence: Mapping[str, Any] | None = None,
    failures: Sequence[Reason] = (),
    keys: Mapping[str, KeyRecord] | None = None,
    switch: Switch,
) -> Recomputed:
    """The unit's verdict and reasons from its proven ``chain`` (index, leaf), in order.

    Args:
        chain: the unit's entries, every one proven and its signature checked.
        actors: the facts the client holds of the actors (signers and recipients);
            an actor missing here is replayed as registered, with no role.
        label: the state of the scanned label's brand signature, as the client checked it.
        label_evidence: what a ``mismatch`` or ``unsigned`` label showed (its reason's
            evidence, `ledger.label.scanned_state`).
        failures: what the client's proof and signature checks found (the verdict is
            then ``invalid`` with them).
        keys: the records of the keys that signed the chain, when the client holds them
            (``GET /v1/actors/{id}``): a key reported compromised or recently recovered
            gives the same cautions as on the server (`signing_key_reasons`).
        switch: the log's format and rule-set switch, as the proven genesis and
            ``log.upgrade`` entries give it (`Switch.from_entries`).
    """
    unit, broken = replay(chain, actors, switch)
    events = [leaf.signed.event for _, leaf in chain]
    holders = {a for a in (unit.custodian, unit.pending) if a} if unit is not None else set()
    signers = {a: actors[a] for a in {e.actor for e in events} | holders if a in actors}
    inspections = [e.result for e in events if isinstance(e, Inspect)]
    handled = [(leaf.signed.event.actor, leaf.received) for _, leaf in chain]
    used = (
        signing_key_reasons([(leaf.signed.key, leaf.received) for _, leaf in chain], keys)
        if keys
        else []
    )
    verdict, reasons = judge(
        unit,
        signers,
        [*failures, *broken],
        label,
        inspections,
        handled,
        used,
        label_evidence=label_evidence,
    )
    return Recomputed(verdict, reasons, unit)


def replay(
    chain: Sequence[tuple[int, Leaf]],
    actors: Mapping[str, ActorRecord],
    switch: Switch,
) -> tuple[UnitRecord | None, list[Reason]]:
    """Replay the unit's events through ledger.rules' custody rules (module docstring);
    the unit's record (None for an empty chain) and a ``chain-broken`` reason at the
    first event the rules refuse."""
    state = State()
    names = {leaf.signed.event.actor for _, leaf in chain}
    names |= {str(getattr(leaf.signed.event, "to", "")) for _, leaf in chain} - {""}
    # Revocations are judge's (by time), never the replay's: live when it signed.
    state.apply(_live(actors.get(name), name) for name in sorted(names))
    for index, leaf in chain:
        event, signed = leaf.signed.event, leaf.signed
        if not isinstance(event, UnitEvent):
            return _unit(state), [_broken(index, "not an event of a unit")]
        required, rule_set = switch.at(index)
        if signed.v < required:
            why = f"format-retired: a format-{signed.v} event after the log's switch"
            return _unit(state), [_broken(index, why)]
        try:
            if isinstance(event, Commission):
                refused = _commission_facts(state, event)
                if refused:
                    return None, [_broken(index, refused)]
            else:
                _assume_authorized(state, event.actor, index)
            signer = state.actors[event.actor]
            context = Context(
                state=state,
                signed=signed,
                index=index,
                signer=signer,
                now=leaf.received_at,
                rules=rule_set,
            )
            state.apply(check_unit(context))
        except LedgerError as e:
            return _unit(state), [_broken(index, f"{e.code}: {e.message}")]
    return _unit(state), []


def _live(record: ActorRecord | None, name: str) -> ActorRecord:
    if record is None:
        return ActorRecord(id=name, role="", name=name, prefixes=(), registered_index=0)
    return replace(record, revoked_index=None, revoked_since=None)


def _commission_facts(state: State, event: Commission) -> str | None:
    """The product the commission names is its signer's: assumed, unless the signer's
    registered prefixes are known and none covers the GTIN (then: why not)."""
    signer = state.actors[event.actor]
    gtin = event.unit.gtin
    if signer.prefixes and not any(gs1.company_prefix_matches(gtin, p) for p in signer.prefixes):
        return f"{event.actor} commissioned GTIN {gtin}, outside its GS1 prefixes"
    state.apply([ProductRecord(gtin=gtin, brand=event.actor, name="", registered_index=0)])
    return None


def _assume_authorized(state: State, partner: str, index: int) -> None:
    """Grant ``partner`` every role for the unit's brand: the brand's authorization is
    not part of the unit's chain (the log checked it; the audit replays it)."""
    for unit in state.units.values():
        if partner == unit.brand:
            continue
        grants = [
            AuthorizationRecord(
                id=f"assumed:{partner}:{role}",
                brand=unit.brand,
                partner=partner,
                role=role,
                gtins=(unit.gtin,),
                prefixes=(),
                not_before=_ALWAYS[0],
                not_after=_ALWAYS[1],
                granted_index=index,
            )
            for role in Role
        ]
        state.apply(grants)


def _unit(state: State) -> UnitRecord | None:
    return next(iter(state.units.values()), None)


def _broken(index: int, why: str) -> Reason:
    return Reason(
        ReasonCode.CHAIN_BROKEN,
        f"the unit's history breaks the log's rules at entry {index}: {why}",
        {"index": index},
    )


def hints(served: Sequence[Mapping[str, Any]]) -> list[ReasonShape]:
    """The served reasons that are server hints (signals, reports, the viewer's
    ownership), each marked ``"hint": true``: shown apart, never part of the verdict."""
    out: list[ReasonShape] = []
    for reason in served:
        if isinstance(reason, Mapping) and reason.get("code") in HINT_CODES:
            item: Any = {
                "code": reason.get("code"),
                "message": str(reason.get("message", "")),
                "evidence": reason.get("evidence") or {},
                "hint": True,
            }
            out.append(item)
    return out


def disagreement(served: object, computed: str, hinted: bool = False) -> str | None:
    """One line when the server's verdict is not the proven chain's, else None.

    A server's ``caution`` over a chain that says ``genuine`` is no disagreement when
    the server gave hints (``hinted``): signals make a caution, and they are shown.
    """
    if served == computed or (hinted and (served, computed) == ("caution", "genuine")):
        return None
    shown = served if isinstance(served, str) else repr(served)
    return f"server said {shown[:40]}, the proven chain says {computed}"
