"""ledger.rules (+ registry, custody): the rule matrix, then a custody state machine.

Each rule has at least one accepted case and one refused case; a refusal asserts the
exact error class, its ``code`` and ``field``, and that the state did not change.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger import codec, crypto, rules
from ledger.codec import b64url_encode
from ledger.entry import SignedEvent
from ledger.errors import ConflictError, LedgerError, RuleError, ValidationError
from ledger.events import format_time, parse_time
from ledger.rules.state import ActorRecord, AuthorizationRecord, KeyRecord, ProductRecord, State
from ledger.service.claims import owner_hash
from tests.factories import GTIN, HASH, key, public_b64
from tests.profiles import examples
from tests.rules_factories import (
    BASE,
    CLAIM_CODE,
    NOW,
    PREFIX,
    SERIAL,
    TIME,
    WINDOW,
    World,
    base,
    claim_commitment,
    event_hash,
)

GTIN_2 = "09506000134376"  # under acme's prefix, not registered
GTIN_3 = "09506000134383"  # under acme's prefix, not registered
GTIN_OTHER = "09506001000014"  # under other-brand's prefix 9506001


def key_id(seed: int) -> str:
    return crypto.key_id(key(seed).public_key())


def refused(
    world: World, signed: SignedEvent, error: type[LedgerError], field: str, now: Any = NOW
) -> LedgerError:
    """Assert that the rules refuse ``signed`` with exactly ``error`` on ``field``."""
    before = world.state.records()
    with pytest.raises(LedgerError) as info:
        world.check(signed, now)
    assert type(info.value) is error
    assert info.value.code == error.code
    assert info.value.field == field
    assert world.state.records() == before
    return info.value


def codes_of_module() -> dict[str, type[RuleError]]:
    return {
        cls.code: cls
        for _, cls in inspect.getmembers(rules, inspect.isclass)
        if issubclass(cls, RuleError) and cls is not RuleError
    }


def test_every_rule_error_has_its_own_kebab_case_code() -> None:
    classes = [
        cls
        for _, cls in inspect.getmembers(rules, inspect.isclass)
        if issubclass(cls, RuleError) and cls is not RuleError
    ]
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes) >= 40
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", c) for c in codes)
    assert all(cls.status == 422 for cls in classes)


# --- genesis --------------------------------------------------------------------------


def test_format_and_rule_versions_are_read_from_the_log() -> None:
    """Issue 17 (tests/unit/test_logbind.py has the whole story): after a genesis naming
    format 2, an event that names no log is refused; an upgrade only goes forward."""
    world = World.genesis()  # format 2 and rule set 2 from entry 0, as a new log
    world.origin = None
    signed = world.sign("actor.register", "operator", subject="x", role="retailer", name="X",
                        keys=[public_b64(50)])  # fmt: skip
    refused(world, signed, rules.FormatRetiredError, "v")
    world.origin = "test.example/log"
    upgrade = world.sign("log.upgrade", "operator", format=2, rules=2)
    refused(world, upgrade, rules.UpgradeError, "format")


def test_genesis_registers_the_operator_and_its_keys() -> None:
    world = World.genesis()
    assert world.state.actors["operator"] == ActorRecord(
        "operator", "operator", "Registry", (), 0, log_format=2, log_rules=2, log_since=0
    )
    assert world.state.keys[key_id(1)] == KeyRecord(key_id(1), "operator", public_b64(1), 0)
    assert rules.signing_key(State(), world.log[0], 0) == public_b64(1)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"role": "brand", "prefixes": [PREFIX]}, "role"),
        ({"subject": "someone"}, "subject"),
    ],
)
def test_genesis_must_be_the_operator_registering_itself(
    fields: dict[str, Any], field: str
) -> None:
    data = {"subject": "operator", "role": "operator", "name": "R", "keys": [public_b64(1)]}
    signed = World().sign("actor.register", "operator", **{**data, **fields})
    refused(World(), signed, rules.GenesisError, field)


def test_genesis_must_be_an_actor_register() -> None:
    signed = World().sign("product.register", "operator", gtin=GTIN, name="x")
    refused(World(), signed, rules.GenesisError, "kind")


def test_genesis_must_be_signed_by_a_key_it_lists() -> None:
    data = {"subject": "operator", "role": "operator", "name": "R", "keys": [public_b64(1)]}
    signed = World().sign("actor.register", "operator", seed=9, **data)
    refused(World(), signed, rules.GenesisError, "key")
    with pytest.raises(rules.GenesisError):
        rules.signing_key(State(), signed, 0)


def test_genesis_operator_carries_no_prefixes() -> None:
    data = {"subject": "operator", "role": "operator", "name": "R", "keys": [public_b64(1)]}
    signed = World().sign("actor.register", "operator", prefixes=[PREFIX], **data)
    refused(World(), signed, rules.BrandPrefixesError, "prefixes")


def test_operator_self_registration_after_index_0_is_refused() -> None:
    world = base()
    data = {"subject": "op2", "role": "operator", "name": "Op 2", "keys": [public_b64(20)]}
    world.seeds["op2"] = 20
    refused(world, world.sign("actor.register", "op2", **data), rules.GenesisError, "subject")
    again = {**data, "subject": "operator", "keys": [public_b64(21)]}
    refused(world, world.sign("actor.register", "operator", **again), rules.GenesisError, "subject")


def test_negative_index_and_naive_clock_are_validation_errors() -> None:
    world = base()
    signed = world.sign("flag", "acme", unit={"gtin": GTIN, "serial": SERIAL}, prev=HASH, code="x")
    with pytest.raises(ValidationError) as info:
        rules.check(world.state, signed, -1, NOW)
    assert info.value.field == "index"
    with pytest.raises(ValidationError) as info:
        rules.check(world.state, signed, world.index, NOW.replace(tzinfo=None))
    assert info.value.field == "now"


# --- the signer and its key ---------------------------------------------------------------


def test_signing_key_is_the_signers_current_key() -> None:
    world = base()
    signed = world.sign("product.register", "acme", gtin=GTIN_2, name="x")
    assert rules.signing_key(world.state, signed, world.index) == public_b64(2)


def test_unknown_signer_is_refused() -> None:
    world = base()
    world.seeds["mallory"] = 30
    signed = world.sign("product.register", "mallory", gtin=GTIN_2, name="x")
    refused(world, signed, rules.UnknownActorError, "actor")


def test_revoked_signer_is_refused() -> None:
    world = base()
    world.do("actor.revoke", "operator", subject="acme", reason="licence lapsed")
    signed = world.sign("product.register", "acme", gtin=GTIN_2, name="x")
    refused(world, signed, rules.ActorRevokedError, "actor")
    with pytest.raises(rules.ActorRevokedError):
        rules.signing_key(world.state, signed, world.index)


def test_unknown_key_is_refused() -> None:
    world = base()
    signed = world.sign("product.register", "acme", seed=30, gtin=GTIN_2, name="x")
    refused(world, signed, rules.UnknownKeyError, "key")


def test_another_actors_key_is_refused() -> None:
    world = base()
    signed = world.sign("product.register", "acme", seed=4, gtin=GTIN_2, name="x")
    refused(world, signed, rules.ForeignKeyError, "key")


def test_removed_key_is_refused_and_the_new_one_signs() -> None:
    world = base()
    world.do("key.rotate", "acme", subject="acme", add=[public_b64(10)], remove=[key_id(2)])
    signed = world.sign("product.register", "acme", gtin=GTIN_2, name="x")
    refused(world, signed, rules.KeyRemovedError, "key")
    world.accept(world.sign("product.register", "acme", seed=10, gtin=GTIN_2, name="x"))
    assert GTIN_2 in world.state.products


# --- time -------------------------------------------------------------------------------


def test_event_time_may_be_up_to_five_minutes_ahead() -> None:
    world = base()
    signed = world.sign("product.register", "acme", gtin=GTIN_2, name="x")
    assert world.check(signed, NOW - timedelta(minutes=5))
    late_clock = NOW - timedelta(minutes=5, milliseconds=1)
    error = refused(world, signed, rules.FutureTimeError, "time", late_clock)
    assert error.status == 422


def test_event_time_may_be_up_to_72_hours_behind() -> None:
    world = base()
    signed = world.sign("product.register", "acme", gtin=GTIN_2, name="x")
    assert world.check(signed, NOW + timedelta(hours=72))
    refused(world, signed, rules.StaleTimeError, "time", NOW + timedelta(hours=72, milliseconds=1))


def test_an_expired_partner_cannot_backdate_into_its_old_window() -> None:
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    # ship-co's window ends at WINDOW["not_after"]; a week later it signs an event dated
    # an hour before the end.
    end = parse_time(WINDOW["not_after"])
    signed = world.on_unit("receive", "ship-co", time=format_time(end - timedelta(hours=1)))
    refused(world, signed, rules.StaleTimeError, "time", end + timedelta(days=7))


# --- actor.register --------------------------------------------------------------------------


def test_operator_registers_an_actor_with_its_keys() -> None:
    world = base()
    index = world.index
    data = {"keys": [public_b64(11), public_b64(12)], "documents": HASH}
    world.register("depot", "warehouse", 11, **data)
    assert world.state.actors["depot"] == ActorRecord("depot", "warehouse", "Depot", (), index)
    assert world.state.keys[key_id(12)] == KeyRecord(key_id(12), "depot", public_b64(12), index)


def test_only_an_operator_registers_actors() -> None:
    world = base()
    data = {"subject": "depot", "role": "warehouse", "name": "D", "keys": [public_b64(11)]}
    refused(world, world.sign("actor.register", "acme", **data), rules.NotOperatorError, "actor")


def test_an_operator_registers_another_operator() -> None:
    world = base()
    world.register("op2", "operator", 20)
    assert world.state.actors["op2"].role == "operator"


def test_actor_ids_are_never_reused() -> None:
    world = base()
    data = {"subject": "acme", "role": "brand", "name": "A", "keys": [public_b64(11)]}
    signed = world.sign("actor.register", "operator", prefixes=["9507"], **data)
    refused(world, signed, rules.ActorExistsError, "subject")


@pytest.mark.parametrize(("role", "prefixes"), [("brand", None), ("courier", ["9507"])])
def test_a_brand_and_only_a_brand_has_prefixes(role: str, prefixes: list[str] | None) -> None:
    world = base()
    data: dict[str, Any] = {"subject": "new", "role": role, "name": "N", "keys": [public_b64(11)]}
    if prefixes:
        data["prefixes"] = prefixes
    signed = world.sign("actor.register", "operator", **data)
    refused(world, signed, rules.BrandPrefixesError, "prefixes")


def test_a_key_registered_to_someone_is_refused() -> None:
    world = base()
    data = {"subject": "depot", "role": "warehouse", "name": "D"}
    keys = [public_b64(11), public_b64(4)]
    signed = world.sign("actor.register", "operator", keys=keys, **data)
    refused(world, signed, rules.KeyInUseError, "keys[1]")


# --- actor.revoke ----------------------------------------------------------------------------


def test_operator_revokes_an_actor_and_keeps_its_keys() -> None:
    world = base()
    index = world.index
    world.do("actor.revoke", "operator", subject="ship-co", reason="fraud")
    assert world.state.actors["ship-co"].revoked_index == index
    assert world.state.keys[key_id(4)].removed_index is None


def test_only_an_operator_revokes() -> None:
    world = base()
    signed = world.sign("actor.revoke", "acme", subject="ship-co", reason="x")
    refused(world, signed, rules.NotOperatorError, "actor")


def test_revoke_of_an_unknown_actor_is_refused() -> None:
    world = base()
    signed = world.sign("actor.revoke", "operator", subject="nobody", reason="x")
    refused(world, signed, rules.UnknownSubjectError, "subject")


def test_revoke_twice_is_refused() -> None:
    world = base()
    world.do("actor.revoke", "operator", subject="ship-co", reason="x")
    signed = world.sign("actor.revoke", "operator", subject="ship-co", reason="y")
    refused(world, signed, rules.AlreadyRevokedError, "subject")


def test_the_last_operator_cannot_revoke_itself() -> None:
    world = base()
    signed = world.sign("actor.revoke", "operator", subject="operator", reason="x")
    refused(world, signed, rules.CannotRevokeOperatorError, "subject")
    world.register("op2", "operator", 20)
    world.do("actor.revoke", "op2", subject="operator", reason="handover")
    signed = world.sign("actor.revoke", "op2", subject="op2", reason="x")
    refused(world, signed, rules.CannotRevokeOperatorError, "subject")


# --- key.rotate --------------------------------------------------------------------------------


def test_actor_rotates_its_own_keys() -> None:
    world = base()
    index = world.index
    records = world.do(
        "key.rotate", "acme", subject="acme", add=[public_b64(10)], remove=[key_id(2)]
    )
    assert records == [
        replace(world.state.keys[key_id(2)], removed_index=index),
        KeyRecord(key_id(10), "acme", public_b64(10), index),
    ]


def test_only_the_subject_rotates() -> None:
    # an operator's rotation of another actor: tests/unit/test_rules_keys.py
    world = base()
    signed = world.sign("key.rotate", "shop", subject="acme", add=[public_b64(10)], remove=[])
    refused(world, signed, rules.NotSubjectError, "actor")


def test_rotation_of_an_unknown_or_revoked_subject_is_refused() -> None:
    world = base()
    signed = world.sign("key.rotate", "operator", subject="nobody", add=[public_b64(10)], remove=[])
    refused(world, signed, rules.UnknownSubjectError, "subject")
    world.do("actor.revoke", "operator", subject="ship-co", reason="x")
    signed = world.sign(
        "key.rotate", "operator", subject="ship-co", add=[public_b64(10)], remove=[]
    )
    refused(world, signed, rules.ActorRevokedError, "subject")


def test_an_empty_rotation_is_refused() -> None:
    world = base()
    signed = world.sign("key.rotate", "acme", subject="acme", add=[], remove=[])
    refused(world, signed, rules.EmptyRotationError, "add")


@pytest.mark.parametrize(
    ("remove", "error"),
    [
        ("A" * 22, rules.UnknownKeyError),
        (key_id(4), rules.ForeignKeyError),
        (key_id(2), rules.KeyRemovedError),
    ],
)
def test_removed_ids_must_be_current_keys_of_the_subject(
    remove: str, error: type[RuleError]
) -> None:
    world = base()
    world.do("key.rotate", "acme", subject="acme", add=[public_b64(10)], remove=[key_id(2)])
    signed = world.sign("key.rotate", "acme", seed=10, subject="acme", add=[], remove=[remove])
    refused(world, signed, error, "remove[0]")


def test_added_keys_must_be_new_even_if_removed() -> None:
    world = base()
    world.do("key.rotate", "acme", subject="acme", add=[public_b64(10)], remove=[key_id(2)])
    signed = world.sign(
        "key.rotate", "acme", seed=10, subject="acme", add=[public_b64(2)], remove=[]
    )
    refused(world, signed, rules.KeyInUseError, "add[0]")


def test_an_actor_keeps_at_least_one_key() -> None:
    world = base()
    signed = world.sign("key.rotate", "acme", subject="acme", add=[], remove=[key_id(2)])
    refused(world, signed, rules.LastKeyError, "remove")


# --- authorize -----------------------------------------------------------------------------------


def test_brand_authorizes_a_partner() -> None:
    world = base()
    world.register("ship-2", "courier", 13)
    index = world.index
    auth_id = world.authorize("ship-2", "courier", prefixes=[PREFIX + "1"])
    assert auth_id == event_hash(world.log[-1])
    assert world.state.authorizations[auth_id] == AuthorizationRecord(
        auth_id, "acme", "ship-2", "courier", (GTIN,), (PREFIX + "1",), *WINDOW.values(), index
    )
    assert world.state.authorizations_of("ship-2") == (world.state.authorizations[auth_id],)


def test_a_partners_authorizations_follow_every_change() -> None:
    # `State.authorizations_of` keeps its answer per partner until one of that
    # partner's records is applied: a revocation, or an older grant loaded later
    state = State()

    def grant(auth_id: str, index: int, revoked: int | None = None) -> AuthorizationRecord:
        return AuthorizationRecord(
            auth_id, "acme", "ship-2", "courier", (GTIN,), (), *WINDOW.values(), index, revoked
        )

    state.apply([grant("b", 9)])
    assert state.authorizations_of("ship-2") == (grant("b", 9),)
    state.apply([grant("b", 9, revoked=12)])
    assert state.authorizations_of("ship-2") == (grant("b", 9, revoked=12),)
    state.apply([grant("a", 3)])
    assert state.authorizations_of("ship-2") == (grant("a", 3), grant("b", 9, revoked=12))
    assert state.authorizations_of("nobody") == ()
    # a record that names another partner (no rule writes one) leaves the first's list
    moved = AuthorizationRecord("a", "acme", "shop", "retailer", (GTIN,), (), *WINDOW.values(), 3)
    state.apply([moved])
    assert state.authorizations_of("ship-2") == (grant("b", 9, revoked=12),)
    assert state.authorizations_of("shop") == (moved,)
    state.apply([grant("a", 3)])
    # the kept answers are not part of what a state is
    fresh = State()
    fresh.apply([grant("a", 3), grant("b", 9, revoked=12)])
    assert fresh == state


def _authorize(world: World, actor: str = "acme", **fields: Any) -> SignedEvent:
    data = {"partner": "ship-co", "role": "courier", "gtins": [GTIN], "prefixes": [], **WINDOW}
    return world.sign("authorize", actor, **{**data, **fields})


@pytest.mark.parametrize(
    ("actor", "fields", "error", "field"),
    [
        ("ship-co", {"partner": "shop", "role": "retailer"}, rules.NotBrandError, "actor"),
        ("acme", {"partner": "nobody"}, rules.UnknownPartnerError, "partner"),
        ("acme", {"role": "retailer"}, rules.RoleMismatchError, "role"),
        ("acme", {"gtins": [], "prefixes": []}, rules.EmptyScopeError, "gtins"),
        ("acme", {"gtins": [GTIN, GTIN_2]}, rules.UnknownProductError, "gtins[1]"),
        ("acme", {"gtins": [GTIN_OTHER]}, rules.NotProductOwnerError, "gtins[0]"),
        ("acme", {"prefixes": ["9506001"]}, rules.NotUnderPrefixError, "prefixes[0]"),
        ("acme", {"prefixes": ["950600"]}, rules.NotUnderPrefixError, "prefixes[0]"),
        ("acme", {"not_after": WINDOW["not_before"]}, rules.BadWindowError, "not_after"),
    ],
)
def test_authorize_refusals(
    actor: str, fields: dict[str, Any], error: type[RuleError], field: str
) -> None:
    world = base()
    world.do("product.register", "other-brand", gtin=GTIN_OTHER, name="Other")
    refused(world, _authorize(world, actor, **fields), error, field)


def test_a_revoked_partner_cannot_be_authorized() -> None:
    world = base()
    world.do("actor.revoke", "operator", subject="ship-co", reason="x")
    refused(world, _authorize(world), rules.UnknownPartnerError, "partner")


def test_the_same_authorize_event_twice_is_refused() -> None:
    world = base()
    signed = next(s for s in world.log if event_hash(s) == world.auths["ship-co"])
    refused(world, signed, rules.AuthorizationExistsError, "event")


# --- authorization.revoke --------------------------------------------------------------------


def test_brand_revokes_its_authorization() -> None:
    world = base()
    index = world.index
    auth_id = world.auths["ship-co"]
    world.do("authorization.revoke", "acme", authorization=auth_id, reason="ended")
    auth = world.state.authorizations[auth_id]
    assert (auth.revoked_index, auth.revoked_at) == (index, TIME)


def test_authorization_revoke_refusals() -> None:
    world = base()
    auth_id = world.auths["ship-co"]
    signed = world.sign("authorization.revoke", "ship-co", authorization=auth_id)
    refused(world, signed, rules.NotBrandError, "actor")
    signed = world.sign("authorization.revoke", "acme", authorization=HASH)
    refused(world, signed, rules.UnknownAuthorizationError, "authorization")
    signed = world.sign("authorization.revoke", "other-brand", authorization=auth_id)
    refused(world, signed, rules.NotAuthorizationOwnerError, "authorization")
    world.do("authorization.revoke", "acme", authorization=auth_id)
    signed = world.sign("authorization.revoke", "acme", authorization=auth_id, reason="again")
    refused(world, signed, rules.AlreadyRevokedError, "authorization")


# --- product.register ------------------------------------------------------------------------


def test_brand_registers_a_gtin_under_its_prefix() -> None:
    world = base()
    index = world.index
    world.do("product.register", "acme", gtin=GTIN_2, name="Boot")
    assert world.state.products[GTIN_2] == ProductRecord(GTIN_2, "acme", "Boot", index)


def test_a_brand_signs_its_products_chinese_name_and_support_contact() -> None:
    world = base()
    index = world.index
    fields = {"name_zh": "靴子", "support": "+86 400 800 1234", "image": HASH}
    world.do("product.register", "acme", gtin=GTIN_2, name="Boot", **fields)
    assert world.state.products[GTIN_2] == ProductRecord(GTIN_2, "acme", "Boot", index, **fields)
    for bad in ({"support": ""}, {"support": "a\nb"}, {"image": "not-a-hash"}, {"names": {}}):
        with pytest.raises(ValidationError):
            world.sign("product.register", "acme", gtin=GTIN_2, name="Boot", **bad)


@pytest.mark.parametrize(
    ("actor", "gtin", "error"),
    [
        ("ship-co", GTIN_2, rules.NotBrandError),
        ("acme", GTIN_OTHER, rules.NotUnderPrefixError),
    ],
)
def test_product_register_refusals(actor: str, gtin: str, error: type[RuleError]) -> None:
    world = base()
    signed = world.sign("product.register", actor, gtin=gtin, name="x")
    refused(world, signed, error, "actor" if error is rules.NotBrandError else "gtin")


def test_the_brand_updates_its_product_and_no_other_brand_may() -> None:
    world = base()
    index = world.index
    world.do("product.register", "acme", gtin=GTIN, name="Runner 2", image=HASH, support="400")
    assert world.state.products[GTIN] == ProductRecord(
        GTIN, "acme", "Runner 2", index, image=HASH, support="400"
    )
    # a GTIN another brand registered (prefixes overlapped under rule set 1) stays its own
    world.state.products[GTIN_2] = ProductRecord(GTIN_2, "other-brand", "Theirs", 0)
    signed = world.sign("product.register", "acme", gtin=GTIN_2, name="Mine")
    refused(world, signed, rules.ProductExistsError, "gtin")


# --- commission ---------------------------------------------------------------------------------


def test_commission_creates_the_unit_held_by_its_brand() -> None:
    world = base()
    signed = world.sign(
        "commission",
        "acme",
        unit={"gtin": GTIN, "serial": "SN-2"},
        prev=None,
        lot="L1",
        expiry="271231",
        claim=claim_commitment(),
    )
    index = world.index
    world.accept(signed)
    unit = world.unit("SN-2")
    assert (unit.brand, unit.custodian, unit.head, unit.head_index, unit.length) == (
        "acme",
        "acme",
        event_hash(signed),
        index,
        1,
    )
    assert (unit.commissioned_index, unit.lot, unit.expiry) == (index, "L1", "271231")
    assert (unit.claim_salt, unit.claim_hash) == tuple(claim_commitment().values())
    assert unit.state == "in_stock"


@pytest.mark.parametrize(
    ("actor", "gtin", "serial", "error", "field"),
    [
        ("acme", GTIN_3, "SN-2", rules.UnknownProductError, "unit.gtin"),
        ("other-brand", GTIN, "SN-2", rules.NotProductOwnerError, "unit.gtin"),
        ("acme", GTIN, SERIAL, rules.UnitExistsError, "unit"),
    ],
)
def test_commission_refusals(
    actor: str, gtin: str, serial: str, error: type[RuleError], field: str
) -> None:
    world = base()
    signed = world.sign("commission", actor, unit={"gtin": gtin, "serial": serial}, prev=None)
    refused(world, signed, error, field)


# --- every unit event -------------------------------------------------------------------------


def test_a_unit_event_advances_the_head() -> None:
    world = base()
    signed = world.on_unit("handoff", "acme", to="ship-co")
    index = world.index
    world.accept(signed)
    unit = world.unit()
    assert (unit.head, unit.head_index, unit.length) == (event_hash(signed), index, 2)


def test_an_unknown_unit_is_refused() -> None:
    world = base()
    signed = world.sign("flag", "acme", unit={"gtin": GTIN, "serial": "NOPE"}, prev=HASH, code="x")
    refused(world, signed, rules.UnknownUnitError, "unit")


def test_a_stale_prev_is_a_conflict() -> None:
    world = base()
    head = world.unit().head
    unit = {"gtin": GTIN, "serial": SERIAL}
    signed = world.sign("handoff", "acme", unit=unit, prev=HASH, to="ship-co")
    error = refused(world, signed, ConflictError, "prev")
    assert error.status == 409
    assert head in error.message
    assert HASH in error.message


UNIT_EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "handoff": ("acme", {"to": "ship-co"}),
    "receive": ("acme", {}),
    "inspect": ("insp", {"result": "pass"}),
    "sell": ("acme", {}),
    "deliver": ("acme", {}),
    "claim": ("operator", {"code": CLAIM_CODE}),
    "return": ("acme", {"to": "acme"}),
    "recall": ("acme", {"reason": "x"}),
    "flag": ("acme", {"code": "x"}),
    "decommission": ("acme", {"reason": "x"}),
}


@pytest.mark.parametrize("kind", sorted(UNIT_EVENTS))
def test_nothing_follows_decommission(kind: str) -> None:
    world = base()
    world.unit_do("decommission", "acme", reason="destroyed")
    actor, fields = UNIT_EVENTS[kind]
    refused(world, world.on_unit(kind, actor, **fields), rules.DecommissionedError, "unit")


# --- custody authorization -------------------------------------------------------------------


def _with_courier(not_before: str, not_after: str) -> World:
    """acme authorizes a new courier ship-2 for [not_before, not_after] and hands off."""
    world = base()
    world.register("ship-2", "courier", 13)
    world.authorize("ship-2", "courier", not_before=not_before, not_after=not_after)
    world.unit_do("handoff", "acme", to="ship-2")
    return world


@pytest.mark.parametrize(
    ("time", "ok"),
    [
        ("2026-11-28T11:59:59.999Z", False),
        ("2026-11-28T12:00:00.000Z", True),
        ("2026-11-28T13:00:00.000Z", True),
        ("2026-11-28T13:00:00.001Z", False),
    ],
)
def test_authorization_window_holds_the_event_time(time: str, ok: bool) -> None:
    world = _with_courier("2026-11-28T12:00:00Z", "2026-11-28T13:00:00Z")
    signed = world.on_unit("receive", "ship-2", time=time)
    now = signed.event.at
    if ok:
        world.accept(signed, now)
        assert world.unit().custodian == "ship-2"
    else:
        refused(world, signed, rules.NotAuthorizedError, "actor", now)


def test_a_partner_without_authorization_is_refused() -> None:
    world = base()
    world.register("ship-2", "courier", 13)
    world.unit_do("handoff", "acme", to="ship-2")
    refused(world, world.on_unit("receive", "ship-2"), rules.NotAuthorizedError, "actor")


def test_a_revoked_authorization_is_refused_even_for_an_earlier_event_time() -> None:
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    later = "2026-11-28T12:30:00Z"
    world.accept(
        world.sign(
            "authorization.revoke", "acme", authorization=world.auths["ship-co"], time=later
        ),
        now=NOW + timedelta(hours=1),
    )
    signed = world.on_unit("receive", "ship-co")  # event time 12:00, before the revocation
    refused(world, signed, rules.NotAuthorizedError, "actor")


def test_an_authorization_from_another_brand_does_not_count() -> None:
    world = base()
    world.register("ship-2", "courier", 13)
    world.authorize("ship-2", "courier", brand="other-brand", gtins=[], prefixes=["9506001"])
    world.unit_do("handoff", "acme", to="ship-2")
    refused(world, world.on_unit("receive", "ship-2"), rules.NotAuthorizedError, "actor")


def test_a_prefix_authorization_covers_the_gtin() -> None:
    world = base()  # shop is authorized by prefix only
    world.unit_do("handoff", "acme", to="shop")
    assert world.unit_do("receive", "shop").custodian == "shop"


def test_selling_needs_a_retailer_authorization() -> None:
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    world.unit_do("receive", "ship-co")
    refused(world, world.on_unit("sell", "ship-co"), rules.NotAuthorizedError, "actor")


@pytest.mark.parametrize(("actor", "ok"), [("insp", True), ("customs", True), ("ship-co", False)])
def test_inspecting_a_unit_one_does_not_hold_needs_inspector_or_customs(
    actor: str, ok: bool
) -> None:
    world = base()
    signed = world.on_unit("inspect", actor, result="fail", note="seal broken")
    if ok:
        before = world.unit()
        after = world.unit_do("inspect", actor, result="fail", note="seal broken")
        assert replace_head(before, after) == after
    else:
        refused(world, signed, rules.NotAuthorizedError, "actor")


def test_the_custodian_inspects_with_any_role() -> None:
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    world.unit_do("receive", "ship-co")
    assert world.unit_do("inspect", "ship-co", result="pass").custodian == "ship-co"


def replace_head(before: Any, after: Any) -> Any:
    """``before`` with ``after``'s head fields: what an event that changes nothing else does."""
    return replace(before, head=after.head, head_index=after.head_index, length=after.length)


