"""Fault injection, for the hammer's broken-build tests ONLY (docs/RELIABILITY.md): a
ledger that honours it is deliberately wrong. Never set these in production."""

from __future__ import annotations

from collections.abc import Mapping

from ledger.errors import ValidationError

FAULT_ENV = "PROVENANCE_FAULT_INJECTION"
FAULT_CONSENT_ENV = "PROVENANCE_FAULT_INJECTION_CONSENT"
FAULT_CONSENT = "break-this-ledger-for-a-test"
#: skip-head-check: accept a unit event whatever its ``prev`` (a unit chain can fork)
FAULTS = frozenset({"skip-head-check"})


def faults_from_env(environ: Mapping[str, str]) -> frozenset[str]:
    """The injected faults named by ``PROVENANCE_FAULT_INJECTION`` (comma-separated).

    The one place fault injection is read. Refused unless
    ``PROVENANCE_FAULT_INJECTION_CONSENT`` is exactly `FAULT_CONSENT`, so that a stray
    variable cannot break a production ledger.

    Raises:
        ValidationError: an unknown fault, or faults without the consent variable.
    """
    names = frozenset(n.strip() for n in environ.get(FAULT_ENV, "").split(",") if n.strip())
    if not names:
        return names
    if names - FAULTS:
        raise ValidationError(f"unknown injected fault {sorted(names - FAULTS)}", field=FAULT_ENV)
    if environ.get(FAULT_CONSENT_ENV) != FAULT_CONSENT:
        raise ValidationError(
            f"{FAULT_ENV} breaks the ledger on purpose (tests only); refused without "
            f"{FAULT_CONSENT_ENV}={FAULT_CONSENT}",
            field=FAULT_ENV,
        )
    return names
