"""Events bound to their log, and format and rule versions by index (issue 17).

Format 2 (docs/FORMAT.md section 3): the signed message names the log's origin, so an
event signed for one log never verifies in another, nor as format 1. The log records,
signed, from which index format 2 and rule set 2 hold (a genesis naming them, or a
``log.upgrade``): an old log keeps replaying under rule set 1 up to its upgrade, and
the same entries are refused after it. The rules through `tests.rules_factories.World`,
exactly as the service and the audit run them.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, crypto, entry, rules
from ledger.entry import Leaf, SignedEvent, sign_event
from ledger.errors import LedgerError, SignatureError, ValidationError, WrongLogError
from ledger.events import event_from_dict
from tests.factories import key, public_b64
from tests.profiles import examples
from tests.rules_factories import NOW, PREFIX, SERIAL, TIME, World

LOG_A = "resolver.example/log/acme"
LOG_B = "resolver.example/log/other"
EVENT = {
    "kind": "product.register",
    "actor": "acme",
    "time": TIME,
    "gtin": "09506000134352",
    "name": "Acme Sneaker 42",
}


def _signed(log: str | None, event: dict[str, Any] = EVENT, seed: int = 2) -> SignedEvent:
    return sign_event(event_from_dict(event), key(seed), log=log)


# --- the message -------------------------------------------------------------------------------


def test_a_format_2_message_is_the_v2_domain_the_origin_and_the_event() -> None:
    signed = _signed(LOG_A)
    expected = b"provenance-ledger/v2 event\n" + LOG_A.encode() + b"\n" + signed.event_bytes
    assert (signed.v, signed.origin, signed.message) == (2, LOG_A, expected)
    crypto.verify(
        key(2).public_key(), crypto.DOMAIN_EVENT_V2, expected[27:], signed.sig
    )  # plain Ed25519 over exactly those bytes
    assert entry.event_hash(signed.event_bytes, 2, LOG_A) == signed.hash
    assert signed.to_dict()["v"] == 2


def test_a_format_1_event_is_as_it_always_was() -> None:
    signed = _signed(None)
    assert signed.v == 1 and "v" not in signed.to_dict()
    assert signed.message == crypto.DOMAIN_EVENT + signed.event_bytes
    assert signed.for_log(LOG_B) is signed  # it names no log


def test_an_event_signed_for_log_a_verifies_in_a_only() -> None:
    signed = _signed(LOG_A)
    entry.verify_event(signed, key(2).public_key())
    with pytest.raises(WrongLogError):
        signed.for_log(LOG_B)  # signed here, for another log: said so
    travelled = SignedEvent.from_dict(signed.to_dict())  # JSON carries no origin
    entry.verify_event(travelled.for_log(LOG_A), key(2).public_key())
    with pytest.raises(SignatureError):
        entry.verify_event(travelled.for_log(LOG_B), key(2).public_key())
    as_v1 = SignedEvent.from_dict({k: v for k, v in signed.to_dict().items() if k != "v"})
    with pytest.raises(SignatureError):
        entry.verify_event(as_v1, key(2).public_key())
    assert travelled.for_log(LOG_A).hash != travelled.for_log(LOG_B).hash != as_v1.hash


def test_a_format_2_event_has_no_hash_until_a_log_reads_it() -> None:
    travelled = SignedEvent.from_dict(_signed(LOG_A).to_dict())
    with pytest.raises(ValidationError) as info:
        _ = travelled.hash
    assert info.value.field == "v"


@pytest.mark.parametrize("v", [1, 3, True, "2", 2.0, None])
def test_v_is_2_or_absent(v: object) -> None:
    data = {**_signed(LOG_A).to_dict(), "v": v}
    with pytest.raises(ValidationError) as info:
        SignedEvent.from_dict(data)
    assert info.value.field == "v"


@pytest.mark.parametrize("origin", ["", "a b", "log\nforged", "é", "x" * 256])
def test_an_origin_must_be_one_printable_word(origin: str) -> None:
    with pytest.raises(ValidationError):
        _signed(origin)


def test_a_format_2_leaf_carries_v_and_reads_back_exactly() -> None:
    signed = _signed(LOG_A)
    leaf = Leaf.build(signed, NOW)
    as_object = {**signed.to_dict(), "received": "2026-11-28T12:00:00.000Z"}
    assert leaf.data == codec.canonical(as_object)
    back = Leaf.from_bytes(leaf.data, LOG_A)
    assert (back.signed.v, back.signed.hash, back.hash) == (2, signed.hash, leaf.hash)
    old = Leaf.build(_signed(None), NOW)
    assert b'"v"' not in old.data and Leaf.from_bytes(old.data).signed.v == 1


@settings(max_examples=examples(200), deadline=None)
@given(
    origin=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    other=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    name=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=50),
)
def test_a_v2_signature_never_verifies_under_another_origin_or_as_v1(
    origin: str, other: str, name: str
) -> None:
    signed = _signed(origin, {**EVENT, "name": name})
    public = key(2).public_key()
    entry.verify_event(signed, public)
    travelled = SignedEvent.from_dict(signed.to_dict())
    if other != origin:
        with pytest.raises(SignatureError):
            entry.verify_event(travelled.for_log(other), public)
    as_v1 = SignedEvent(signed.event, signed.event_bytes, signed.key, signed.sig)
    with pytest.raises(SignatureError):
        entry.verify_event(as_v1, public)


# --- the switch, recorded in the log -----------------------------------------------------------


def _refused(world: World, signed: SignedEvent, code: str) -> LedgerError:
    before = world.state.records()
    with pytest.raises(LedgerError) as info:
        world.check(signed)
    assert info.value.code == code
    assert world.state.records() == before
    return info.value


def test_a_new_log_takes_format_2_only_from_genesis() -> None:
    world = World.base(LOG_A, format=2)
    assert rules.log_versions(world.state, world.index) == (2, 2)
    assert all(s.v == 2 for s in world.log)
    old = sign_event(event_from_dict({**EVENT, "gtin": "09506000134369"}), key(2), log=None)
    error = _refused(world, old, "format-retired")
    assert error.field == "v"
    world.accept(world.sign("product.register", "acme", gtin="09506000134369", name="Boot"))


def test_a_genesis_naming_format_2_is_signed_in_it() -> None:
    world = World(origin=None)
    genesis = world.sign(
        "actor.register",
        "operator",
        subject="operator",
        role="operator",
        name="Registry",
        keys=[public_b64(1)],
        format=2,
        rules=2,
    )
    _refused(world, genesis, "format-retired")


def test_format_and_rules_are_named_by_genesis_alone() -> None:
    world = World.base(LOG_A)
    signed = world.sign(
        "actor.register",
        "operator",
        subject="late",
        role="retailer",
        name="Late",
        keys=[public_b64(30)],
        rules=2,
    )
    _refused(world, signed, "bad-upgrade")


def _old_log() -> World:
    """A log from before: format 1 and rule set 1 throughout (no versions at genesis)."""
    world = World.base(None, rules=None)
    world.register("shop-2", "retailer", 20)
    world.authorize("shop-2", "retailer")
    return world


def _old_rule_entries(world: World) -> list[SignedEvent]:
    """What rule set 1 let through and rule set 2 refuses: an operator rotates a brand's
    keys, a retailer that never held a delivered unit returns it to itself, a second
    brand registers a prefix nested in acme's."""
    return [
        world.sign("key.rotate", "operator", subject="acme", add=[public_b64(41)], remove=[]),
        world.on_unit("return", "shop-2", to="shop-2"),
        world.sign(
            "actor.register",
            "operator",
            subject="copycat",
            role="brand",
            name="Copycat",
            keys=[public_b64(42)],
            prefixes=[PREFIX + "1"],
        ),
    ]