# --- handoff and receive ---------------------------------------------------------------------


def test_handoff_then_receive_moves_custody() -> None:
    world = base()
    unit = world.unit_do("handoff", "acme", to="ship-co")
    assert (unit.custodian, unit.pending, unit.state) == ("acme", "ship-co", "in_transit")
    unit = world.unit_do("receive", "ship-co")
    assert (unit.custodian, unit.pending) == ("ship-co", None)


@pytest.mark.parametrize(
    ("actor", "to", "error", "field"),
    [
        ("ship-co", "shop", rules.NotCustodianError, "actor"),
        ("acme", "nobody", rules.UnknownRecipientError, "to"),
        ("acme", "acme", rules.SelfHandoffError, "to"),
    ],
)
def test_handoff_refusals(actor: str, to: str, error: type[RuleError], field: str) -> None:
    world = base()
    refused(world, world.on_unit("handoff", actor, to=to), error, field)


def test_handoff_to_a_revoked_actor_is_refused() -> None:
    world = base()
    world.do("actor.revoke", "operator", subject="shop", reason="x")
    refused(world, world.on_unit("handoff", "acme", to="shop"), rules.UnknownRecipientError, "to")


def test_a_second_handoff_waits_for_the_receive() -> None:
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    signed = world.on_unit("handoff", "acme", to="shop")
    refused(world, signed, rules.TransferPendingError, "unit")


