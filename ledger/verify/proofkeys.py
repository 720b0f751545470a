"""The key rules an offline unit proof's entries are held to (docs/FORMAT.md section 11,
step 4; ledger.verify.unitproof).

Every entry of a proof must be signed by a key that an earlier entry of the same proof
introduced for its signer, by the log's key rules as the server applied them: the genesis
entry by a key it lists; an ``actor.register`` or ``key.recover`` only by an operator; a
``key.rotate`` only by its subject (rule set 1 also let an operator); a recovered key
only from its ``effective`` log time, which lies at least the log's recovery wait after
its log time; a rotated-out or cancelled key no more; a scoped key only within its
scope's kinds. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger import codec, crypto, entry
from ledger.errors import LedgerError, SignatureError
from ledger.events import ActorRegister, KeyRecover, KeyRecoverCancel, KeyRotate, parse_time
from ledger.rules.context import RECOVERY_WAIT, SCOPE_KINDS
from ledger.verify.recompute import Switch
from ledger.vocab import Role


@dataclass
class _ProvenKey:
    """A key as the proof's own entries establish it (the rules' `KeyRecord`, in small)."""

    actor: str
    public: str
    scope: tuple[str, ...] = ()
    #: a recovered key's ``effective`` log time (None: not recovered)
    effective: datetime | None = None
    recovered: bool = False
    gone: bool = False  # rotated out, or its recovery cancelled, by an entry of the proof


def check_signatures(leaves: Sequence[tuple[int, entry.Leaf]], switch: Switch) -> None:
    """Step (4) of `ledger.verify.unitproof.verify`: keys come only from earlier entries
    of the proof that the log's rules let introduce them (`_introduce`); each key signs
    only within its scope, a recovered key only from its ``effective`` log time, a
    removed key no more.

    Raises:
        SignatureError: an entry breaks one of these rules, or its signature is bad.
    """
    keys: dict[str, _ProvenKey] = {}
    roles: dict[str, str] = {}  # actor -> role, from the proof's actor.register entries
    wait = RECOVERY_WAIT
    for index, leaf in leaves:
        signed, event = leaf.signed, leaf.signed.event
        where = f"entries[{index}]"
        if index == 0 and isinstance(event, ActorRegister) and event.subject == event.actor:
            # the genesis entry is signed by a key it introduces
            keys.update({k: _ProvenKey(event.subject, p) for k, p in _listed(event.keys)})
            if event.recovery_wait is not None:
                wait = timedelta(seconds=event.recovery_wait)
        key = keys.get(signed.key)
        if key is None or key.gone or key.actor != event.actor:
            raise SignatureError(
                f"entry {index} is signed by a key no earlier entry gave {event.actor}",
                field=where,
            )
        if key.effective is not None and leaf.received_at < key.effective:
            # an operator's recovered key signs nothing before its waiting period ends
            raise SignatureError(
                f"entry {index} is signed by a recovered key before it took effect", field=where
            )
        if key.scope and not any(event.kind in SCOPE_KINDS[s] for s in key.scope):
            raise SignatureError(
                f"entry {index}: a key scoped to {', '.join(key.scope)} signed {event.kind}",
                field=where,
            )
        try:
            entry.verify_event(signed, crypto.public_key_from_b64(key.public))
        except LedgerError as e:
            raise SignatureError(f"entry {index}: {e.message}", field=where) from e
        if index > 0:
            _introduce(keys, roles, event, leaf.received_at + wait, switch.at(index)[1], where)
        if isinstance(event, ActorRegister):
            roles[event.subject] = event.role


def _introduce(
    keys: dict[str, _ProvenKey],
    roles: dict[str, str],
    event: object,
    earliest: datetime,
    rule_set: int,
    where: str,
) -> None:
    """Apply a (verified) key-changing entry by the log's key rules (docs/ARCHITECTURE.md
    section 4), refusing one the rules would have refused: an ``actor.register`` or a
    ``key.recover`` signed by a non-operator; a ``key.rotate`` signed by anyone but its
    subject (rule set 1 also let an operator); a recovery effective before ``earliest``
    (its log time plus the log's recovery wait); a cancellation by another actor.

    Raises:
        SignatureError: the entry breaks one of these rules.
    """
    if isinstance(event, ActorRegister):
        if roles.get(event.actor) != Role.OPERATOR:
            raise SignatureError("only an operator registers actors", field=where)
        keys.update({k: _ProvenKey(event.subject, p) for k, p in _listed(event.keys)})
    elif isinstance(event, KeyRotate):
        operator_may = rule_set < 2 and roles.get(event.actor) == Role.OPERATOR
        if event.actor != event.subject and not operator_may:
            raise SignatureError(
                f"{event.actor} signed a key.rotate for {event.subject}: only the subject's"
                " own full key rotates its keys",
                field=where,
            )
        for key_id in event.remove:
            if key_id in keys and keys[key_id].actor == event.subject:
                keys[key_id].gone = True
        scope = tuple(event.scope or ())
        keys.update({k: _ProvenKey(event.subject, p, scope) for k, p in _listed(event.add)})
    elif isinstance(event, KeyRecover):
        if roles.get(event.actor) != Role.OPERATOR:
            raise SignatureError("only an operator signs a key.recover", field=where)
        effective = parse_time(event.effective, "effective")
        if effective < earliest:
            raise SignatureError(
                "a key.recover takes effect no sooner than the log's recovery wait", field=where
            )
        ((key_id, public),) = _listed((event.key,))
        keys[key_id] = _ProvenKey(event.subject, public, (), effective, recovered=True)
    elif isinstance(event, KeyRecoverCancel):
        cancelled = keys.get(event.key)
        if event.actor != event.subject:
            raise SignatureError("only the subject cancels its recovery", field=where)
        if cancelled is not None and cancelled.recovered and cancelled.actor == event.subject:
            cancelled.gone = True


def _listed(publics: Iterable[str]) -> list[tuple[str, str]]:
    return [(crypto.key_id(codec.b64url_decode(p)), p) for p in publics]
