"""Claims through the service: right code once, refusals, resale transfer (the lockout:
test_claim_lockout.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from ledger import claimcode, codec
from ledger.entry import Leaf
from ledger.errors import NotFoundError, ValidationError
from ledger.rules import AlreadyClaimedError, BadClaimCodeError
from ledger.service.claims import owner_hash
from tests.factories import GTIN
from tests.integration.signals_world import SignalWorld
from tests.integration.world import dump


@pytest.fixture
def sw(db_url: str) -> Iterator[SignalWorld]:
    world = SignalWorld.open(db_url)
    yield world
    world.ledger.close()


def wrong(code: str) -> str:
    """Another well-formed code (valid check symbol) that is not ``code``."""
    other = claimcode.new_claim_code()
    return other if other != code else wrong(code)


def test_the_right_code_claims_once_and_the_entry_lets_anyone_recheck_it(sw: SignalWorld) -> None:
    code = sw.mint("SN-1")
    result = sw.ledger.claims.claim(GTIN, "SN-1", code.lower().replace("-", " "), client="c1")
    assert not result.resale
    claim = Leaf.from_bytes(sw.ledger.entry(result.index).leaf).signed.event.to_dict()
    commission = Leaf.from_bytes(sw.ledger.unit_entries(GTIN, "SN-1")[0].leaf).signed.event
    salt = codec.b64url_decode(commission.to_dict()["claim"]["salt"])
    recomputed = hashlib.sha256(salt + claim["code"].encode()).digest()
    assert codec.b64url_encode(recomputed) == commission.to_dict()["claim"]["hash"]
    assert claim["owner"] == owner_hash(result.owner_token)
    assert "transfer" in claim and result.transfer_code not in str(claim)
    assert sw.view("SN-1")["unit"]["claimed"]
    with pytest.raises(AlreadyClaimedError):
        sw.ledger.claims.claim(GTIN, "SN-1", code, client="c2")


def test_refusals_leave_the_log_unchanged(sw: SignalWorld) -> None:
    code = sw.mint("SN-1")
    before = dump(sw.ledger)
    with pytest.raises(BadClaimCodeError) as bad:
        sw.ledger.claims.claim(GTIN, "SN-1", wrong(code), client="c1")
    assert bad.value.code == "bad-claim-code"
    with pytest.raises(ValidationError):  # a typo caught by the check symbol
        sw.ledger.claims.claim(
            GTIN, "SN-1", code[:-1] + ("0" if code[-1] != "0" else "1"), client="c1"
        )
    with pytest.raises(NotFoundError):
        sw.ledger.claims.claim(GTIN, "SN-404", code, client="c1")
    assert dump(sw.ledger) == before


def test_resale_transfer_works_once_and_only_once(sw: SignalWorld) -> None:
    code = sw.mint("SN-1")
    first = sw.ledger.claims.claim(GTIN, "SN-1", code, client="alice")
    second = sw.ledger.claims.claim(GTIN, "SN-1", first.transfer_code, client="bob")
    assert second.resale and second.transfer_code != first.transfer_code
    for used in (first.transfer_code, code):
        with pytest.raises(AlreadyClaimedError):
            sw.ledger.claims.claim(GTIN, "SN-1", used, client="carol")
    kinds = [
        Leaf.from_bytes(e.leaf).signed.event.kind for e in sw.ledger.unit_entries(GTIN, "SN-1")
    ]
    assert kinds == ["commission", "claim", "claim"]
    third = sw.ledger.claims.claim(GTIN, "SN-1", second.transfer_code, client="carol")
    assert third.resale
    # the chain replays: the audit's view of the rules agrees with the service
    assert sw.ledger.replay().units[(GTIN, "SN-1")].claimed


def test_the_owner_sees_the_claim_as_theirs_and_others_as_a_caution(sw: SignalWorld) -> None:
    code = sw.mint("SN-1")
    result = sw.ledger.claims.claim(GTIN, "SN-1", code, client="alice")
    mine = sw.view("SN-1", owner_token=result.owner_token)
    assert (mine["verdict"], mine["owner"]) == ("genuine", True)
    assert "owned" in sw.codes_of(mine) and "claimed" not in sw.codes_of(mine)
    theirs = sw.view("SN-1", owner_token="not-the-token")  # noqa: S106
    assert (theirs["verdict"], theirs["owner"]) == ("caution", False)
    assert "claimed" in sw.codes_of(theirs)
    resold = sw.ledger.claims.claim(GTIN, "SN-1", result.transfer_code, client="bob")
    assert not sw.view("SN-1", owner_token=result.owner_token)["owner"]
    assert sw.view("SN-1", owner_token=resold.owner_token)["owner"]
