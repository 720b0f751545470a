"""Re-check a unit view as it is served, before believing its verdict.

A unit view (``GET /v1/units/{gtin}/{serial}``, docs/API.md) carries the verdict the
log computed and, for every entry of the unit, the leaf, its hash and its inclusion
proof to the signed checkpoint it also carries. `verify_unit_view` re-checks all of it
on the client's machine (ledger.verify.verdict.check_unit_chain): the checkpoint is
signed by the pinned log key, every leaf hashes to its hash and is included in that
checkpoint, every event is signed by a key the client trusts for its actor, and each
event extends the previous one. Any failure makes the verdict ``invalid``, whatever
the log said; a view that checks keeps the log's verdict and reasons.

Used by ``provenance verify`` and meant for any client (a scanner app, a partner's
system). Pure: no store, no HTTP; the caller fetches the view and the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.errors import LedgerError
from ledger.shapes import ReasonShape
from ledger.verify.verdict import INVALID, Reason, ServedEntry, check_unit_chain
from ledger.vocab import ReasonCode


@dataclass(frozen=True)
class UnitViewCheck:
    """What a client may believe of a served unit view.

    Attributes:
        verdict: ``invalid`` when any check failed, else the verdict as served.
        reasons: the failures, else the served reasons (``code``, ``message``,
            ``evidence``; a server's per-language ``text`` is left out).
        failures: the checks that failed, empty when the view holds.
        checked: how many entries were checked.
    """

    verdict: str
    reasons: list[ReasonShape]
    failures: tuple[Reason, ...]
    checked: int

    @property
    def ok(self) -> bool:
        """True when every entry, proof and signature of the view checked."""
        return not self.failures


def signers_of(view: Mapping[str, Any]) -> set[str]:
    """The actors whose keys `verify_unit_view` needs: each entry's signing actor.

    A client fetches each one's keys (``GET /v1/actors/{id}``) or takes them from a
    registry it trusts; a key a lying log invented must not be among them.
    """
    return {str(e["event"]["actor"]) for e in view.get("entries") or []}


def verify_unit_view(
    view: Mapping[str, Any], verifier_key: str, public_keys: Mapping[str, str]
) -> UnitViewCheck:
    """Re-check every entry, proof and signature of a served unit view.

    Args:
        view: the unit view JSON as served (``verdict``, ``reasons``, ``entries``,
            ``checkpoint``).
        verifier_key: the log's C2SP verifier key, pinned by the client (a key taken
            from the same server proves only that the server is self-consistent).
        public_keys: key id -> base64url Ed25519 public key of the signers to trust.

    Returns:
        The verdict to show: ``invalid`` with one reason per failed check, else the
        served verdict and reasons. An entry that cannot even be decoded (a dropped
        or garbled leaf, hash or proof) is a failed proof.
    """
    entries = list(view.get("entries") or [])
    served: list[ServedEntry] = []
    failures: list[Reason] = []
    for position, item in enumerate(entries):
        try:
            served.append(_served(item))
        except (LedgerError, KeyError, TypeError, ValueError) as e:
            index = item.get("index", position) if isinstance(item, Mapping) else position
            failures.append(
                Reason(
                    ReasonCode.PROOF_INVALID,
                    f"an entry is not proven in the log: malformed entry ({e!r})",
                    {"index": index},
                )
            )
    if served or failures:
        checkpoint = view.get("checkpoint")
        if not isinstance(checkpoint, str):
            failures.insert(
                0,
                Reason(
                    ReasonCode.CHECKPOINT_INVALID, "the log's checkpoint does not verify: missing"
                ),
            )
        elif not failures:
            failures = check_unit_chain(served, checkpoint, verifier_key, public_keys)
    if failures:
        return UnitViewCheck(
            INVALID, [f.to_dict() for f in failures], tuple(failures), len(entries)
        )
    reasons: list[ReasonShape] = [
        {"code": r["code"], "message": r["message"], "evidence": r["evidence"]}
        for r in view.get("reasons") or []
    ]
    return UnitViewCheck(str(view["verdict"]), reasons, (), len(served))


def _served(item: Mapping[str, Any]) -> ServedEntry:
    """One served entry decoded; raises on a missing or undecodable part."""
    return ServedEntry(
        int(item["index"]),
        codec.b64url_decode(item["leaf"]),
        codec.b64url_decode(item["leaf_hash"]),
        [codec.b64url_decode(p) for p in item["proof"]],
    )
