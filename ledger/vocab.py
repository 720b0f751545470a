"""The closed vocabularies of the ledger, each defined once.

Every word here travels as a plain JSON string (in signed events, the unit view, the
reports API, the CLI's output) and is stable: renaming a member's value is a format
change. The classes are `enum.StrEnum`, so a member *is* its string: it compares equal
to it, hashes like it, and ``json.dumps`` writes it unchanged. Code that parses input
checks membership against `values` (``value in Role`` raises TypeError on Python 3.11
for a non-member); code that produces output names members (``Verdict.GENUINE``)
instead of spelling the string again.

EPCIS's own vocabulary (bizSteps, dispositions) is in `ledger.epcis.vocab`. Error codes
are not here: each is the ``code`` of one `ledger.errors.LedgerError` subclass (a test
checks they are unique). No I/O; standard library only.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What an actor is (``actor.register``'s ``role``; docs/FORMAT.md)."""

    OPERATOR = "operator"
    BRAND = "brand"
    WAREHOUSE = "warehouse"
    COURIER = "courier"
    RETAILER = "retailer"
    CUSTOMS = "customs"
    INSPECTOR = "inspector"


#: the roles a brand can authorize (``authorize``'s ``role``): every role but the
#: operator and the brand
PARTNER_ROLES: tuple[Role, ...] = (
    Role.WAREHOUSE,
    Role.COURIER,
    Role.RETAILER,
    Role.CUSTOMS,
    Role.INSPECTOR,
)


class KeyScope(StrEnum):
    """What a scoped key may sign (``key.rotate``'s ``scope``; ledger.rules.context maps
    each to its kinds). A scoped key never signs ``key.*`` kinds."""

    MINT = "mint"  # product.register, commission
    CUSTODY = "custody"  # handoff, receive, inspect, sell, deliver, return, decommission
    FLAG = "flag"
    RECALL = "recall"
    AUTHORIZE = "authorize"  # authorize, authorization.revoke
    CONSOLE = "console"  # the console's work: authorize, revoke, flag, recall, products
    REVOKE = "revoke"  # authorization.revoke alone: end a partner's authorization, never grant


class InspectResult(StrEnum):
    """The outcome an ``inspect`` event records."""

    PASS = "pass"  # noqa: S105 - an inspection outcome, not a password
    FAIL = "fail"


class Verdict(StrEnum):
    """What a shopper is told about a unit (ledger.verify.verdict)."""

    GENUINE = "genuine"
    CAUTION = "caution"
    UNKNOWN = "unknown"
    INVALID = "invalid"


class ReasonCode(StrEnum):
    """Why a verdict is what it is: the log-based reasons and those added from outside
    the log (reports, ownership). Clone signals are `SignalCode`; a reason's code is one
    of the two (docs/API.md lists both)."""

    VERIFIED = "verified"
    NOT_FOUND = "not-found"
    SOLD = "sold"
    RESOLD = "resold"
    RETURNED_AFTER_SALE = "returned-after-sale"
    CLAIMED = "claimed"
    OWNED = "owned"
    RECALLED = "recalled"
    DECOMMISSIONED = "decommissioned"
    CONSUMED = "consumed"
    FLAGGED = "flagged"
    REVOKED_HANDLER = "revoked-handler"
    HELD_BY_REVOKED = "held-by-revoked"
    REPORTED = "reported"
    INSPECTION_FAILED = "inspection-failed"
    RECOVERED_KEY = "recovered-key"
    KEY_COMPROMISED = "key-compromised"
    LABEL_INVALID = "label-invalid"
    LABEL_MISMATCH = "label-mismatch"
    LABEL_UNSIGNED = "label-unsigned"
    REPORT_UNDER_REVIEW = "report-under-review"
    CHECKPOINT_INVALID = "checkpoint-invalid"
    LEAF_HASH_INVALID = "leaf-hash-invalid"
    PROOF_INVALID = "proof-invalid"
    SIGNATURE_INVALID = "signature-invalid"
    CHAIN_BROKEN = "chain-broken"
    CHAIN_INCOMPLETE = "chain-incomplete"
    # the checkpoint's age (ledger.verify.freshness): codes equal to its errors' codes
    CHECKPOINT_STALE = "checkpoint-stale"
    BAD_TIMESTAMP = "bad-timestamp"
    BAD_COSIGNATURE = "bad-cosignature"
    UNKNOWN_WITNESS = "unknown-witness"


class SignalCode(StrEnum):
    """The clone signals (ledger.signals.compute; docs/SIGNALS.md)."""

    POST_CLAIM_SCANS = "post-claim-scans"
    IMPOSSIBLE_TRAVEL = "impossible-travel"
    MANY_SCANNERS = "many-scanners"
    SERIAL_PROBING = "serial-probing"


class LabelState(StrEnum):
    """The scanned label: its brand signature checked good or bad; a lot or expiry that
    is not the unit's (``mismatch``); a label scanned at the resolver without a signature
    (``unsigned``); or no label at all, as in an API query about a unit (``absent``)."""

    VALID = "valid"
    INVALID = "invalid"
    MISMATCH = "mismatch"
    UNSIGNED = "unsigned"
    ABSENT = "absent"


class UnitState(StrEnum):
    """One word for people: the most telling of a unit's flags (the unit view's ``state``)."""

    IN_STOCK = "in_stock"
    IN_TRANSIT = "in_transit"
    SOLD = "sold"
    DELIVERED = "delivered"
    CLAIMED = "claimed"
    DECOMMISSIONED = "decommissioned"


class ReportReason(StrEnum):
    """Why a buyer files a consumer report (docs/SIGNALS.md)."""

    COUNTERFEIT = "counterfeit"
    ALREADY_CLAIMED = "already-claimed"
    LABEL_MISMATCH = "label-mismatch"
    DAMAGED = "damaged"
    SELLER = "seller"
    OTHER = "other"


class ReportStatus(StrEnum):
    """Where a consumer report stands: open until answered by ``close`` or ``flag``."""

    OPEN = "open"
    CLOSED = "closed"
    FLAGGED = "flagged"


class ReportAction(StrEnum):
    """How a brand or an operator answers a report: ``ack`` keeps it open (a first
    response), ``close`` closes it, ``flag`` appends a signed flag and closes it."""

    ACK = "ack"
    CLOSE = "close"
    FLAG = "flag"


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """The vocabulary's strings in declaration order (for messages and validators)."""
    return tuple(member.value for member in vocabulary)


class AuthorizationStatus(StrEnum):
    """Whether a brand authorizes a partner at a time: a seller check's answer
    (ledger.verify.authorization.status_at)."""

    AUTHORIZED = "authorized"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    REVOKED = "revoked"
    NEVER_AUTHORIZED = "never-authorized"