def test_only_the_named_recipient_receives() -> None:
    world = base()
    refused(world, world.on_unit("receive", "ship-co"), rules.NotRecipientError, "actor")
    world.unit_do("handoff", "acme", to="ship-co")
    refused(world, world.on_unit("receive", "shop"), rules.NotRecipientError, "actor")


# --- sell, deliver, claim ---------------------------------------------------------------------


def _at_shop(world: World) -> World:
    world.unit_do("handoff", "acme", to="shop")
    world.unit_do("receive", "shop")
    return world


def test_the_retailer_sells_then_delivers() -> None:
    world = _at_shop(base())
    assert world.unit_do("sell", "shop").sold
    unit = world.unit_do("deliver", "shop")
    assert (unit.delivered, unit.custodian, unit.state) == (True, None, "delivered")


def test_sell_refusals() -> None:
    world = base()
    refused(world, world.on_unit("sell", "shop"), rules.NotCustodianError, "actor")
    world.unit_do("handoff", "acme", to="shop")
    refused(world, world.on_unit("sell", "acme"), rules.TransferPendingError, "unit")
    world.unit_do("receive", "shop")
    world.unit_do("sell", "shop")
    refused(world, world.on_unit("sell", "shop"), rules.AlreadySoldError, "unit")


def test_a_claimed_unit_cannot_be_sold_again_even_after_a_return() -> None:
    world = base()
    world.unit_do("sell", "acme")
    world.unit_do("deliver", "acme")
    world.unit_do("claim", "operator", code=CLAIM_CODE)
    world.unit_do("return", "acme", to="acme")
    unit = world.unit_do("receive", "acme")
    assert (unit.sold, unit.claimed, unit.custodian) == (False, True, "acme")
    refused(world, world.on_unit("sell", "acme"), rules.AlreadyClaimedError, "unit")


