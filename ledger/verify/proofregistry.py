"""The registries an offline unit proof carries, checked whole (docs/FORMAT.md section 11).

When the proof's checkpoint signs a map of heads, the proof holds, for every actor that
signed one of its entries or received the unit, an ``actor <id> <map proof>`` line and
all of that actor's registry entries (those that move its head: ledger.map.heads). For
each, `check_registries` recomputes the actor chain over the proof's entries about it and
requires the head its map proof shows: a registry entry left out of the proof (a key
rotation, a revocation) changes the chain and is refused (``bad-map-proof``). The facts
those entries prove (role, prefixes, revocation and its ``since``) are what the verdict
is computed with.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ledger import codec, merkle
from ledger.entry import Leaf
from ledger.events import ActorRegister, ActorRevoke, Authorize
from ledger.map import proof as map_proof
from ledger.map.heads import actor_chain, actors_of
from ledger.map.proof import MapProofError
from ledger.map.trie import EMPTY, actor_key
from ledger.rules.state import ActorRecord
from ledger.verify.recompute import actor_from_register


def needed_actors(
    leaves: Sequence[tuple[int, Leaf]], chain: Sequence[tuple[int, Leaf]]
) -> set[str]:
    """The actors whose whole registries a proof must carry: the signer of each of its
    entries, and each recipient (``to``) of the unit's chain."""
    signers = {leaf.signed.event.actor for _, leaf in leaves}
    recipients = {str(to) for _, leaf in chain if (to := getattr(leaf.signed.event, "to", None))}
    return signers | recipients


def check_registries(
    root: bytes,
    proofs: Mapping[str, bytes],
    leaves: Sequence[tuple[int, Leaf]],
    chain: Sequence[tuple[int, Leaf]],
) -> None:
    """Check that the proof holds each needed actor's whole registry (module docstring).

    Raises:
        MapProofError: an actor line missing or not needed, a malformed map proof, or
            an actor whose registry entries in the proof do not give its map head.
    """
    needed = needed_actors(leaves, chain)
    missing, extra = sorted(needed - set(proofs)), sorted(set(proofs) - needed)
    if missing:
        raise MapProofError(
            f"the proof carries no registry of {missing[0]}, who signed or received an entry",
            field="actors",
        )
    if extra:
        raise MapProofError(f"an actor line for {extra[0]}, whom no entry needs", field="actors")
    partners = {
        codec.b64url_encode(leaf.signed.hash): leaf.signed.event.partner
        for _, leaf in leaves
        if isinstance(leaf.signed.event, Authorize)
    }
    for actor in sorted(needed):
        head = map_proof.verify(root, actor_key(actor), proofs[actor])
        about = [(i, lf) for i, lf in leaves if actor in actors_of(lf.signed.event, partners.get)]
        running = EMPTY
        for _, leaf in about:
            running = actor_chain(running, merkle.leaf_hash(leaf.data))
        shown = (about[-1][0], running) if about else None
        if (None if head is None else (head.index, head.entry_hash)) != shown:
            committed = "none" if head is None else f"entry {head.index}"
            raise MapProofError(
                f"{actor}'s registry in the proof is not whole: the log's latest registry "
                f"entry for it is {committed}; a rotation or a revocation was left out",
                field=f"actors.{actor}",
            )


def proven_actors(leaves: Sequence[tuple[int, Leaf]]) -> dict[str, ActorRecord]:
    """The actors' facts the proof's entries prove: role and prefixes from each
    ``actor.register``, revocation (index and ``since``) from each ``actor.revoke``."""
    actors: dict[str, ActorRecord] = {}
    for index, leaf in leaves:
        event = leaf.signed.event
        if isinstance(event, ActorRegister) and event.subject not in actors:
            actors[event.subject] = actor_from_register(index, event)
        elif isinstance(event, ActorRevoke) and event.subject in actors:
            record = actors[event.subject]
            if record.revoked_index is None:
                actors[event.subject] = replace(
                    record, revoked_index=index, revoked_since=event.since
                )
    return actors
