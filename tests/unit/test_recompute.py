"""ledger.verify.recompute: the client's replay of a unit's chain agrees with the log's.

A Hypothesis property: random custody events on the base world's unit, each kept only
if the log's rules accept it; the client's replay of the accepted chain (with the actors'
facts) yields the log's own unit record and the verdict the server would compute. An
offline-style replay with no actor facts never raises. A chain the rules refuse is
``chain-broken``; a commission outside the signer's prefixes is refused.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.entry import Leaf
from ledger.errors import LedgerError
from ledger.verify.recompute import (
    Switch,
    actor_record,
    disagreement,
    hints,
    key_records,
    recompute,
)
from ledger.verify.verdict import judge
from ledger.vocab import ReasonCode
from tests.factories import GTIN
from tests.profiles import examples
from tests.rules_factories import CLAIM_CODE, NOW, SERIAL, World, base

#: the unit's handlers (recipients are drawn from them), the operator, strangers
#: the base world's switch: format 2 and rule set 2 from its genesis (a log created today)
NEW = Switch(0, 0)
ACTORS = ["acme", "ship-co", "shop", "operator", "insp", "other-brand"]
KINDS = ["handoff", "receive", "sell", "deliver", "return", "inspect", "recall", "flag", "claim"]
#: (kind, who signs: None for the one the unit's state calls for, recipient)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.one_of(st.none(), st.sampled_from(ACTORS)),
        st.sampled_from(ACTORS[:3]),
    ),
    max_size=16,
)


def _signer(world: World, kind: str, chosen: str | None) -> str:
    """``chosen``, else the actor the unit's state calls for (mostly accepted)."""
    if chosen is not None:
        return chosen
    unit = world.unit()
    if kind == "receive":
        return unit.pending or "acme"
    if kind == "claim":
        return "operator"
    return unit.custodian or "shop"


def _fields(kind: str, to: str) -> dict[str, Any]:
    if kind in ("handoff", "return"):
        return {"to": to}
    if kind == "inspect":
        return {"result": "pass"}
    if kind == "recall":
        return {"reason": "battery"}
    if kind == "flag":
        return {"reason": "odd"}
    if kind == "claim":
        return {"code": CLAIM_CODE}
    return {}


def chain_of(world: World) -> list[tuple[int, Leaf]]:
    """The unit's entries in the world's log, as proven leaves."""
    return [
        (i, Leaf.build(signed, NOW))
        for i, signed in enumerate(world.log)
        if getattr(getattr(signed.event, "unit", None), "serial", None) == SERIAL
    ]


@given(STEPS)
@settings(max_examples=examples(100), deadline=None)
def test_the_clients_replay_is_the_logs(steps: list[tuple[str, str | None, str]]) -> None:
    world = base()
    for kind, chosen, to in steps:
        try:
            actor = _signer(world, kind, chosen)
            world.accept(world.on_unit(kind, actor, **_fields(kind, to)))
        except LedgerError:
            continue  # refused by the log: not in the chain
    chain = chain_of(world)
    facts = dict(world.state.actors)
    result = recompute(chain, facts, switch=NEW)
    assert result.unit == world.unit()
    events = [leaf.signed.event for _, leaf in chain]
    signers = {e.actor: facts[e.actor] for e in events}
    expected = judge(world.unit(), signers, [], "absent", [], [(e.actor, e.time) for e in events])
    assert (result.verdict, result.reasons) == expected
    never_raises = recompute(chain, {}, switch=NEW)
    assert never_raises.verdict in ("genuine", "caution", "invalid")


def test_a_refused_event_breaks_the_chain_and_a_foreign_commission_is_refused() -> None:
    world = base()
    world.log.append(world.on_unit("sell", "shop"))  # the shop never held it
    result = recompute(chain_of(world), dict(world.state.actors), switch=NEW)
    assert result.verdict == "invalid"
    assert [r.code for r in result.reasons] == [ReasonCode.CHAIN_BROKEN]
    assert result.reasons[0].evidence == {"index": len(world.log) - 1}

    other = base()
    unit = {"gtin": GTIN, "serial": "X-1"}
    signed = other.sign("commission", "other-brand", unit=unit, prev=None)
    chain = [(99, Leaf.build(signed, NOW))]
    refused = recompute(chain, dict(other.state.actors), switch=NEW)
    assert refused.verdict == "invalid" and "outside its GS1 prefixes" in refused.reasons[0].message


def test_served_facts_hints_and_the_disagreement_line() -> None:
    record = actor_record(
        {
            "id": "shop",
            "role": "retailer",
            "name": "Shop",
            "prefixes": [],
            "revoked_index": 7,
            "revoked_since": "not a time",
        }
    )
    assert record.revoked_index == 7 and record.revoked_since is None  # the stricter reading
    served = [
        {"code": "sold", "message": "sold", "evidence": {}},
        {"code": "many-scanners", "message": "many", "evidence": {"n": 3}},
        "garbage",
    ]
    assert hints(served) == [
        {"code": "many-scanners", "message": "many", "evidence": {"n": 3}, "hint": True}
    ]
    assert disagreement("genuine", "caution") == (
        "server said genuine, the proven chain says caution"
    )
    assert disagreement("caution", "genuine", hinted=True) is None
    assert disagreement("caution", "genuine") is not None
    assert (
        disagreement({"x": 1}, "caution") == "server said {'x': 1}, the proven chain says caution"
    )


def test_the_client_gives_the_servers_cautions_for_a_compromised_key() -> None:
    """With the signers' key records (as ``GET /v1/actors/{id}`` serves them), the
    client's verdict carries ``key-compromised`` as the server's does; a malformed key
    entry is left out, never trusted."""
    world = base()
    chain = chain_of(world)
    signed = chain[0][1].signed
    served = {
        "keys": [
            {
                "key_id": signed.key,
                "public_key": "unused-here",
                "added_index": 0,
                "removed_index": 9,
                "scope": [],
                "recovered_index": None,
                "effective": None,
                "compromised_since": "2000-01-01T00:00:00Z",
            },
            {"key_id": "broken"},
        ]
    }
    records = key_records(signed.event.actor, served)
    assert set(records) == {signed.key}
    plain = recompute(chain, dict(world.state.actors), switch=NEW)
    marked = recompute(chain, dict(world.state.actors), keys=records, switch=NEW)
    assert ReasonCode.KEY_COMPROMISED not in [r.code for r in plain.reasons]
    assert marked.verdict == "caution"
    assert ReasonCode.KEY_COMPROMISED in [r.code for r in marked.reasons]