def test_deliver_refusals() -> None:
    world = base()
    refused(world, world.on_unit("deliver", "acme"), rules.NotSoldError, "unit")
    world.unit_do("sell", "acme")
    refused(world, world.on_unit("deliver", "ship-co"), rules.NotCustodianError, "actor")
    world.unit_do("handoff", "acme", to="ship-co")
    refused(world, world.on_unit("deliver", "acme"), rules.TransferPendingError, "unit")
    world.unit_do("receive", "ship-co")
    assert world.unit_do("deliver", "ship-co").delivered


def test_the_operator_records_a_claim_with_the_right_code() -> None:
    world = base()
    assert world.unit_do("claim", "operator", code=CLAIM_CODE, owner=HASH).claimed
    signed = world.on_unit("claim", "operator", code=CLAIM_CODE)
    refused(world, signed, rules.AlreadyClaimedError, "unit")


def test_claim_refusals() -> None:
    world = base()
    signed = world.on_unit("claim", "acme", code=CLAIM_CODE)
    refused(world, signed, rules.NotOperatorError, "actor")
    signed = world.on_unit("claim", "operator", code="ABCD-EFGH-JKMN-PQRS-U")
    refused(world, signed, rules.BadClaimCodeError, "code")
    world.commission("SN-2")
    signed = world.on_unit("claim", "operator", "SN-2", code=CLAIM_CODE)
    refused(world, signed, rules.NoClaimCodeError, "unit")


