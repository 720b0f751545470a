"""Load, inside the write transaction, the slice of state a batch of events needs.

The rules read a `State`; for a batch we load only the records the batch can touch
(one query per table, not one per event): the units it names, the actors it names
(signers, subjects, partners, recipients) plus the units' brands, custodians and
pending recipients, every operator, the keys it uses or lists (a recovered or
cancelled key included), every key of a subject whose keys rotate, every brand when an
actor is registered with prefixes (they are unique across brands), the products it
names, and the authorizations of every signer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger import codec, crypto
from ledger.entry import SignedEvent
from ledger.events import (
    ActorRegister,
    AuthorizationRevoke,
    Authorize,
    KeyRecover,
    KeyRecoverCancel,
    KeyRotate,
    ProductRegister,
    UnitEvent,
)
from ledger.rules.state import (
    ActorRecord,
    AuthorizationRecord,
    KeyRecord,
    ProductRecord,
    Record,
    State,
    UnitRecord,
)
from ledger.store import WriteTx


def load_state_for(tx: WriteTx, items: Sequence[SignedEvent]) -> State:
    """Return a `State` holding every stored record the rules may read for ``items``."""
    refs: dict[type[Any], set[Any]] = {
        t: set() for t in (ActorRecord, KeyRecord, ProductRecord, AuthorizationRecord, UnitRecord)
    }
    signers: set[str] = set()
    rotating: set[str] = set()
    prefixes = False
    for signed in items:
        event = signed.event
        signers.add(event.actor)
        refs[KeyRecord].add(signed.key)
        for name in ("subject", "partner", "to"):
            value = getattr(event, name, None)
            if isinstance(value, str):
                refs[ActorRecord].add(value)
        if isinstance(event, UnitEvent):  # most events: tested first (no kind below is one)
            refs[UnitRecord].add((event.unit.gtin, event.unit.serial))
            refs[ProductRecord].add(event.unit.gtin)
        elif isinstance(event, ActorRegister):
            refs[KeyRecord].update(crypto.key_id(codec.b64url_decode(k)) for k in event.keys)
            prefixes = prefixes or bool(event.prefixes)
        elif isinstance(event, KeyRecover):
            refs[KeyRecord].add(crypto.key_id(codec.b64url_decode(event.key)))
        elif isinstance(event, KeyRecoverCancel):
            refs[KeyRecord].add(event.key)
        elif isinstance(event, KeyRotate):
            rotating.add(event.subject)
            refs[KeyRecord].update(event.remove)
            refs[KeyRecord].update(crypto.key_id(codec.b64url_decode(k)) for k in event.add)
        elif isinstance(event, ProductRegister):
            refs[ProductRecord].add(event.gtin)
        elif isinstance(event, Authorize):
            refs[ProductRecord].update(event.gtins)
        elif isinstance(event, AuthorizationRevoke):
            refs[AuthorizationRecord].add(event.authorization)
    unit_refs = refs.pop(UnitRecord)
    actor_refs = refs.pop(ActorRecord)
    owners = rotating | signers

    def reads() -> list[list[Record]]:
        """Every read but the actors' (which wait for the units' brands, custodians and
        recipients), in order: run first as `WriteTx.reading_ahead`'s plan (PostgreSQL:
        all sent in one round trip), then again for their rows."""
        found = [
            tx.load_records({UnitRecord: unit_refs}),
            tx.load_records(refs),
            tx.load_where(ActorRecord, role="operator"),
        ]
        if prefixes:
            found.append(tx.load_where(ActorRecord, role="brand"))
        found.append(tx.load_in(KeyRecord, "actor", owners))
        found.append(tx.load_in(AuthorizationRecord, "partner", signers))
        return found

    with tx.reading_ahead(reads):
        found = reads()
        for unit in found[0]:
            if isinstance(unit, UnitRecord):
                actor_refs.update(a for a in (unit.brand, unit.custodian, unit.pending) if a)
        actor_refs.update(signers)
        found.append(tx.load_records({ActorRecord: actor_refs}))
    state = State()
    for records in found:
        state.apply(records)
    return state
