"""The rule errors: one `RuleError` subclass per rule, each with its stable ``code``.

The ``code`` is the API's problem type and the CLI's one-line message prefix, so it is
never reworded; every class answers HTTP 422 (inherited from `RuleError`). The rules in
ledger.rules.context, ledger.rules.registry, ledger.rules.keys and ledger.rules.custody raise
these; no other module defines a rule error. Pure: imports only ledger.errors.
"""

from __future__ import annotations

from ledger.errors import RuleError


class GenesisError(RuleError):
    """Entry 0 must be the operator registering itself, and only entry 0 may do that."""

    code = "genesis"


class FormatRetiredError(RuleError):
    """The log no longer takes events of this format: after its switch (a genesis that
    names format 2, or a ``log.upgrade``) only format 2, which names the log, enters."""

    code = "format-retired"


class UpgradeError(RuleError):
    """A ``log.upgrade`` that would not move the log to the latest format and rule set,
    or a genesis naming one without the other: versions only go forward, together."""

    code = "bad-upgrade"


class UnknownActorError(RuleError):
    """The signer is not a registered actor."""

    code = "unknown-actor"


class ActorRevokedError(RuleError):
    """The signer (or the subject of a key rotation) has been revoked."""

    code = "actor-revoked"


class UnknownKeyError(RuleError):
    """No registered key has this key id."""

    code = "unknown-key"


class ForeignKeyError(RuleError):
    """The key id belongs to another actor."""

    code = "foreign-key"


class KeyRemovedError(RuleError):
    """The key was rotated out and can sign nothing any more."""

    code = "key-removed"


class FutureTimeError(RuleError):
    """The event time is more than `MAX_CLOCK_SKEW` after the log's clock."""

    code = "future-time"


class StaleTimeError(RuleError):
    """The event time is more than `MAX_BACKDATE` before the log's clock."""

    code = "stale-time"


class NotOperatorError(RuleError):
    """Only an operator may sign this kind (actor.register, actor.revoke, claim)."""

    code = "not-operator"


class NotBrandError(RuleError):
    """Only a brand may sign this kind (authorize, authorization.revoke, product.register)."""

    code = "not-brand"


class ActorExistsError(RuleError):
    """An actor with this id is already registered (ids are never reused)."""

    code = "actor-exists"


class UnknownSubjectError(RuleError):
    """The actor to revoke or whose keys rotate is not registered."""

    code = "unknown-subject"


class AlreadyRevokedError(RuleError):
    """The actor or authorization is already revoked."""

    code = "already-revoked"


class CannotRevokeOperatorError(RuleError):
    """An operator cannot revoke itself, so the log always keeps one operator."""

    code = "cannot-revoke-operator"


class BrandPrefixesError(RuleError):
    """A brand is registered with its GS1 prefixes; no other role carries prefixes."""

    code = "brand-prefixes"


class KeyInUseError(RuleError):
    """The key is already registered in this log (to anyone); keys are never reused."""

    code = "key-in-use"


class NotSubjectError(RuleError):
    """Only the actor itself rotates its keys or cancels a recovery of them."""

    code = "not-subject"


class OperatorNotSubjectError(RuleError):
    """An operator signed a key.rotate for another actor: no one signs for another (an
    actor that lost every key is recovered by ``key.recover``, slowly and publicly)."""

    code = "operator-not-subject"


class KeyOutOfScopeError(RuleError):
    """A scoped key signed a kind outside its scope (never a key.rotate or a cancel)."""

    code = "key-out-of-scope"


class KeyNotEffectiveError(RuleError):
    """A recovered key signed before its recovery took effect (log time)."""

    code = "key-not-effective"


class RecoveryTooSoonError(RuleError):
    """A key.recover's ``effective`` is earlier than the log's recovery wait allows."""

    code = "recovery-too-soon"


class UnknownRecoveryError(RuleError):
    """A key.recover.cancel names no key recovered for the subject."""

    code = "unknown-recovery"


class RecoveryNotPendingError(RuleError):
    """The recovery was cancelled already, its key removed, or it has taken effect."""

    code = "recovery-not-pending"


class NothingCompromisedError(RuleError):
    """A key.rotate names ``compromised_since`` but removes no key."""

    code = "nothing-compromised"


class CompromisedInFutureError(RuleError):
    """``compromised_since`` is later than the key.rotate reporting it."""

    code = "compromised-in-future"


class NothingScopedError(RuleError):
    """A key.rotate names a ``scope`` but adds no key."""

    code = "nothing-scoped"


class PrefixTakenError(RuleError):
    """A GS1 prefix equals, lies inside or contains one another brand holds."""

    code = "prefix-taken"


class LookalikeNameError(RuleError):
    """A brand's name has the TR39 confusable skeleton of another brand's name."""

    code = "lookalike-name"


class HiddenCharactersError(RuleError):
    """An actor's name holds characters that show nothing of their own (zero widths,
    joiners, direction controls: ledger.rules.skeleton.hidden_characters), so it could
    display as another name."""

    code = "name-hidden-characters"


class CompromiseTooOldError(RuleError):
    """``compromised_since`` lies further back than the rules allow, or before the key
    could sign."""

    code = "compromise-too-old"


class RecoveryWaitError(RuleError):
    """``recovery_wait`` is set by the genesis operator's registration only."""

    code = "recovery-wait-genesis"