def test_only_the_owners_token_marks_a_unit_used_up_and_then_only_warnings_follow() -> None:
    token = b64url_encode(bytes(range(16)))
    stranger = b64url_encode(bytes(16))
    world = base()
    signed = world.on_unit("consume", "operator", owner_token=token)
    refused(world, signed, rules.NotOwnerError, "unit")  # not claimed: there is no owner
    world.unit_do("claim", "operator", code=CLAIM_CODE, owner=owner_hash(token))
    signed = world.on_unit("consume", "acme", owner_token=token)
    refused(world, signed, rules.NotOperatorError, "actor")  # the brand is not the registry
    signed = world.on_unit("consume", "operator", owner_token=stranger)
    refused(world, signed, rules.NotOwnerError, "owner_token")  # the operator alone cannot
    unit = world.unit_do("consume", "operator", owner_token=token)
    assert unit.consumed_at is not None and unit.owner == owner_hash(token)
    for kind, fields in (
        ("sell", {}),
        ("claim", {"code": CLAIM_CODE}),
        ("consume", {"owner_token": token}),
    ):
        actor = "operator" if kind != "sell" else "acme"
        refused(world, world.on_unit(kind, actor, **fields), rules.ConsumedError, "unit")
    assert world.unit_do("recall", "acme", reason="refill ring").recalled


