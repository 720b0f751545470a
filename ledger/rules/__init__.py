"""The ledger's rules (docs/ARCHITECTURE.md, "The rules"): may this signed event enter the
log now?

`check` reads a `State`, never changes it, and either raises the `RuleError` subclass
that names the broken rule (`ConflictError` when a unit's head moved) or returns the
records that accepting the event at a given log index creates or replaces; the caller
then calls ``state.apply(records)``. Replaying a log through `check` and `State.apply`
rebuilds its state exactly, so the service and the audit share this code.

Layout (each module imports only those above it, none imports this package's
``__init__``):

    errors.py    one `RuleError` subclass and stable ``code`` per rule
    state.py     the projection the rules read and return (actors, keys, units, ...)
    context.py   `Context`, `signing_key` (signer and key checks), `check_time`, key helpers
    registry.py  genesis and the registry kinds (actors, keys and their recovery,
                 authorizations, products)
    containers.py  the nesting of ``pack`` and ``unpack`` (units in cartons in pallets)
    custody.py   the unit kinds (commission and the custody state machine)
    check.py     the dispatch `check`

This module only re-exports their public names, so ``rules.check(...)``,
``rules.signing_key(...)`` and ``from ledger.rules import AlreadyClaimedError`` work.

The rules read only what the event names: its signer, the signer's keys and
authorizations, its subject, partner, recipient, products, unit, the unit's brand,
custodian and pending recipient, and the operators (ledger.service.prefetch loads exactly that).

What it does not do: no Ed25519 signature check (the caller verifies the signature
against `signing_key`, outside its lock), no idempotency (the caller answers a repeated
event hash with the existing entry before calling `check`), no I/O, no clock (``now``
is an argument).
"""

from __future__ import annotations

from ledger.rules.check import check
from ledger.rules.context import (
    MAX_BACKDATE,
    MAX_CLOCK_SKEW,
    MAX_COMPROMISE_BACKDATE,
    RECOVERY_WAIT,
    SCOPE_KINDS,
    Context,
    check_format,
    check_key_use,
    check_time,
    current_key,
    is_full_key,
    key_id_of,
    log_versions,
    recovery_wait,
    signing_key,
)
from ledger.rules.errors import (
    ActorExistsError,
    ActorRevokedError,
    AlreadyClaimedError,
    AlreadyPackedError,
    AlreadyRevokedError,
    AlreadySoldError,
    AuthorizationExistsError,
    BadClaimCodeError,
    BadWindowError,
    BrandPrefixesError,
    CannotRevokeOperatorError,
    CompromisedInFutureError,
    CompromiseTooOldError,
    ContainerCycleError,
    DecommissionedError,
    EmptyRotationError,
    EmptyScopeError,
    ForeignKeyError,
    FormatRetiredError,
    FutureTimeError,
    GenesisError,
    KeyInUseError,
    KeyNotEffectiveError,
    KeyOutOfScopeError,
    KeyRemovedError,
    LastKeyError,
    LookalikeNameError,
    NeverHeldError,
    NoClaimCodeError,
    NotAuthorizationOwnerError,
    NotAuthorizedError,
    NotBrandError,
    NotBrandOrOperatorError,
    NotCustodianError,
    NothingCompromisedError,
    NothingScopedError,
    NotInsideError,
    NotOperatorError,
    NotProductOwnerError,
    NotRecipientError,
    NotRetailerOfRecordError,
    NotSoldError,
    NotSubjectError,
    NotUnderPrefixError,
    OperatorNotSubjectError,
    PrefixTakenError,
    ProductExistsError,
    RecoveryNotPendingError,
    RecoveryTooSoonError,
    RecoveryWaitError,
    ReturnOverTransferError,
    RoleMismatchError,
    SelfHandoffError,
    StaleTimeError,
    TransferPendingError,
    UnitExistsError,
    UnknownActorError,
    UnknownAuthorizationError,
    UnknownKeyError,
    UnknownPartnerError,
    UnknownProductError,
    UnknownRecipientError,
    UnknownRecoveryError,
    UnknownSubjectError,
    UnknownUnitError,
    UpgradeError,
)

__all__ = [
    "MAX_BACKDATE",
    "MAX_CLOCK_SKEW",
    "MAX_COMPROMISE_BACKDATE",
    "RECOVERY_WAIT",
    "SCOPE_KINDS",
    "ActorExistsError",
    "ActorRevokedError",
    "AlreadyClaimedError",
    "AlreadyPackedError",
    "AlreadyRevokedError",
    "AlreadySoldError",
    "AuthorizationExistsError",
    "BadClaimCodeError",
    "BadWindowError",
    "BrandPrefixesError",
    "CannotRevokeOperatorError",
    "CompromiseTooOldError",
    "CompromisedInFutureError",
    "ContainerCycleError",
    "Context",
    "DecommissionedError",
    "EmptyRotationError",
    "EmptyScopeError",
    "ForeignKeyError",
    "FormatRetiredError",
    "FutureTimeError",
    "GenesisError",
    "KeyInUseError",
    "KeyNotEffectiveError",
    "KeyOutOfScopeError",
    "KeyRemovedError",
    "LastKeyError",
    "LookalikeNameError",
    "NeverHeldError",
    "NoClaimCodeError",
    "NotAuthorizationOwnerError",
    "NotAuthorizedError",
    "NotBrandError",
    "NotBrandOrOperatorError",
    "NotCustodianError",
    "NotInsideError",
    "NotOperatorError",
    "NotProductOwnerError",
    "NotRecipientError",
    "NotRetailerOfRecordError",
    "NotSoldError",
    "NotSubjectError",
    "NotUnderPrefixError",
    "NothingCompromisedError",
    "NothingScopedError",
    "OperatorNotSubjectError",
    "PrefixTakenError",
    "ProductExistsError",
    "RecoveryNotPendingError",
    "RecoveryTooSoonError",
    "RecoveryWaitError",
    "ReturnOverTransferError",
    "RoleMismatchError",
    "SelfHandoffError",
    "StaleTimeError",
    "TransferPendingError",
    "UnitExistsError",
    "UnknownActorError",
    "UnknownAuthorizationError",
    "UnknownKeyError",
    "UnknownPartnerError",
    "UnknownProductError",
    "UnknownRecipientError",
    "UnknownRecoveryError",
    "UnknownSubjectError",
    "UnknownUnitError",
    "UpgradeError",
    "check",
    "check_format",
    "check_key_use",
    "check_time",
    "current_key",
    "is_full_key",
    "key_id_of",
    "log_versions",
    "recovery_wait",
    "signing_key",
]
