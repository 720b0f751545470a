"""What keys mean for a verdict (issue 17): `signing_key_reasons` both ways, `judge` turning
them into a caution, and the offline unit proof refusing a recovered key's signature
logged before the key took effect (a log that broke its own rules)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle, note
from ledger.entry import Leaf, SignedEvent, sign_event
from ledger.errors import SignatureError
from ledger.events import event_from_dict, format_time
from ledger.rules.state import KeyRecord
from ledger.verify import unitproof
from ledger.verify.verdict import RECOVERED_KEY_NOTICE, judge, signing_key_reasons
from ledger.vocab import ReasonCode, Verdict
from tests.factories import GTIN, key, public_b64
from tests.profiles import examples
from tests.rules_factories import NOW, ORIGIN, base

WEEK = timedelta(days=7)
SINCE = NOW - timedelta(hours=1)
PLAIN = KeyRecord("plain", "acme", public_b64(2), 1)
STOLEN = KeyRecord("stolen", "acme", public_b64(3), 1, 9, compromised_since=format_time(SINCE))
RECOVERED = KeyRecord(
    "recovered", "acme", public_b64(4), 5, recovered_index=5, effective=format_time(NOW)
)
KEYS = {k.key_id: k for k in (PLAIN, STOLEN, RECOVERED)}


def _codes(signed: list[tuple[str, datetime]]) -> set[str]:
    found = signing_key_reasons([(k, format_time(t)) for k, t in signed], KEYS)
    return {r.code for r in found}


def test_a_compromised_key_taints_what_the_log_received_from_the_report_time_on() -> None:
    assert _codes([("stolen", SINCE - timedelta(seconds=1))]) == set()
    assert _codes([("stolen", SINCE)]) == {ReasonCode.KEY_COMPROMISED}
    reasons = signing_key_reasons([("stolen", format_time(NOW))], KEYS)
    assert reasons[0].evidence == {"keys": ["stolen"], "since": {"stolen": format_time(SINCE)}}


def test_a_recovered_key_is_noticed_for_thirty_days_of_log_time() -> None:
    assert _codes([("recovered", NOW)]) == {ReasonCode.RECOVERED_KEY}
    last = NOW + RECOVERED_KEY_NOTICE - timedelta(milliseconds=1)
    assert _codes([("recovered", last)]) == {ReasonCode.RECOVERED_KEY}
    assert _codes([("recovered", NOW + RECOVERED_KEY_NOTICE)]) == set()


def test_plain_and_unknown_keys_add_nothing() -> None:
    assert _codes([("plain", NOW), ("nobody", NOW)]) == set()
    assert RECOVERED_KEY_NOTICE == timedelta(days=30)


@settings(max_examples=examples(40), deadline=None)
@given(offsets=st.lists(st.integers(-(10**7), 10**7), max_size=6))
def test_each_reason_fires_exactly_when_one_event_falls_in_its_window(offsets: list[int]) -> None:
    times = [NOW + timedelta(seconds=o) for o in offsets]
    signed = [(k, t) for t in times for k in ("stolen", "recovered", "plain")]
    codes = _codes(signed)
    assert (ReasonCode.KEY_COMPROMISED in codes) == any(t >= SINCE for t in times)
    in_notice = any(t < NOW + RECOVERED_KEY_NOTICE for t in times)
    assert (ReasonCode.RECOVERED_KEY in codes) == in_notice


def test_judge_turns_key_reasons_into_a_caution() -> None:
    world = base()
    unit = world.unit()
    signers = {"acme": world.state.actors["acme"]}
    assert judge(unit, signers, [])[0] == Verdict.GENUINE
    reasons = signing_key_reasons([("stolen", format_time(NOW))], KEYS)
    verdict, out = judge(unit, signers, [], key_reasons=reasons)
    assert verdict == Verdict.CAUTION
    assert [r.code for r in out] == [ReasonCode.KEY_COMPROMISED]


# --- the offline proof ------------------------------------------------------------------------

LOG = note.Signer(ORIGIN, key(1))


def _signed(kind: str, actor: str, seed: int, at: datetime, **fields: object) -> SignedEvent:
    data = {"kind": kind, "actor": actor, "time": format_time(at), **fields}
    return sign_event(event_from_dict(data), key(seed), log=ORIGIN)


def _proof(minted_at: datetime) -> str:
    """A proof of a unit minted with an operator-recovered key, received at ``minted_at``
    (a log that honours its rules never receives it before the key's ``effective``)."""
    world = base()
    leaves = [Leaf.build(s, NOW) for s in world.log]
    recover = _signed(
        "key.recover",
        "operator",
        1,
        NOW,
        subject="acme",
        key=public_b64(30),
        effective=format_time(NOW + WEEK),
    )
    mint = _signed(
        "commission", "acme", 30, minted_at, unit={"gtin": GTIN, "serial": "SN-R"}, prev=None
    )
    leaves += [Leaf.build(recover, NOW), Leaf.build(mint, minted_at)]
    hashes = [leaf.hash for leaf in leaves]
    size = len(hashes)
    text = note.sign_checkpoint(note.Checkpoint(LOG.verifier.name, size, merkle.root(hashes)), LOG)
    wanted = [0, size - 2, size - 1]  # genesis, the recovery, the unit's commission
    entries = [
        unitproof.ProvenEntry(i, leaves[i].data, tuple(merkle.inclusion_proof(hashes, i, size)))
        for i in wanted
    ]
    return unitproof.encode(GTIN, "SN-R", entries, text.decode())


def test_the_offline_proof_counts_a_recovered_key_from_its_effective_time() -> None:
    good = unitproof.verify(_proof(NOW + WEEK), LOG.verifier.to_text())
    assert [leaf.signed.event.kind for leaf in good.chain] == ["commission"]
    with pytest.raises(SignatureError, match="before it took effect"):
        unitproof.verify(_proof(NOW + WEEK - timedelta(seconds=1)), LOG.verifier.to_text())
