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


def check_registry(
    actor_id: str,
    view: Mapping[str, Any],
    verifier_key: str,
    at_least: int = 0,
    mapped: bool = True,
) -> RegistryCheck:
    """Check the actor view's hints against its proven, complete registry (module doc).

    ``at_least`` is the size of the checkpoint the facts are used with (a unit view's):
    a registry proven at a smaller size is refused, since an older registry can lack a
    later revocation. ``mapped``: that checkpoint signs a map root, so the registry's
    must too (else a checkpoint from before maps would turn the check off); False only
    for a log from before maps, whose registry is then taken unchecked (``complete``
    False).
    """
    try:
        return _check(actor_id, view, verifier_key, at_least, mapped)
    except (LedgerError, KeyError, TypeError, ValueError, ArithmeticError) as e:
        message = e.message if isinstance(e, LedgerError) else repr(e)
        return RegistryCheck(actor_id, _fail(actor_id, f"its registry does not check: {message}"))


def _check(
    actor_id: str, view: Mapping[str, Any], verifier_key: str, at_least: int, mapped: bool
) -> RegistryCheck:
    registry = view["registry"]
    checkpoint = note.verify_checkpoint(
        str(registry["checkpoint"]), note.Verifier.from_text(verifier_key)
    )
    if checkpoint.size < at_least:
        why = f"its registry is proven at size {checkpoint.size}, before the unit's {at_least}"
        return RegistryCheck(actor_id, _fail(actor_id, why))
    root = map_commit.root_of(checkpoint.extensions)
    if root is None:
        if mapped:
            why = "its registry's checkpoint commits to no map of heads"
            return RegistryCheck(actor_id, _fail(actor_id, why))
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
    proven = _proven_facts(actor_id, [leaf for _, _, leaf in leaves], [i for i, _, _ in leaves])
    failure = _compare_hints(actor_id, view, proven)
    return RegistryCheck(actor_id, failure, True, proven.revoked, proven.removed, proven.added)


@dataclass
class _Proven:
    """What an actor's proven registry entries say (the rules' records, in small)."""

    registered: int | None = None
    role: str | None = None
    prefixes: tuple[str, ...] = ()
    revoked: int | None = None
    added: dict[str, int] = field(default_factory=dict)  # public key -> index
    scope: dict[str, tuple[str, ...]] = field(default_factory=dict)  # public key -> scope
    recovered: dict[str, tuple[int, str]] = field(default_factory=dict)  # public -> (i, effective)
    removed: dict[str, int] = field(default_factory=dict)  # key id -> index
    compromised: dict[str, str] = field(default_factory=dict)  # key id -> since


def _proven_facts(actor_id: str, leaves: list[Leaf], indices: list[int]) -> _Proven:
    out = _Proven()
    for index, leaf in zip(indices, leaves, strict=True):
        event = leaf.signed.event
        if getattr(event, "subject", None) != actor_id:
            continue  # an authorize or authorization.revoke naming it as partner
        if isinstance(event, ActorRegister) and out.registered is None:
            out.registered, out.role = index, event.role
            out.prefixes = tuple(event.prefixes or ())
            for public in event.keys:
                out.added.setdefault(public, index)
        elif isinstance(event, KeyRecover):
            out.added.setdefault(event.key, index)
            out.recovered.setdefault(event.key, (index, event.effective))
        elif isinstance(event, KeyRotate):
            for public in event.add:
                out.added.setdefault(public, index)
                out.scope.setdefault(public, tuple(event.scope or ()))
            for key_id in event.remove:
                out.removed.setdefault(key_id, index)
                if event.compromised_since is not None:
                    out.compromised.setdefault(key_id, event.compromised_since)
        elif isinstance(event, KeyRecoverCancel):
            out.removed.setdefault(event.key, index)
        elif isinstance(event, ActorRevoke) and out.revoked is None:
            out.revoked = index
    return out


def _compare_hints(actor_id: str, view: Mapping[str, Any], proven: _Proven) -> Reason | None:
    """The first served fact its proven registry contradicts, as a failure."""
    said = {
        "registered_index": (view.get("registered_index"), proven.registered),
        "role": (view.get("role"), proven.role),
        "prefixes": (tuple(view.get("prefixes") or ()), proven.prefixes),
        "revoked_index": (view.get("revoked_index"), proven.revoked),
    }
    for name, (served, shown) in said.items():
        if served != shown:
            return _fail(actor_id, f"the server says {name} {served!r}, its registry {shown!r}")
    for key in view.get("keys") or []:
        public, key_id = str(key["public_key"]), str(key["key_id"])
        recovered = proven.recovered.get(public)
        facts = {
            "added_index": (key.get("added_index"), proven.added.get(public)),
            "removed_index": (key.get("removed_index"), proven.removed.get(key_id)),
            "scope": (tuple(key.get("scope") or ()), proven.scope.get(public, ())),
            "compromised_since": (key.get("compromised_since"), proven.compromised.get(key_id)),
            "recovered_index": (key.get("recovered_index"), recovered and recovered[0]),
            "effective": (key.get("effective"), recovered and recovered[1]),
        }
        for name, (served, shown) in facts.items():
            if served != shown:
                return _fail(
                    actor_id,
                    f"the server says key {key_id} {name} {served!r}, its registry {shown!r}",
                )
    return None


def _fail(actor_id: str, message: str) -> Reason:
    return Reason(
        ReasonCode.CHAIN_INCOMPLETE,
        f"the facts served about {actor_id} are not its whole registry: {message}",
        {"actor": actor_id},
    )