class EmptyRotationError(RuleError):
    """A key.rotate must add or remove at least one key."""

    code = "empty-rotation"


class LastKeyError(RuleError):
    """A key rotation would leave the actor without a current, unscoped key in effect."""

    code = "last-key"


class UnknownPartnerError(RuleError):
    """The authorized partner is not a registered, unrevoked actor."""

    code = "unknown-partner"


class RoleMismatchError(RuleError):
    """The authorization's role is not the partner's registered role."""

    code = "role-mismatch"


class EmptyScopeError(RuleError):
    """An authorization names no GTIN and no prefix."""

    code = "empty-scope"


class BadWindowError(RuleError):
    """An authorization's not_before is not earlier than its not_after."""

    code = "bad-window"


class NotUnderPrefixError(RuleError):
    """The GTIN or prefix is not under one of the brand's GS1 company prefixes."""

    code = "not-under-prefix"


class AuthorizationExistsError(RuleError):
    """An authorization with this id (event hash) already exists."""

    code = "authorization-exists"


class UnknownAuthorizationError(RuleError):
    """No authorization has this id."""

    code = "unknown-authorization"


class NotAuthorizationOwnerError(RuleError):
    """Only the brand that granted an authorization may revoke it."""

    code = "not-authorization-owner"


class ProductExistsError(RuleError):
    """The GTIN is already registered as a product (by any brand)."""

    code = "product-exists"


class UnknownProductError(RuleError):
    """The GTIN is not a registered product."""

    code = "unknown-product"


class NotProductOwnerError(RuleError):
    """The product was registered by another brand."""

    code = "not-product-owner"


class UnitExistsError(RuleError):
    """A unit with this GTIN and serial was already commissioned."""

    code = "unit-exists"


class UnknownUnitError(RuleError):
    """No unit with this GTIN and serial was commissioned."""

    code = "unknown-unit"


class DecommissionedError(RuleError):
    """The unit was decommissioned: nothing may follow."""

    code = "decommissioned"


class ConsumedError(RuleError):
    """The unit was marked used up by its owner: only a recall, a flag or a decommission
    may follow."""

    code = "consumed"


class NotOwnerError(RuleError):
    """A ``consume`` whose token is not the current owner's (or of an unclaimed unit)."""

    code = "not-owner"


class NotAuthorizedError(RuleError):
    """The signer holds no authorization from the unit's brand valid for this event."""

    code = "not-authorized"


class NotCustodianError(RuleError):
    """Only the unit's custodian (for some kinds: or its brand) may sign this event."""

    code = "not-custodian"


class TransferPendingError(RuleError):
    """The unit has an open handoff or return that its recipient has not received."""

    code = "transfer-pending"


class UnknownRecipientError(RuleError):
    """The recipient (``to``) is not a registered, unrevoked actor."""

    code = "unknown-recipient"


class SelfHandoffError(RuleError):
    """A custodian cannot hand a unit off to itself."""

    code = "self-handoff"


class NotRecipientError(RuleError):
    """Only the named recipient of the open transfer may receive the unit."""

    code = "not-recipient"


class AlreadySoldError(RuleError):
    """The unit is sold (and not returned): it cannot be sold again."""

    code = "already-sold"


class AlreadyClaimedError(RuleError):
    """The unit's claim code was already used."""

    code = "already-claimed"


class NotSoldError(RuleError):
    """Only a sold unit can be delivered."""

    code = "not-sold"


class NoClaimCodeError(RuleError):
    """The unit was commissioned without a claim commitment."""

    code = "no-claim-code"


class BadClaimCodeError(RuleError):
    """The claim code does not match the unit's commitment.

    ``attempts_left``: the wrong codes the claimant may still type before a wait, and
    ``wait_after``: that wait in seconds, when the claim service counted the attempt (the
    page says both, so the lock never comes as a surprise)."""

    code = "bad-claim-code"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        attempts_left: int | None = None,
        wait_after: int | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.attempts_left = attempts_left
        self.wait_after = wait_after

    @property
    def problem_fields(self) -> dict[str, int]:
        """``attempts_left`` and ``wait_after`` as problem+json members, when known."""
        fields = {"attempts_left": self.attempts_left, "wait_after": self.wait_after}
        return {k: v for k, v in fields.items() if v is not None}


class NotBrandOrOperatorError(RuleError):
    """Only the unit's brand or an operator may recall or flag it."""

    code = "not-brand-or-operator"


class NotRetailerOfRecordError(RuleError):
    """A sold or delivered unit is returned only by the retailer that sold it or its brand."""

    code = "not-retailer-of-record"


class NeverHeldError(RuleError):
    """A return goes only to a party that held the unit (its brand or a past recipient)."""

    code = "never-held"


class ReturnOverTransferError(TransferPendingError):
    """A return while a handoff or return is open: the open transfer is received first."""

    code = "return-over-transfer"


class AlreadyPackedError(RuleError):
    """A unit (or a container) is already in another container: it is unpacked first."""

    code = "already-packed"


class ContainerCycleError(RuleError):
    """A container would be packed into itself or into a container inside it."""

    code = "container-cycle"


class NotInsideError(RuleError):
    """The unit is not in the container named: nothing to unpack from it, or the
    ``inner`` container of a ``pack`` is not the unit's outermost."""

    code = "not-inside"