# --- return -------------------------------------------------------------------------------------


def test_the_custodian_returns_a_unit() -> None:
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    world.unit_do("receive", "ship-co")
    unit = world.unit_do("return", "ship-co", to="acme", reason="damaged")
    assert (unit.custodian, unit.pending) == ("ship-co", "acme")
    assert world.unit_do("receive", "acme").custodian == "acme"


def test_a_return_never_replaces_an_open_transfer() -> None:
    """A stuck transfer is not overwritten by a return (that silently replaced it): its
    recipient receives it (the brand authorizes it again if it must) and returns it."""
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    world.do("authorization.revoke", "acme", authorization=world.auths["ship-co"])
    refused(world, world.on_unit("receive", "ship-co"), rules.NotAuthorizedError, "actor")
    signed = world.on_unit("return", "acme", to="acme", reason="recipient lost access")
    refused(world, signed, rules.ReturnOverTransferError, "unit")
    world.authorize("ship-co", "courier", not_after="2035-01-01T00:00:00Z")
    world.unit_do("receive", "ship-co")
    assert world.unit_do("return", "ship-co", to="acme").pending == "acme"
    assert world.unit_do("receive", "acme").custodian == "acme"


@pytest.mark.parametrize("actor", ["shop", "acme"])
def test_a_delivered_unit_is_returned_by_a_retailer_or_the_brand(actor: str) -> None:
    world = _at_shop(base())
    world.unit_do("sell", "shop")
    world.unit_do("deliver", "shop")
    unit = world.unit_do("return", actor, to="shop", reason="wrong size")
    assert (unit.custodian, unit.pending, unit.sold, unit.delivered) == (None, "shop", False, False)
    unit = world.unit_do("receive", "shop")
    assert (unit.custodian, unit.pending) == ("shop", None)
    assert world.unit_do("sell", "shop").sold


