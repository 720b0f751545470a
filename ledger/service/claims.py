"""Ownership claims and resale transfers, with guessing limits.

`ClaimService.claim` is the one place a buyer's code becomes a ``claim`` entry:

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ledger import claimcode, codec, crypto, entry, gs1
from ledger.errors import KeyFormatError, LedgerError, NotFoundError
from ledger.events import Claim, ClaimCommitment, format_time, parse_time
from ledger.rules import AlreadyClaimedError, BadClaimCodeError, NoClaimCodeError
from ledger.rules.state import UnitRecord
from ledger.service.append import Appender
from ledger.service.policies import ClaimPolicy
from ledger.shapes import ClaimShape
from ledger.store import SignalStore, Store

__all__ = [
    "ClaimLockedError",
    "ClaimPolicy",
    "ClaimResult",
    "ClaimService",
    "owner_client",
    "owner_hash",
]


class ClaimLockedError(LedgerError):
    """Too many wrong claim codes for this unit or from this client: try again later."""

    code = "claim-locked"
    status = 423  # Locked (RFC 4918 section 11.3)

    def __init__(self, message: str, retry_after: int, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


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


class ClaimService:
    """Claims and transfers of one log, under ``policy``.

    The ``claim`` entries are signed by the operator (``operator_id``, ``operator_key``;
    None for a read-only ledger, which refuses every claim) and appended by ``appender``.
    """

    def __init__(
        self,
        store: Store,
        signal_store: SignalStore,
        log: int,
        appender: Appender,
        operator_id: str,
        operator_key: crypto.Ed25519PrivateKey | None,
        policy: ClaimPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._signal_store = signal_store
        self._log = log
        self._appender = appender
        self._operator_id = operator_id
        self._operator_key = operator_key
        self.policy = policy
        self._clock = clock

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
        now = self._clock()
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
            actor=self._operator_id,
            time=format_time(now),
            unit=unit_id,
            prev=unit.head,
            code=canonical,
            owner=owner_hash(token),
            transfer=ClaimCommitment(salt=salt, hash=digest),
        )
        key = self._operator_key
        if key is None:
            raise KeyFormatError("read-only ledger: claiming needs the operator key")
        receipt = self._appender.append(entry.sign_event(event, key), now)
        self._signal_store.set_attempts(self._log, {subjects[0]: (0, None)})
        owners = [client, owner_client(owner_hash(token))]
        self._signal_store.add_owner_clients(self._log, gtin, serial, owners, format_time(now))
        return ClaimResult(  # (5)
            index=receipt.receipts[0].index,
            checkpoint=receipt.checkpoint,
            transfer_code=transfer,
            owner_token=token,
            resale=unit.claimed,
        )

    def _unit(self, unit_id: gs1.UnitId) -> UnitRecord:
        found = self._store.records(self._log, {UnitRecord: [(unit_id.gtin, unit_id.serial)]})
        unit = next((r for r in found if isinstance(r, UnitRecord)), None)
        if unit is None:
            raise NotFoundError(f"no unit {unit_id.path()} in the ledger", field="unit")
        return unit

    def _check_lock(self, subjects: list[tuple[str, str]], now: datetime) -> None:
        for (scope, _), (_, until) in self._signal_store.attempts(self._log, subjects).items():
            if until is not None and parse_time(until) > now:
                wait = max(1, int((parse_time(until) - now).total_seconds() + 0.999))
                what = "this unit's claim" if scope == "unit" else "claims from this client"
                raise ClaimLockedError(
                    f"too many wrong codes: {what} is locked for {wait} s", wait, field="code"
                )

    def _fail(self, subjects: list[tuple[str, str]], now: datetime) -> None:
        policy = self.policy
        known = self._signal_store.attempts(self._log, subjects)
        values: dict[tuple[str, str], tuple[int, str | None]] = {}
        for subject in subjects:
            failures = known.get(subject, (0, None))[0] + 1
            if failures >= policy.max_failures:
                values[subject] = (0, format_time(now + policy.lockout))
            else:
                values[subject] = (failures, None)
        self._signal_store.set_attempts(self._log, values)
