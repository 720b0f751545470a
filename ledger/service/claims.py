"""Ownership claims and resale transfers, with guessing limits.

`ClaimService.claim` is the one place a buyer's code becomes a ``claim`` entry:

1. the typed code is normalized (a typo caught by the check symbol is a 422 and is not
   counted: it gives a guesser nothing), and the unit must exist with a commitment;
2. the attempt is counted *before* the code is evaluated, in one transaction, against
   the client on this unit (scope ``pair``) and against the unit (scope ``unit``): one
   atomic statement per counter adds the attempt unless the counter is waiting, so
   concurrent attempts are counted one after another and at most the limit of them are
   ever evaluated. A counter waiting refuses the attempt, nothing counted
   (`ClaimLockedError`, 423). From the limit on, each attempt makes the next one wait
   (`ClaimPolicy.wait`: ``lockout``, doubling, capped). Nothing counts against a client
   across units, so one person's wrong codes do not lock out the neighbours behind
   their address;
3. the code must open the unit's current commitment: the commission's claim commitment
   for a first claim, the previous claim's transfer commitment for a resale. A wrong
   code keeps its count; a right one clears both counters once its claim is appended;
4. the operator's registry key signs a ``claim`` entry carrying the revealed code (so
   anyone can recompute SHA-256(salt || code) against the commitment it opens), the
   hash of a fresh owner token and the commitment of a fresh one-time transfer code;
5. the transfer code and the owner token are returned once and never stored in clear:
   the owner passes the transfer code to a second-hand buyer, whose claim then opens
   it (so it works once), and the owner's page recognises the owner by the token.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ledger import claimcode, codec, crypto, entry, gs1
from ledger.errors import KeyFormatError, LedgerError, NotFoundError
from ledger.events import Claim, ClaimCommitment, Consume, format_time, parse_time
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
    "attempt_subjects",
    "owner_client",
    "owner_hash",
]


class ClaimLockedError(LedgerError):
    """Too many wrong claim codes for this unit, or from this client on it: try again later."""

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
    owner_token: str | None
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
        operator_key: crypto.Signer | None,
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

    def claim(
        self, gtin: str, serial: str, code: str, *, client: str, owner: object = None
    ) -> ClaimResult:
        """Claim a unit with its claim code, or with its owner's transfer code (resale).

        ``client`` is the claimant's pseudonymous client id (the daily scan hash);
        ``owner``, the base64url SHA-256 of an owner token the client made itself (no
        token is then returned), else the token is made here and returned once.

        Raises:
            ClaimLockedError: the unit, or this client on it, must wait (step 2).
            ValidationError: the code is malformed or fails its check symbol.
            NotFoundError: no such unit.
            NoClaimCodeError: the unit was commissioned without a claim code.
            BadClaimCodeError: the code does not open the unit's claim commitment.
            AlreadyClaimedError: the unit is claimed and the code is not its transfer code.
        """
        now = self._clock()
        unit_id = gs1.UnitId(gtin=gtin, serial=serial)
        canonical = claimcode.normalize_claim_code(code)  # (1)
        if owner is not None:  # checked as the claim entry checks it, before any count
            owner = Claim.checks["owner"](owner, "owner")
        unit = self._unit(unit_id)
        if unit.claim_salt is None or unit.claim_hash is None:
            if unit.claimed:
                raise AlreadyClaimedError("the unit is already claimed", field="unit")
            raise NoClaimCodeError("the unit was commissioned without a claim code", field="unit")
        subjects = attempt_subjects(gtin, serial, client)
        counted = self._reserve(subjects, now)  # (2)
        if not claimcode.matches_commitment(canonical, unit.claim_salt, unit.claim_hash):  # (3)
            if unit.claimed:
                raise AlreadyClaimedError(
                    "the unit is already claimed; a resale needs the owner's transfer code",
                    field="code",
                )
            left, wait = self._left(counted)
            raise BadClaimCodeError(
                "the claim code does not match the unit",
                field="code",
                attempts_left=left,
                wait_after=wait,
            )
        transfer = claimcode.new_claim_code()  # (4)
        salt, digest = claimcode.claim_commitment(transfer, claimcode.new_salt())
        # A client may make its own owner token and send only its hash (``owner``): then
        # no one but the owner ever holds it, the operator included, and only the owner
        # can mark the unit used up. A browser form gets one made here, shown once.
        token = None if owner is not None else secrets.token_urlsafe(16)
        owner = str(owner) if owner is not None else owner_hash(str(token))
        event = Claim(
            actor=self._operator_id,
            time=format_time(now),
            unit=unit_id,
            prev=unit.head,
            code=canonical,
            owner=owner,
            transfer=ClaimCommitment(salt=salt, hash=digest),
        )
        key = self._operator_key
        if key is None:
            raise KeyFormatError("read-only ledger: claiming needs the operator key")
        signed = entry.sign_event(event, key, log=self._appender.origin)
        receipt = self._appender.append(signed, now)
        self._signal_store.clear_attempts(self._log, subjects)
        owners = [client, owner_client(owner)]
        self._signal_store.add_owner_clients(self._log, gtin, serial, owners, format_time(now))
        return ClaimResult(  # (5)
            index=receipt.receipts[0].index,
            checkpoint=receipt.checkpoint,
            transfer_code=transfer,
            owner_token=token,
            resale=unit.claimed,
        )

    def consume(self, gtin: str, serial: str, owner_token: str) -> tuple[int, str]:
        """Mark a claimed unit used up on its owner's word: the registry signs a
        ``consume`` entry revealing ``owner_token``, which the rules check against the
        latest claim's ``owner`` (ledger.rules.custody). Returns (index, checkpoint).

        Raises:
            NotFoundError: no such unit.
            NotOwnerError: the token is not the current owner's (nothing is written).
            ConsumedError: the unit was already marked used up.
            ValidationError: a malformed token.
        """
        now = self._clock()
        unit_id = gs1.UnitId(gtin=gtin, serial=serial)
        unit = self._unit(unit_id)
        key = self._operator_key
        if key is None:
            raise KeyFormatError("read-only ledger: marking a unit used up needs the operator key")
        event = Consume(
            actor=self._operator_id,
            time=format_time(now),
            unit=unit_id,
            prev=unit.head,
            owner_token=owner_token,
        )
        signed = entry.sign_event(event, key, log=self._appender.origin)
        receipt = self._appender.append(signed, now)
        return receipt.receipts[0].index, receipt.checkpoint

    def _unit(self, unit_id: gs1.UnitId) -> UnitRecord:
        found = self._store.records(self._log, {UnitRecord: [(unit_id.gtin, unit_id.serial)]})
        unit = next((r for r in found if isinstance(r, UnitRecord)), None)
        if unit is None:
            raise NotFoundError(f"no unit {unit_id.path()} in the ledger", field="unit")
        return unit

    def _left(self, counted: dict[tuple[str, str], int]) -> tuple[int, int]:
        """After a wrong code: how many more may be typed before the first counter to
        reach its limit makes the claimant wait, and that wait in seconds (already under
        way when none is left)."""
        policy = self.policy
        left, scope, failures = min(
            (policy.limit(scope) - n, scope, n) for (scope, _), n in counted.items()
        )
        wait = policy.wait(scope, failures if left <= 0 else policy.limit(scope))
        return max(0, left), int(wait.total_seconds())

    def _reserve(
        self, subjects: list[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], int]:
        """Count the attempt (step 2); each counter's failures, this attempt included.

        Raises:
            ClaimLockedError: a counter is waiting; nothing was counted.
        """
        policy = self.policy
        reservation = self._signal_store.reserve_attempt(
            self._log,
            subjects,
            format_time(now),
            format_time(now - policy.forget),
            lambda scope, failures: format_time(now + policy.wait(scope, failures)),
        )
        if reservation.waiting is None or reservation.until is None:
            return reservation.counted
        wait = max(1, math.ceil((parse_time(reservation.until) - now).total_seconds()))
        unit_waits = reservation.waiting[0] == "unit"
        what = "this unit's claim" if unit_waits else "your claims on this unit"
        raise ClaimLockedError(
            f"too many wrong codes: {what} must wait {wait} s", wait, field="code"
        )


def attempt_subjects(gtin: str, serial: str, client: str) -> list[tuple[str, str]]:
    """The counters an attempt by ``client`` on a unit counts against, in the order they
    are counted: ``("pair", SHA-256 hex of gtin/serial/client)`` and
    ``("unit", "gtin/serial")``."""
    pair = hashlib.sha256(f"{gtin}/{serial}/{client}".encode()).hexdigest()
    return [("pair", pair), ("unit", f"{gtin}/{serial}")]
