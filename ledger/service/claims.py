"""Ownership claims and resale transfers, with guessing limits (a `Ledger` mixin).

`Claiming.claim` is the one place a buyer's code becomes a ``claim`` entry:

1. the unit and the client must not be locked out (`ClaimLockedError`, 423);
2. the typed code is normalized (a typo caught by the check symbol is a 422 and is not
   counted: it gives a guesser nothing);
3. the code must open the unit's current commitment: the commission's claim commitment
   for a first claim, the previous claim's transfer commitment for a resale. A wrong
   code counts one failure against the unit and one against the client (in the store,
   outside the signed log); the ``max_failures``-th locks both for ``lockout``;
4. the operator's registry key signs a ``claim`` entry carrying the revealed code (so
   anyone can recompute SHA-256(salt || code) against the commitment it opens), the
   hash of a fresh owner token and the commitment of a fresh one-time transfer code;
5. the transfer code and the owner token are returned once and never stored in clear:
   the owner passes the transfer code to a second-hand buyer, whose claim then opens
   it (so it works once), and the owner's page recognises the owner by the token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ledger import claimcode, codec, entry, gs1
from ledger.errors import KeyFormatError, LedgerError, NotFoundError
from ledger.events import Claim, ClaimCommitment, format_time, parse_time
from ledger.rules import AlreadyClaimedError, BadClaimCodeError, NoClaimCodeError
from ledger.rules.state import UnitRecord
from ledger.shapes import ClaimShape

if TYPE_CHECKING:
    from ledger.service.ledger import BatchReceipt, LogConfig
    from ledger.store import SignalStore, Store


class ClaimLockedError(LedgerError):
    """Too many wrong claim codes for this unit or from this client: try again later."""

    code = "claim-locked"
    status = 423  # Locked (RFC 4918 section 11.3)

    def __init__(self, message: str, retry_after: int, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


@dataclass(frozen=True)
class ClaimPolicy:
    """How many wrong codes lock a unit's claim (and a client), and for how long."""

    max_failures: int = 10
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class ClaimResult:
    """A successful claim: where it sits in the log, and the secrets shown once."""

    index: int
    checkpoint: str
    transfer_code: str
    owner_token: str
    resale: bool

    def to_dict(self) -> ClaimShape:
        """The claim's response body (docs/API.md)."""
        return {
            "index": self.index,
            "checkpoint": self.checkpoint,
            "transfer_code": self.transfer_code,
            "owner_token": self.owner_token,
            "resale": self.resale,
        }


def owner_hash(token: str) -> str:
    """The ``owner`` field of a claim: base64url SHA-256 of the owner token (UTF-8)."""
    return codec.b64url_encode(hashlib.sha256(token.encode()).digest())


def owner_client(owner: str) -> str:
    """The pseudonymous scan client of an owner (``o`` + 31 hex digits of its hash), used
    instead of the daily client hash when the owner's token comes with a scan."""
    return "o" + codec.b64url_decode(owner, field="owner").hex()[:31]


class Claiming:
    """Mixin of `ledger.service.ledger.Ledger`: claims and transfers."""

    store: Store
    log: int
    config: LogConfig
    claim_policy: ClaimPolicy = ClaimPolicy()

    def now(self) -> datetime:  # pragma: no cover - provided by Ledger
        raise NotImplementedError

    def append(self, signed: Any, now: datetime | None = None) -> BatchReceipt:  # pragma: no cover
        raise NotImplementedError

    @property
    def signal_store(self) -> SignalStore:  # pragma: no cover - provided by Ledger
        raise NotImplementedError

    def claim(self, gtin: str, serial: str, code: str, *, client: str) -> ClaimResult:
        """Claim a unit with its claim code, or with its owner's transfer code (resale).

        ``client`` is the claimant's pseudonymous client id (the daily scan hash).

        Raises:
            ClaimLockedError: the unit or the client is locked out (steps 1, 3).
            ValidationError: the code is malformed or fails its check symbol.
            NotFoundError: no such unit.
            NoClaimCodeError: the unit was commissioned without a claim code.
            BadClaimCodeError: the code does not open the unit's claim commitment.
            AlreadyClaimedError: the unit is claimed and the code is not its transfer code.
        """
        now = self.now()
        unit_id = gs1.UnitId(gtin=gtin, serial=serial)
        subjects = [("unit", f"{gtin}/{serial}"), ("client", client)]
        self._check_lock(subjects, now)  # (1)
        canonical = claimcode.normalize_claim_code(code)  # (2)
        unit = self._unit(unit_id)
        if unit.claim_salt is None or unit.claim_hash is None:
            if unit.claimed:
                raise AlreadyClaimedError("the unit is already claimed", field="unit")
            raise NoClaimCodeError("the unit was commissioned without a claim code", field="unit")
        if not claimcode.matches_commitment(canonical, unit.claim_salt, unit.claim_hash):  # (3)
            self._fail(subjects, now)
            if unit.claimed:
                raise AlreadyClaimedError(
                    "the unit is already claimed; a resale needs the owner's transfer code",
                    field="code",
                )
            raise BadClaimCodeError("the claim code does not match the unit", field="code")
        transfer = claimcode.new_claim_code()  # (4)
        salt, digest = claimcode.claim_commitment(transfer, claimcode.new_salt())
        token = secrets.token_urlsafe(16)
        event = Claim(
            actor=self.config.operator_id,
            time=format_time(now),
            unit=unit_id,
            prev=unit.head,
            code=canonical,
            owner=owner_hash(token),
            transfer=ClaimCommitment(salt=salt, hash=digest),
        )
        key = self.config.operator_key
        if key is None:
            raise KeyFormatError("read-only ledger: claiming needs the operator key")
        receipt = self.append(entry.sign_event(event, key), now)
        self.signal_store.set_attempts(self.log, {subjects[0]: (0, None)})
        owners = [client, owner_client(owner_hash(token))]
        self.signal_store.add_owner_clients(self.log, gtin, serial, owners, format_time(now))
        return ClaimResult(  # (5)
            index=receipt.receipts[0].index,
            checkpoint=receipt.checkpoint,
            transfer_code=transfer,
            owner_token=token,
            resale=unit.claimed,
        )

    def _unit(self, unit_id: gs1.UnitId) -> UnitRecord:
        found = self.store.records(self.log, {UnitRecord: [(unit_id.gtin, unit_id.serial)]})
        unit = next((r for r in found if isinstance(r, UnitRecord)), None)
        if unit is None:
            raise NotFoundError(f"no unit {unit_id.path()} in the ledger", field="unit")
        return unit

    def _check_lock(self, subjects: list[tuple[str, str]], now: datetime) -> None:
        for (scope, _), (_, until) in self.signal_store.attempts(self.log, subjects).items():
            if until is not None and parse_time(until) > now:
                wait = max(1, int((parse_time(until) - now).total_seconds() + 0.999))
                what = "this unit's claim" if scope == "unit" else "claims from this client"
                raise ClaimLockedError(
                    f"too many wrong codes: {what} is locked for {wait} s", wait, field="code"
                )

    def _fail(self, subjects: list[tuple[str, str]], now: datetime) -> None:
        policy = self.claim_policy
        known = self.signal_store.attempts(self.log, subjects)
        values: dict[tuple[str, str], tuple[int, str | None]] = {}
        for subject in subjects:
            failures = known.get(subject, (0, None))[0] + 1
            if failures >= policy.max_failures:
                values[subject] = (0, format_time(now + policy.lockout))
            else:
                values[subject] = (failures, None)
        self.signal_store.set_attempts(self.log, values)