def test_return_refusals() -> None:
    world = base()
    refused(world, world.on_unit("return", "shop", to="acme"), rules.NotCustodianError, "actor")
    refused(world, world.on_unit("return", "acme", to="nobody"), rules.NeverHeldError, "to")
    world.unit_do("handoff", "acme", to="ship-co")
    world.unit_do("receive", "ship-co")
    world.unit_do("handoff", "ship-co", to="acme")
    world.unit_do("receive", "acme")
    world.do("actor.revoke", "operator", subject="ship-co", reason="fraud")
    signed = world.on_unit("return", "acme", to="ship-co")  # held it, but is revoked
    refused(world, signed, rules.UnknownRecipientError, "to")
    world.unit_do("sell", "acme")
    world.unit_do("deliver", "acme")
    signed = world.on_unit("return", "shop", to="acme")  # a retailer, but not who sold it
    refused(world, signed, rules.NotRetailerOfRecordError, "actor")
    signed = world.on_unit("return", "acme", to="shop")  # shop never held it
    refused(world, signed, rules.NeverHeldError, "to")


# --- recall, flag, decommission ------------------------------------------------------------


@pytest.mark.parametrize("actor", ["acme", "operator"])
def test_brand_or_operator_recall_and_flag(actor: str) -> None:
    world = base()
    assert world.unit_do("recall", actor, reason="battery").recalled
    world.unit_do("flag", actor, code="suspected-counterfeit")
    assert world.unit_do("flag", actor, code="seen-twice").flags == 2


@pytest.mark.parametrize(("kind", "actor"), [("recall", "ship-co"), ("flag", "other-brand")])
def test_others_cannot_recall_or_flag(kind: str, actor: str) -> None:
    world = base()
    fields = {"reason": "x"} if kind == "recall" else {"code": "x"}
    refused(world, world.on_unit(kind, actor, **fields), rules.NotBrandOrOperatorError, "actor")


def test_brand_decommissions_even_while_pending() -> None:
    world = base()
    world.unit_do("handoff", "acme", to="ship-co")
    unit = world.unit_do("decommission", "acme", reason="destroyed")
    assert (unit.decommissioned, unit.pending, unit.state) == (True, None, "decommissioned")


def test_the_custodian_decommissions_others_cannot() -> None:
    world = base()
    signed = world.on_unit("decommission", "shop", reason="x")
    refused(world, signed, rules.NotCustodianError, "actor")
    world.unit_do("handoff", "acme", to="ship-co")
    world.unit_do("receive", "ship-co")
    assert world.unit_do("decommission", "ship-co", reason="crushed").decommissioned


# --- containers (the full nesting rules: tests/unit/test_containers.py) ------------------------

_CARTON, _PALLET = "095060000000000015", "095060000000000022"


def test_a_unit_in_a_carton_is_not_packed_into_another() -> None:
    world = base()
    world.unit_do("pack", "acme", container=_CARTON)
    with pytest.raises(rules.AlreadyPackedError):
        world.check(world.on_unit("pack", "acme", container=_PALLET))