def _deliver(world: World) -> None:
    world.unit_do("handoff", "acme", to="shop")
    world.unit_do("receive", "shop")
    world.unit_do("sell", "shop")
    world.unit_do("deliver", "shop")


def test_an_old_log_keeps_its_old_rules_until_its_upgrade() -> None:
    world = _old_log()
    assert rules.log_versions(world.state, world.index) == (1, 1)
    _deliver(world)
    for signed in _old_rule_entries(world):
        world.accept(signed)
    assert world.unit().custodian is None and world.unit().pending == "shop-2"
    assert "copycat" in world.state.actors
    upgrade = world.index
    world.do("log.upgrade", "operator", format=2, rules=2)
    assert rules.log_versions(world.state, upgrade) == (1, 1)
    assert rules.log_versions(world.state, upgrade + 1) == (2, 2)
    # the whole log, replayed from genesis through the rules, gives the same state
    replayed = World()
    for index, signed in enumerate(world.log):
        replayed.state.apply(rules.check(replayed.state, signed, index, NOW))
    assert replayed.state.records() == world.state.records()


def test_after_the_upgrade_the_same_entries_are_refused() -> None:
    world = _old_log()
    _deliver(world)
    world.do("log.upgrade", "operator", format=2, rules=2)
    world.origin = LOG_A  # signers now name the log
    expected = ["operator-not-subject", "not-retailer-of-record", "prefix-taken"]
    for signed, code in zip(_old_rule_entries(world), expected, strict=True):
        _refused(world, signed, code)
    world.origin = None  # and format 1 is refused before any rule is asked
    for signed in _old_rule_entries(world):
        _refused(world, signed, "format-retired")


def test_an_upgrade_goes_forward_once_and_only_an_operator_signs_it() -> None:
    world = _old_log()
    _refused(world, world.sign("log.upgrade", "acme", format=2, rules=2), "not-operator")
    _refused(world, world.sign("log.upgrade", "operator", format=1, rules=2), "bad-upgrade")
    world.do("log.upgrade", "operator", format=2, rules=2)
    world.origin = LOG_A
    _refused(world, world.sign("log.upgrade", "operator", format=2, rules=2), "bad-upgrade")


def test_before_the_switch_format_2_is_taken_too() -> None:
    """Signers that already name the log keep working on a log not yet upgraded."""
    world = _old_log()
    world.origin = LOG_A
    world.do("product.register", "acme", gtin="09506000134369", name="Boot")
    assert world.log[-1].v == 2


def test_a_unit_chain_links_format_2_hashes() -> None:
    world = World.base(LOG_A, format=2)
    commission = world.log[-1]
    world.unit_do("handoff", "acme", to="ship-co")
    prev = world.log[-1].event.to_dict()["prev"]
    assert prev == codec.b64url_encode(entry.event_hash(commission.event_bytes, 2, LOG_A))
    assert prev != codec.b64url_encode(entry.event_hash(commission.event_bytes))
    assert world.unit(SERIAL).head == codec.b64url_encode(world.log[-1].hash)
