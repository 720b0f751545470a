"""Is seller S authorized by brand B for GTIN G at time T? The answer's status, and its
offline check.

A marketplace asks the log (``GET /v1/brands/{brand}/authorizations``, docs/API.md) and
gets the status with its evidence: the brand's ``authorize`` entry, the
``authorization.revoke`` entry if there is one, and the entries that gave the brand the
keys these are signed with (its registration, or a key rotation), each with its
inclusion proof to one signed checkpoint.
`verify_answer` re-checks all of it on the platform's machine and computes the status
again from the proven entries alone, so the platform believes no word of the server:

(1) the checkpoint is signed by the pinned log key; (2) every entry's leaf hashes to its
hash and is included in the checkpoint; (3) the key entries are the brand's
registration or its own key rotations; (4) the grant is an
``authorize`` by the brand of the partner, and its signature verifies under that key;
(5) a revocation is the brand's ``authorization.revoke`` of that grant, signed by it
too (by a key of the brand added in a proven entry); (6) the status at ``at``,
computed here, is the served one.

`status_at` is the rule both sides apply. Pure: no store, no HTTP, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import codec, crypto, entry, gs1, merkle, note
from ledger.errors import LedgerError, ValidationError
from ledger.events import ActorRegister, AuthorizationRevoke, Authorize, KeyRotate, parse_time
from ledger.vocab import AuthorizationStatus

#: the statuses, defined once with the answer's shape
Status = AuthorizationStatus


class AuthorizationProofError(ValidationError):
    """An authorization answer does not prove what it says (the step is named)."""

    code = "authorization-proof"


@dataclass(frozen=True)
class Grant:
    """What decides a status: the grant's scope and window, and its revocation time."""

    gtins: Sequence[str]
    prefixes: Sequence[str]
    not_before: str
    not_after: str
    revoked_at: str | None = None


def covers(grant: Grant, gtin: str | None) -> bool:
    """True when the grant names ``gtin`` or a prefix of it (any GTIN when None)."""
    if gtin is None:
        return True
    return gtin in grant.gtins or any(gs1.company_prefix_matches(gtin, p) for p in grant.prefixes)


def status_at(grant: Grant, at: datetime) -> Status:
    """The grant's status at ``at`` (its scope already matched): ``revoked`` once the
    revocation is logged, else ``not-yet-valid``, ``expired`` or ``authorized`` by its
    window (both ends included, as the custody rules have it)."""
    if grant.revoked_at is not None and parse_time(grant.revoked_at) <= at:
        return Status.REVOKED
    if at < parse_time(grant.not_before):
        return Status.NOT_YET_VALID
    if at > parse_time(grant.not_after):
        return Status.EXPIRED
    return Status.AUTHORIZED


@dataclass(frozen=True)
class AuthorizationCheck:
    """What the platform may believe: the status recomputed from proven entries, the
    grant's id (its event hash) and window, and the checkpoint size it is proven in."""

    status: Status
    authorization: str | None
    not_before: str | None
    not_after: str | None
    revoked_at: str | None
    size: int

    @property
    def authorized(self) -> bool:
        """True only for ``authorized``."""
        return self.status == Status.AUTHORIZED


def verify_answer(answer: Mapping[str, Any], verifier_key: str) -> AuthorizationCheck:
    """Re-check a served authorization answer (see the module doc, steps (1)-(6)).

    Raises:
        AuthorizationProofError: any step fails (its message names the step).
    """
    try:
        return _verify(answer, verifier_key)
    except AuthorizationProofError:
        raise
    except (LedgerError, KeyError, TypeError, ValueError) as e:
        raise AuthorizationProofError(f"the answer does not verify: {e}") from None


def _verify(answer: Mapping[str, Any], verifier_key: str) -> AuthorizationCheck:
    checkpoint = note.verify_checkpoint(answer["checkpoint"], verifier_key)  # (1)
    leaves: dict[str, list[entry.Leaf]] = {}
    for item in answer["entries"]:  # (2)
        leaf_bytes = codec.b64url_decode(item["leaf"])
        leaf_hash = merkle.leaf_hash(leaf_bytes)
        proof = [codec.b64url_decode(p) for p in item["proof"]]
        merkle.verify_inclusion(leaf_hash, item["index"], checkpoint.size, proof, checkpoint.root)
        leaves.setdefault(item["role"], []).append(
            entry.Leaf.from_bytes(leaf_bytes, checkpoint.origin)
        )
    brand, partner, gtin = answer["brand"], answer["partner"], answer.get("gtin")
    at = parse_time(answer["at"])
    served = answer["status"]
    if "grant" not in leaves:
        if served != "never-authorized" or answer.get("authorization") is not None:
            raise AuthorizationProofError(f"status {served!r} comes with no proven grant")
        # the log may still hide a grant: absence is the server's word (docs/API.md)
        return AuthorizationCheck(Status.NEVER_AUTHORIZED, None, None, None, None, checkpoint.size)
    keys = _brand_keys(leaves.get("key", []), brand)  # (3)
    (grant_leaf,) = leaves["grant"]
    event = grant_leaf.signed.event
    if not isinstance(event, Authorize) or event.actor != brand or event.partner != partner:
        raise AuthorizationProofError(f"the grant is no authorize of {partner} by {brand}")
    _signed_by(grant_leaf, keys, "grant")  # (4)
    grant_id = codec.b64url_encode(grant_leaf.signed.hash)
    revoked_at = None
    if "revocation" in leaves:  # (5)
        (revocation,) = leaves["revocation"]
        undo = revocation.signed.event
        if not isinstance(undo, AuthorizationRevoke) or undo.authorization != grant_id:
            raise AuthorizationProofError("the revocation does not revoke this grant")
        if undo.actor != brand:
            raise AuthorizationProofError("the revocation is not the brand's")
        _signed_by(revocation, keys, "revocation")
        revoked_at = undo.time
    grant = Grant(event.gtins, event.prefixes, event.not_before, event.not_after, revoked_at)
    if not covers(grant, gtin):
        raise AuthorizationProofError(f"the grant does not cover GTIN {gtin}")
    status = status_at(grant, at)  # (6)
    if status != served:
        raise AuthorizationProofError(f"the server says {served!r}, the proven entries {status!r}")
    return AuthorizationCheck(
        status, grant_id, event.not_before, event.not_after, revoked_at, checkpoint.size
    )


def _brand_keys(key_leaves: Sequence[entry.Leaf], brand: str) -> dict[str, str]:
    """Key id -> public key, of every key the brand's proven key entries add."""
    added: list[str] = []
    for leaf in key_leaves:
        event = leaf.signed.event
        if isinstance(event, ActorRegister) and event.subject == brand:
            added += event.keys
        elif isinstance(event, KeyRotate) and event.subject == brand and event.actor == brand:
            added += event.add
        else:
            raise AuthorizationProofError("a key entry is not the brand's registration or rotation")
    return {crypto.key_id(crypto.public_key_from_b64(k)): k for k in added}


def _signed_by(leaf: entry.Leaf, keys: Mapping[str, str], what: str) -> None:
    public = keys.get(leaf.signed.key)
    if public is None:
        raise AuthorizationProofError(
            f"the {what} is signed by a key the proven entry does not add"
        )
    entry.verify_event(leaf.signed, crypto.public_key_from_b64(public))