def test_a_carton_is_not_packed_into_itself() -> None:
    world = base()
    world.unit_do("pack", "acme", container=_CARTON)
    with pytest.raises(rules.ContainerCycleError):
        world.check(world.on_unit("pack", "acme", container=_CARTON, inner=_CARTON))


def test_nothing_is_unpacked_from_a_container_it_is_not_in() -> None:
    world = base()
    with pytest.raises(rules.NotInsideError):
        world.check(world.on_unit("unpack", "acme", container=_CARTON))


# --- purity and determinism --------------------------------------------------------------


def test_check_does_not_change_the_state() -> None:
    world = base()
    before = world.state.records()
    records = world.check(world.on_unit("handoff", "acme", to="ship-co"))
    assert records and world.state.records() == before


def test_replaying_the_log_rebuilds_the_state() -> None:
    state = State()
    for index, signed in enumerate(BASE.log):
        state.apply(rules.check(state, signed, index, NOW))
    assert state.records() == BASE.state.records()


def test_every_rule_error_is_provoked_by_this_file() -> None:
    # ... or by its sibling on keys (scopes, recovery, compromise, prefixes)
    here = Path(__file__)
    source = "".join(
        p.read_text(encoding="utf-8") for p in (here, *here.parent.glob("test_rules_keys*.py"))
    )
    missing = [
        cls.__name__ for cls in codes_of_module().values() if f"rules.{cls.__name__}" not in source
    ]
    assert missing == []


# --- the custody state machine (hypothesis) ---------------------------------------------------

SERIALS = (SERIAL, "SN-2", "SN-3")
ACTOR_IDS = ("acme", "ship-co", "shop", "insp", "customs", "operator", "other-brand")
#: "<likely>" resolves to the signer the kind usually needs, so deep states are reached
PICKS = (*ACTOR_IDS, *["<likely>"] * 8)
#: decommission ends a unit, so it is drawn rarely; the custody path is drawn often
KINDS = (*["handoff", "receive", "sell", "deliver", "return", "claim"] * 3, *UNIT_EVENTS)
RECIPIENTS = ("ship-co", "shop", "acme", *ACTOR_IDS)


def _machine_base() -> World:
    world = base()
    world.commission("SN-2", claim=claim_commitment())
    world.commission("SN-3")
    return world


MACHINE_BASE = _machine_base()


class CustodyMachine(RuleBasedStateMachine):
    """Random custody events on three units; invariants after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.world = MACHINE_BASE.copy()
        self.chains = {s: [self.world.unit(s).head] for s in SERIALS}

    def _pick(self, serial: str, kind: str, choice: str) -> str:
        if choice != "<likely>":
            return choice
        unit = self.world.unit(serial)
        likely = {
            "receive": unit.pending,
            "claim": "operator",
            "inspect": "insp",
            "recall": unit.brand,
            "flag": unit.brand,
            "return": unit.custodian or "shop",
        }
        return likely.get(kind, unit.custodian) or unit.brand

    @rule(
        serial=st.sampled_from(SERIALS),
        kind=st.sampled_from(KINDS),
        actor=st.sampled_from(PICKS),
        to=st.sampled_from(RECIPIENTS),
        stale=st.integers(0, 9),
        good_code=st.booleans(),
    )
    def act(self, serial: str, kind: str, actor: str, to: str, stale: int, good_code: bool) -> None:
        world, unit = self.world, self.world.unit(serial)
        fields = dict(UNIT_EVENTS[kind][1])
        if "to" in fields:
            fields["to"] = to
        if kind == "claim" and not good_code:
            fields["code"] = "WRONG-CODE-0000-0000"
        prev = HASH if stale == 0 else unit.head
        signed = world.sign(
            kind,
            self._pick(serial, kind, actor),
            unit={"gtin": GTIN, "serial": serial},
            prev=prev,
            **fields,
        )
        before = world.state.records()
        try:
            records = world.check(signed)
        except (RuleError, ConflictError):
            assert world.state.records() == before
            return
        assert prev == unit.head, "a stale prev was accepted"
        assert not unit.decommissioned, "an event followed decommission"
        assert not (kind == "sell" and (unit.sold or unit.claimed)), "sold twice"
        assert not (kind == "claim" and (unit.claimed or not good_code)), "bad claim accepted"
        world.state.apply(records)
        world.log.append(signed)
        self.chains[serial].append(event_hash(signed))

    @rule(partner=st.sampled_from(("ship-co", "shop", "insp", "customs")))
    def revoke_authorization(self, partner: str) -> None:
        auth_id = self.world.auths[partner]
        if self.world.state.authorizations[auth_id].revoked_index is None:
            self.world.do("authorization.revoke", "acme", authorization=auth_id)

    @invariant()
    def each_unit_has_one_head_at_the_end_of_its_chain(self) -> None:
        for serial in SERIALS:
            unit, chain = self.world.unit(serial), self.chains[serial]
            assert unit.head == chain[-1]
            assert unit.length == len(chain)
            assert codec.b64url_encode(self.world.log[unit.head_index].hash) == unit.head

    @invariant()
    def custody_flags_are_consistent(self) -> None:
        for serial in SERIALS:
            unit = self.world.unit(serial)
            assert not (unit.delivered and not unit.sold)
            assert not (unit.delivered and unit.custodian is not None)
            if unit.decommissioned:
                assert unit.pending is None
            else:  # held, or with a consumer, or on its way back from one
                assert unit.custodian or unit.delivered or unit.pending

    def teardown(self) -> None:
        state = State()
        for index, signed in enumerate(self.world.log):
            state.apply(rules.check(state, signed, index, NOW))
        assert state.records() == self.world.state.records()


CustodyMachine.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=40, deadline=None
)
TestCustodyMachine = CustodyMachine.TestCase
