"""Which map keys an entry moves, and to what head (docs/FORMAT.md section 14).

- A unit event moves its unit's key to ``(index, leaf hash)``: a unit's chain links
  back by ``prev``, so its latest entry fixes the whole chain. ``pack`` and ``unpack``
  are unit events too; a container's handoff is one entry per unit inside, so no key
  is a container's (docs/FORMAT.md section 2.1).
- A registry event moves each actor it is about (the ``subject`` of ``actor.register``,
  ``actor.revoke``, ``key.rotate``, ``key.recover`` and ``key.recover.cancel``; the
  ``partner`` of ``authorize``; the partner of the authorization an
  ``authorization.revoke`` ends) to ``(index, actor chain)``, where the actor chain is
  ``SHA-256(ACTOR_CHAIN_DOMAIN || previous chain || leaf hash)`` over the actor's
  registry entries in log order, starting from 32 zero bytes. Registry entries carry no
  ``prev``, so the chain is what lets a client shown an actor's entries check it was
  shown every one of them: one left out changes the chain.
- Other entries (``product.register``, ``log.upgrade``) move no key.

Pure: `HeadTracker` is told the current heads and authorizations through callables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Iterable, Sequence

from ledger.events import (
    ActorRegister,
    ActorRevoke,
    AuthorizationRevoke,
    Authorize,
    Event,
    KeyRecover,
    KeyRecoverCancel,
    KeyRotate,
    UnitEvent,
)
from ledger.map.trie import EMPTY, Head, actor_key, new_head, unit_key

ACTOR_CHAIN_DOMAIN = b"provenance-ledger/map/actor-chain/v1\x00"
_SUBJECT_KINDS = (ActorRegister, ActorRevoke, KeyRotate, KeyRecover, KeyRecoverCancel)


def actor_chain(previous: bytes, leaf_hash: bytes) -> bytes:
    """The actor chain after one more registry entry: ``SHA-256(domain || prev || leaf)``."""
    return hashlib.sha256(ACTOR_CHAIN_DOMAIN + previous + leaf_hash).digest()


def actors_of(event: Event, partner_of: Callable[[str], str | None]) -> tuple[str, ...]:
    """The actors a registry event is about (empty for any other event).

    ``partner_of`` maps an authorization id (the hash of its ``authorize`` event) to its
    partner, or None when unknown.
    """
    if isinstance(event, _SUBJECT_KINDS):
        return (event.subject,)
    if isinstance(event, Authorize):
        return (event.partner,)
    if isinstance(event, AuthorizationRevoke):
        partner = partner_of(event.authorization)
        return (partner,) if partner else ()
    return ()


def unit_of(event: Event) -> bytes | None:
    """The map key of the unit a unit event is about, else None."""
    if isinstance(event, UnitEvent):
        return unit_key(event.unit.gtin, event.unit.serial)
    return None


class HeadTracker:
    """Collects the new heads of a run of entries, in log order.

    ``current(key)`` returns a key's head before the run (None: not in the map);
    ``partner_of`` is as for `actors_of`. `changes` holds the latest head of every key
    the run moved.
    """

    def __init__(
        self,
        current: Callable[[bytes], Head | None],
        partner_of: Callable[[str], str | None],
    ) -> None:
        self._current = current
        self._partner_of = partner_of
        self.changes: dict[bytes, Head] = {}

    def add(self, index: int, leaf_hash: bytes, event: Event) -> None:
        """Record the entry at ``index`` with ``leaf_hash`` holding ``event``."""
        if isinstance(event, UnitEvent):  # a unit event is about no actor
            self.changes[unit_key(event.unit.gtin, event.unit.serial)] = new_head(index, leaf_hash)
            return
        for actor in actors_of(event, self._partner_of):
            key = actor_key(actor)
            before = self.changes.get(key) or self._current(key)
            chain = actor_chain(EMPTY if before is None else before.entry_hash, leaf_hash)
            self.changes[key] = Head(index, chain)


def unit_entries(
    events: Sequence[tuple[bytes, Event, bytes]], size: int, skip: Container[bytes]
) -> list[tuple[int, bytes, UnitEvent]] | None:
    """The entries ``(index, leaf hash, event)`` that ``events`` (event hash, event, leaf
    hash; in order) add if each one whose hash is not in ``skip`` nor earlier in
    ``events`` lands, at the next index from ``size``. None when one of them is about an
    actor (its head depends on the stored chain: not predicted here)."""
    entries: list[tuple[int, bytes, UnitEvent]] = []
    seen: set[bytes] = set()
    index = size
    for event_hash, event, leaf_hash in events:
        if event_hash in skip or event_hash in seen:
            continue
        seen.add(event_hash)
        if isinstance(event, UnitEvent):
            entries.append((index, leaf_hash, event))
        elif actors_of(event, _anyone):
            return None
        index += 1
    return entries


def unit_heads_of(units: Iterable[tuple[int, bytes, str, str]]) -> dict[bytes, Head]:
    """The heads that a `HeadTracker` given unit events collects, from each entry's
    ``(index, leaf hash, GTIN-14, serial)`` (`units_of`; in log order): each unit's key
    at its last entry."""
    return {
        unit_key(gtin, serial): new_head(index, leaf_hash)
        for index, leaf_hash, gtin, serial in units
    }


def units_of(entries: Sequence[tuple[int, bytes, UnitEvent]]) -> list[tuple[int, bytes, str, str]]:
    """Each unit entry ``(index, leaf hash, event)`` as ``(index, leaf hash, GTIN-14,
    serial)``: what `unit_heads_of` needs of it (the map's child computes the keys)."""
    return [(index, leaf_hash, e.unit.gtin, e.unit.serial) for index, leaf_hash, e in entries]


def _anyone(_authorization: str) -> str:
    return "?"
