"""Check an actor's served facts against its registry, proven whole (docs/FORMAT.md 14).

``GET /v1/actors/{id}`` serves an actor's facts (revocation, keys and their removal) as
hints, and with them ``registry``: the actor's registry entries with inclusion proofs,
the checkpoint and the actor's map proof. `check_registry` verifies the checkpoint under
the pinned log key, every inclusion proof, that every entry is about the actor, and
that the actor chain over the entries (ledger.map.heads) is the head the map proof
shows: so none was left out. Then the hints must agree with what the entries say: a
server that hides a revocation or a key removal, or serves a key no registry entry
added, is caught (``chain-incomplete``).

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger import codec, merkle, note
from ledger.entry import Leaf
from ledger.errors import LedgerError
from ledger.events import (
    ActorRegister,
    ActorRevoke,
    Authorize,
    KeyRecover,
    KeyRecoverCancel,
    KeyRotate,
)
from ledger.map import commit as map_commit
from ledger.map import proof as map_proof
from ledger.map.heads import actor_chain, actors_of
from ledger.map.trie import EMPTY, actor_key
from ledger.verify.verdict import Reason
from ledger.vocab import ReasonCode


@dataclass(frozen=True)
class RegistryCheck:
    """What an actor's proven registry says, or why it could not be believed.

    ``complete`` is False when the checkpoint signs no map root (a log from before
    maps): the hints could then not be checked.
    """

    actor: str
    failure: Reason | None = None
    complete: bool = False
    revoked_index: int | None = None
    removed: dict[str, int] = field(default_factory=dict)
    #: public key (base64url) -> the index of the entry that introduced it
    added: dict[str, int] = field(default_factory=dict)


def check_registry(actor_id: str, view: Mapping[str, Any], verifier_key: str) -> RegistryCheck:
    """Check the actor view's hints against its proven, complete registry (module doc)."""
    try:
        return _check(actor_id, view, verifier_key)
    except (LedgerError, KeyError, TypeError, ValueError) as e:
        message = e.message if isinstance(e, LedgerError) else repr(e)
        return RegistryCheck(actor_id, _fail(actor_id, f"its registry does not check: {message}"))


def _check(actor_id: str, view: Mapping[str, Any], verifier_key: str) -> RegistryCheck:
    registry = view["registry"]
    checkpoint = note.verify_checkpoint(
        str(registry["checkpoint"]), note.Verifier.from_text(verifier_key)
    )
    root = map_commit.root_of(checkpoint.extensions)
    if root is None:
        return RegistryCheck(actor_id)
    leaves: list[tuple[int, bytes, Leaf]] = []
    for item in registry["entries"]:
        index, data = int(item["index"]), codec.b64url_decode(item["leaf"])
        leaf_hash = merkle.leaf_hash(data)
        proof = [codec.b64url_decode(p) for p in item["proof"]]
        merkle.verify_inclusion(leaf_hash, index, checkpoint.size, proof, checkpoint.root)
        leaves.append((index, leaf_hash, Leaf.from_bytes(data, checkpoint.origin)))
    leaves.sort(key=lambda t: t[0])
    partners = {
        codec.b64url_encode(leaf.signed.hash): leaf.signed.event.partner
        for _, _, leaf in leaves
        if isinstance(leaf.signed.event, Authorize)
    }
    chain = EMPTY
    for index, leaf_hash, leaf in leaves:
        if actor_id not in actors_of(leaf.signed.event, partners.get):
            return RegistryCheck(actor_id, _fail(actor_id, f"entry {index} is not about it"))
        chain = actor_chain(chain, leaf_hash)
    proof_text = registry.get("map_proof")
    if not isinstance(proof_text, str):
        return RegistryCheck(actor_id, _fail(actor_id, "its registry carries no map proof"))
    head = map_proof.verify(root, actor_key(actor_id), map_proof.from_text(proof_text))
    last = (leaves[-1][0], chain) if leaves else None
    if (None if head is None else (head.index, head.entry_hash)) != last:
        return RegistryCheck(
            actor_id, _fail(actor_id, "registry entries were left out (its map head differs)")
        )
    revoked, removed, added = _proven_facts(
        actor_id, [leaf for _, _, leaf in leaves], [i for i, _, _ in leaves]
    )
    failure = _compare_hints(actor_id, view, revoked, removed, added)
    return RegistryCheck(actor_id, failure, True, revoked, removed, added)


def _proven_facts(
    actor_id: str, leaves: list[Leaf], indices: list[int]
) -> tuple[int | None, dict[str, int], dict[str, int]]:
    revoked: int | None = None
    removed: dict[str, int] = {}
    added: dict[str, int] = {}
    for index, leaf in zip(indices, leaves, strict=True):
        event = leaf.signed.event
        if isinstance(event, ActorRegister) and event.subject == actor_id:
            added.update({k: index for k in event.keys if k not in added})
        elif isinstance(event, KeyRecover) and event.subject == actor_id:
            added.setdefault(event.key, index)
        if isinstance(event, KeyRotate) and event.subject == actor_id:
            added.update({k: index for k in event.add if k not in added})
        if isinstance(event, ActorRevoke) and event.subject == actor_id and revoked is None:
            revoked = index
        elif isinstance(event, KeyRotate) and event.subject == actor_id:
            removed.update({k: index for k in event.remove if k not in removed})
        elif isinstance(event, KeyRecoverCancel) and event.subject == actor_id:
            removed.setdefault(event.key, index)
    return revoked, removed, added


def _compare_hints(
    actor_id: str,
    view: Mapping[str, Any],
    revoked: int | None,
    removed: dict[str, int],
    added: dict[str, int],
) -> Reason | None:
    if view.get("revoked_index") != revoked:
        return _fail(
            actor_id,
            f"the server says revoked at {view.get('revoked_index')}, its registry says {revoked}",
        )
    for key in view.get("keys") or []:
        public = str(key["public_key"])
        if added.get(public) != key.get("added_index"):
            return _fail(
                actor_id,
                f"the server lists key {key['key_id']} as added at {key.get('added_index')}, "
                f"its registry says {added.get(public)}",
            )
        proven = removed.get(str(key["key_id"]))
        if key.get("removed_index") != proven:
            return _fail(
                actor_id,
                f"the server says key {key['key_id']} removed at {key.get('removed_index')}, "
                f"its registry says {proven}",
            )
    return None


def _fail(actor_id: str, message: str) -> Reason:
    return Reason(
        ReasonCode.CHAIN_INCOMPLETE,
        f"the facts served about {actor_id} are not its whole registry: {message}",
        {"actor": actor_id},
    )
