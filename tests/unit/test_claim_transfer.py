"""The claim rule as a state machine: every code works once, only the current one works.

Hypothesis drives a unit through claims with the original claim code, transfer codes
issued so far, and codes never issued; the rules must accept exactly the claims whose
code opens the current commitment, refuse the rest with the right rule, and each
accepted claim must replace the commitment with its own transfer commitment.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from tests.profiles import examples
from tests.rules_factories import CLAIM_CODE, base, claim_commitment

CODES = [f"CODE-{i:04d}-XXXX-XXXX-{i % 10}" for i in range(12)]


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["current", "old", "never"]), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_only_the_current_code_opens_the_claim(steps: list[tuple[str, bool]]) -> None:
    world = base()
    current: str | None = CLAIM_CODE
    used: list[str] = []
    fresh = iter(CODES)
    for choice, with_transfer in steps:
        if choice == "current" and current is not None:
            code = current
        elif choice == "old" and used:
            code = used[-1]
        else:
            code = "NEVR-ISSU-EDXX-XXXX-0"
        nxt = next(fresh)
        transfer = claim_commitment(nxt, bytes(16)) if with_transfer else None
        fields = {"code": code, **({"transfer": transfer} if transfer else {})}
        signed = world.on_unit("claim", "operator", **fields)
        if code == current:
            world.accept(signed)
            used.append(code)
            current = nxt if with_transfer else None
            unit = world.unit()
            assert unit.claimed
            assert (unit.claim_hash is None) == (transfer is None)
            continue
        try:
            world.check(signed)
        except LedgerError as e:
            claimed = world.unit().claimed
            assert e.code == ("already-claimed" if claimed else "bad-claim-code"), e
        else:
            raise AssertionError(f"a claim with {code} was accepted; only {current} opens it")
