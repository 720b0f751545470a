"""ledger.rules on keys: no one signs for another (issue 17).

Only the subject's own full key rotates its keys; an operator's ``key.recover`` waits
(the log's recovery wait, in log time) and any full key of the subject cancels it; a key
reported compromised keeps its ``compromised_since``; a scoped key signs only within its
scope; a GS1 prefix never overlaps another brand's. Every refusal asserts the exact
error class, code and field, and that the state did not change (`refused`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import rules
from ledger.entry import sign_event
from ledger.events import event_from_dict, format_time
from ledger.rules.state import KeyRecord
from tests.factories import GTIN, key, public_b64
from tests.profiles import examples
from tests.rules_factories import NOW, SERIAL, TIME, World, base
from tests.unit.test_rules import key_id, refused

WEEK = timedelta(days=7)
LATER = format_time(NOW + WEEK)
GTIN_2 = "09506000134376"  # under acme's prefix, not registered


def _commission(world: World, serial: str, seed: int | None = None, at: Any = NOW) -> Any:
    unit = {"gtin": GTIN, "serial": serial}
    signed = world.sign("commission", "acme", seed=seed, unit=unit, prev=None)
    return signed if at is None else world.accept(signed, at)


def _recover(world: World, seed: int = 30, effective: str = LATER) -> None:
    world.do("key.recover", "operator", subject="acme", key=public_b64(seed), effective=effective)


def _retime(
    world: World, kind: str, actor: str, at: Any, seed: int | None, f: dict[str, Any]
) -> Any:
    """Sign at ``at``: the event's own time, for a log clock far from the fixed NOW."""
    data = {"kind": kind, "actor": actor, "time": format_time(at), **f}
    return sign_event(
        event_from_dict(data), key(world.seeds[actor] if seed is None else seed), log=world.origin
    )


# --- 1. no one signs for another --------------------------------------------------------------


def test_an_operator_cannot_add_a_key_to_a_brand() -> None:
    world = base()
    signed = world.sign("key.rotate", "operator", subject="acme", add=[public_b64(40)], remove=[])
    refused(world, signed, rules.OperatorNotSubjectError, "actor")


def test_an_operator_cannot_remove_a_brands_key() -> None:
    world = base()
    world.do("key.rotate", "acme", subject="acme", add=[public_b64(10)], remove=[])
    signed = world.sign("key.rotate", "operator", subject="acme", add=[], remove=[key_id(2)])
    refused(world, signed, rules.OperatorNotSubjectError, "actor")


def test_so_an_operator_cannot_mint_as_a_brand() -> None:
    world = base()
    # its own key is not acme's, and it has no way to make it so
    forged = _commission(world, "SN-FORGED", seed=1, at=None)
    refused(world, forged, rules.ForeignKeyError, "key")
    # a fresh key it made up is no key of acme either
    forged = _commission(world, "SN-FORGED", seed=40, at=None)
    refused(world, forged, rules.UnknownKeyError, "key")


def test_the_subject_rotates_with_its_own_key() -> None:
    world = base()
    world.do("key.rotate", "acme", subject="acme", add=[public_b64(10)], remove=[key_id(2)])
    assert world.state.keys[key_id(10)].actor == "acme"
    assert world.state.keys[key_id(10)].scope == ()


# --- 2. recovery ------------------------------------------------------------------------------


def test_an_operator_recovers_a_key_that_takes_effect_after_the_wait() -> None:
    world = base()
    index = world.index
    _recover(world)
    assert world.state.keys[key_id(30)] == KeyRecord(
        key_id(30), "acme", public_b64(30), index, recovered_index=index, effective=LATER
    )
    early = _commission(world, "SN-EARLY", seed=30, at=None)
    refused(world, early, rules.KeyNotEffectiveError, "key")
    second = NOW + WEEK - timedelta(seconds=1)
    early = _retime(world, "commission", "acme", second, 30, {"unit": _u("SN-E"), "prev": None})
    refused(world, early, rules.KeyNotEffectiveError, "key", now=second)
    # at its effective log time the key is acme's (event time within the skew of the clock)
    retimed = _retime(
        world, "commission", "acme", NOW + WEEK, 30, {"unit": _u("SN-R"), "prev": None}
    )
    world.accept(retimed, NOW + WEEK)
    assert world.state.units[(GTIN, "SN-R")].brand == "acme"


def _u(serial: str) -> dict[str, str]:
    return {"gtin": GTIN, "serial": serial}


def test_a_recovery_sooner_than_the_wait_is_refused() -> None:
    world = base()
    soon = format_time(NOW + WEEK - timedelta(seconds=1))
    signed = world.sign(
        "key.recover", "operator", subject="acme", key=public_b64(30), effective=soon
    )
    refused(world, signed, rules.RecoveryTooSoonError, "effective")
    # log time counts, not the event's own time: a log clock later than the event pushes
    # the earliest effective time along with it
    signed = world.sign(
        "key.recover", "operator", subject="acme", key=public_b64(30), effective=LATER
    )
    refused(world, signed, rules.RecoveryTooSoonError, "effective", now=NOW + timedelta(minutes=1))


def test_recovery_of_an_unknown_or_revoked_actor_is_refused() -> None:
    world = base()
    signed = world.sign(
        "key.recover", "operator", subject="nobody", key=public_b64(30), effective=LATER
    )
    refused(world, signed, rules.UnknownSubjectError, "subject")
    world.do("actor.revoke", "operator", subject="ship-co", reason="x")
    signed = world.sign(
        "key.recover", "operator", subject="ship-co", key=public_b64(30), effective=LATER
    )
    refused(world, signed, rules.ActorRevokedError, "subject")


def test_only_an_operator_recovers_and_only_with_a_new_key() -> None:
    world = base()
    signed = world.sign("key.recover", "shop", subject="acme", key=public_b64(30), effective=LATER)
    refused(world, signed, rules.NotOperatorError, "actor")
    signed = world.sign(
        "key.recover", "operator", subject="acme", key=public_b64(5), effective=LATER
    )
    refused(world, signed, rules.KeyInUseError, "key")


def test_the_genesis_entry_sets_the_logs_recovery_wait() -> None:
    world = World()
    world.do(
        "actor.register",
        "operator",
        subject="operator",
        role="operator",
        name="Registry",
        keys=[public_b64(1)],
        recovery_wait=2 * 86_400,
    )
    world.register("acme", "brand", 2, prefixes=["9506000"])
    assert rules.recovery_wait(world.state) == timedelta(days=2)
    day = format_time(NOW + timedelta(days=1))
    signed = world.sign(
        "key.recover", "operator", subject="acme", key=public_b64(30), effective=day
    )
    refused(world, signed, rules.RecoveryTooSoonError, "effective")
    two = format_time(NOW + timedelta(days=2))
    world.do("key.recover", "operator", subject="acme", key=public_b64(30), effective=two)
    assert world.state.keys[key_id(30)].effective == two
    assert rules.recovery_wait(base().state) == rules.RECOVERY_WAIT == WEEK


def test_only_the_genesis_entry_sets_a_recovery_wait() -> None:
    world = base()
    data = {"subject": "x-co", "role": "courier", "name": "X", "keys": [public_b64(33)]}
    signed = world.sign("actor.register", "operator", recovery_wait=86_400, **data)
    refused(world, signed, rules.RecoveryWaitError, "recovery_wait")


def test_the_subject_cancels_a_pending_recovery() -> None:
    world = base()
    _recover(world)
    index = world.index
    world.do("key.recover.cancel", "acme", subject="acme", key=key_id(30), reason="not us")
    assert world.state.keys[key_id(30)].removed_index == index
    late = _retime(world, "commission", "acme", NOW + WEEK, 30, {"unit": _u("SN-L"), "prev": None})
    refused(world, late, rules.KeyRemovedError, "key", now=NOW + WEEK)
    again = world.sign("key.recover.cancel", "acme", subject="acme", key=key_id(30))
    refused(world, again, rules.RecoveryNotPendingError, "key")


@pytest.mark.parametrize(
    ("signer", "seed", "error", "field"),
    [
        ("shop", None, rules.NotSubjectError, "actor"),
        ("operator", None, rules.OperatorNotSubjectError, "actor"),
        ("acme", 5, rules.ForeignKeyError, "key"),  # shop's key, under acme's name
        ("acme", 30, rules.KeyNotEffectiveError, "key"),  # the recovered key itself
    ],
)
def test_a_cancellation_by_the_wrong_key_is_refused(
    signer: str, seed: int | None, error: type[rules.RuleError], field: str
) -> None:
    world = base()
    _recover(world)
    signed = world.sign("key.recover.cancel", signer, seed=seed, subject="acme", key=key_id(30))
    refused(world, signed, error, field)


def test_a_scoped_key_cannot_cancel_a_recovery() -> None:
    world = base()
    world.do(
        "key.rotate", "acme", subject="acme", add=[public_b64(20)], remove=[], scope=["console"]
    )
    _recover(world)
    signed = world.sign("key.recover.cancel", "acme", seed=20, subject="acme", key=key_id(30))
    refused(world, signed, rules.KeyOutOfScopeError, "key")


def test_a_cancellation_names_a_pending_recovery_of_the_subject() -> None:
    world = base()
    _recover(world)
    for named in (key_id(2), key_id(5), "A" * 22):  # acme's ordinary key, shop's key, none
        signed = world.sign("key.recover.cancel", "acme", subject="acme", key=named)
        refused(world, signed, rules.UnknownRecoveryError, "key")
    # once in effect it is acme's key: a cancellation is too late (key.rotate removes it)
    effective = NOW + WEEK
    late = _retime(
        world, "key.recover.cancel", "acme", effective, None, {"subject": "acme", "key": key_id(30)}
    )
    refused(world, late, rules.RecoveryNotPendingError, "key", now=effective)


@settings(max_examples=examples(40), deadline=None)
@given(offset=st.integers(min_value=-3600, max_value=3600), use=st.integers(-600, 600))
def test_recovery_wait_and_effect_hold_to_the_second(offset: int, use: int) -> None:
    world = base()
    effective = NOW + WEEK + timedelta(seconds=offset)
    signed = world.sign(
        "key.recover",
        "operator",
        subject="acme",
        key=public_b64(30),
        effective=format_time(effective),
    )
    if offset < 0:
        refused(world, signed, rules.RecoveryTooSoonError, "effective")
        return
    world.accept(signed)
    at = effective + timedelta(seconds=use)
    mint = _retime(world, "commission", "acme", at, 30, {"unit": _u("SN-P"), "prev": None})
    if use < 0:
        refused(world, mint, rules.KeyNotEffectiveError, "key", now=at)
    else:
        world.accept(mint, at)


# --- 3. compromise ----------------------------------------------------------------------------


def test_the_subject_reports_a_key_compromised_as_of_a_past_time() -> None:
    world = base()
    since = "2026-11-27T00:00:00Z"
    world.do(
        "key.rotate",
        "acme",
        subject="acme",
        add=[public_b64(10)],
        remove=[key_id(2)],
        compromised_since=since,
    )
    old = world.state.keys[key_id(2)]
    assert old.compromised_since == since and old.removed_index is not None
    assert world.state.keys[key_id(10)].compromised_since is None


def test_a_compromise_names_removed_keys_and_a_past_time() -> None:
    world = base()
    signed = world.sign(
        "key.rotate",
        "acme",
        subject="acme",
        add=[public_b64(10)],
        remove=[],
        compromised_since="2026-11-27T00:00:00Z",
    )
    refused(world, signed, rules.NothingCompromisedError, "compromised_since")
    signed = world.sign(
        "key.rotate",
        "acme",
        subject="acme",
        add=[public_b64(10)],
        remove=[key_id(2)],
        compromised_since="2026-11-28T12:00:01Z",
    )
    refused(world, signed, rules.CompromisedInFutureError, "compromised_since")
    # the report time itself is fine
    world.do(
        "key.rotate",
        "acme",
        subject="acme",
        add=[public_b64(10)],
        remove=[key_id(2)],
        compromised_since=TIME,
    )


# --- 4. scoped keys ---------------------------------------------------------------------------


def test_a_scoped_key_signs_within_its_scope_only() -> None:
    world = base()
    world.do("key.rotate", "acme", subject="acme", add=[public_b64(20)], remove=[], scope=["mint"])
    assert world.state.keys[key_id(20)].scope == ("mint",)
    _commission(world, "SN-SCOPED", seed=20)
    flag = world.sign("flag", "acme", seed=20, unit=_u(SERIAL), prev=world.unit().head, code="x")
    refused(world, flag, rules.KeyOutOfScopeError, "key")


@pytest.mark.parametrize("scope", [["mint"], ["console"], ["flag", "recall", "mint"]])
def test_a_scoped_key_never_rotates_keys(scope: list[str]) -> None:
    world = base()
    world.do("key.rotate", "acme", subject="acme", add=[public_b64(20)], remove=[], scope=scope)
    for fields in (
        {"add": [public_b64(21)], "remove": []},
        {"add": [], "remove": [key_id(2)]},
        {"add": [public_b64(21)], "remove": [], "scope": scope},
    ):
        signed = world.sign("key.rotate", "acme", seed=20, subject="acme", **fields)
        refused(world, signed, rules.KeyOutOfScopeError, "key")


def test_the_console_scope_authorizes_and_flags() -> None:
    world = base()
    world.do(
        "key.rotate", "acme", subject="acme", add=[public_b64(20)], remove=[], scope=["console"]
    )
    world.accept(world.sign("product.register", "acme", seed=20, gtin=GTIN_2, name="Runner"))
    head = world.unit().head
    world.accept(world.sign("flag", "acme", seed=20, unit=_u(SERIAL), prev=head, code="grey"))
    assert world.unit().flags == 1
    mint = _commission(world, "SN-C", seed=20, at=None)
    refused(world, mint, rules.KeyOutOfScopeError, "key")


def test_a_scope_applies_to_added_keys_and_full_keys_remain() -> None:
    world = base()
    signed = world.sign(
        "key.rotate", "acme", subject="acme", add=[], remove=[key_id(2)], scope=["mint"]
    )
    refused(world, signed, rules.NothingScopedError, "scope")
    # swapping the last full key for a scoped one would lock acme out of its own keys
    signed = world.sign(
        "key.rotate",
        "acme",
        subject="acme",
        add=[public_b64(20)],
        remove=[key_id(2)],
        scope=["mint"],
    )
    refused(world, signed, rules.LastKeyError, "remove")


def test_a_pending_recovered_key_is_no_full_key() -> None:
    world = base()
    _recover(world)
    signed = world.sign("key.rotate", "acme", subject="acme", add=[], remove=[key_id(2)])
    refused(world, signed, rules.LastKeyError, "remove")


# --- 5. GS1 prefixes unique across brands ------------------------------------------------------


@pytest.mark.parametrize("prefix", ["9506000", "95060001", "950600", "9506001234"])
def test_a_prefix_held_by_or_nested_with_another_brands_is_refused(prefix: str) -> None:
    world = base()
    data = {"subject": "copycat", "role": "brand", "name": "Acme", "keys": [public_b64(34)]}
    signed = world.sign("actor.register", "operator", prefixes=["9507000", prefix], **data)
    refused(world, signed, rules.PrefixTakenError, "prefixes[1]")


def test_a_revoked_brand_keeps_its_prefixes() -> None:
    world = base()
    world.do("actor.revoke", "operator", subject="other-brand", reason="x")
    data = {"subject": "heir", "role": "brand", "name": "Heir", "keys": [public_b64(34)]}
    signed = world.sign("actor.register", "operator", prefixes=["9506001"], **data)
    refused(world, signed, rules.PrefixTakenError, "prefixes[0]")


@settings(max_examples=examples(60), deadline=None)
@given(prefix=st.text("0123456789", min_size=4, max_size=12))
def test_a_new_prefix_is_accepted_exactly_when_it_nests_with_no_brands(prefix: str) -> None:
    world = base()
    held = ("9506000", "9506001")  # acme, other-brand
    data = {"subject": "newco", "role": "brand", "name": "New", "keys": [public_b64(34)]}
    signed = world.sign("actor.register", "operator", prefixes=[prefix], **data)
    if any(prefix.startswith(h) or h.startswith(prefix) for h in held):
        refused(world, signed, rules.PrefixTakenError, "prefixes[0]")
    else:
        world.accept(signed)
        assert world.state.actors["newco"].prefixes == (prefix,)


# --- look-alike brand names ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Acme", "ACME", "\u0410\u0441m\u0435", "\uff21\uff43\uff4d\uff45", " acme "]
)
def test_a_brand_named_like_another_brand_is_refused(name: str) -> None:
    world = base()
    data = {"subject": "copycat", "role": "brand", "name": name, "keys": [public_b64(34)]}
    signed = world.sign("actor.register", "operator", prefixes=["9507000"], **data)
    refused(world, signed, rules.LookalikeNameError, "name")


def test_distinct_names_and_non_brands_pass_and_rule_set_1_kept_look_alikes() -> None:
    world = base()
    data = {"subject": "acne", "role": "brand", "name": "Acne", "keys": [public_b64(34)]}
    world.accept(world.sign("actor.register", "operator", prefixes=["9507000"], **data))
    # a partner may bear a brand's name (a brand's own shop): only brands are compared
    shop = {"subject": "acme-shop", "role": "retailer", "name": "ACME", "keys": [public_b64(35)]}
    world.accept(world.sign("actor.register", "operator", **shop))
    old = World.base(rules=None)  # a log from before rule set 2 keeps what it accepted
    copy = {"subject": "copycat", "role": "brand", "name": "ACME", "keys": [public_b64(36)]}
    old.accept(old.sign("actor.register", "operator", prefixes=["9507000"], **copy))


@pytest.mark.parametrize("name", ["Ac\u200bme", "\u202eemcA", "Acme\u2060 Shop"])
@pytest.mark.parametrize("role", ["brand", "retailer"])
def test_a_name_with_characters_that_show_nothing_is_refused(name: str, role: str) -> None:
    world = base()
    data = {"subject": "hidden", "role": role, "name": name, "keys": [public_b64(34)]}
    prefixes = {"prefixes": ["9507000"]} if role == "brand" else {}
    refused(world, world.sign("actor.register", "operator", **prefixes, **data),
            rules.HiddenCharactersError, "name")  # fmt: skip
    old = World.base(rules=None)  # rule set 1 kept such names
    old.accept(old.sign("actor.register", "operator", **prefixes, **data))


# --- compromised_since is bounded -----------------------------------------------------------


def _compromise(world: World, since: str, seed: int = 2, remove: str = "", **extra: Any) -> Any:
    return world.sign(
        "key.rotate",
        "acme",
        seed=seed,
        subject="acme",
        add=[public_b64(11)],
        remove=[remove or key_id(2)],
        compromised_since=since,
        **extra,
    )


def test_a_compromise_reaches_back_thirty_days_and_no_further() -> None:
    world = base()
    limit = NOW - rules.MAX_COMPROMISE_BACKDATE
    refused(
        world,
        _compromise(world, format_time(limit - timedelta(seconds=1))),
        rules.CompromiseTooOldError,
        "compromised_since",
    )
    refused(
        world,
        _compromise(world, "2020-01-01T00:00:00Z"),
        rules.CompromiseTooOldError,
        "compromised_since",
    )
    world.accept(_compromise(world, format_time(limit)))  # exactly 30 days back: taken
    assert world.state.keys[key_id(2)].compromised_since == format_time(limit)


def test_a_recovered_key_is_never_compromised_before_it_took_effect() -> None:
    world = base()
    effective = NOW + timedelta(days=7)
    world.do(
        "key.recover",
        "operator",
        subject="acme",
        key=public_b64(12),
        effective=format_time(effective),
    )
    later = effective + timedelta(days=1)
    when = {"time": format_time(later)}
    before = _compromise(
        world, format_time(effective - timedelta(hours=1)), remove=key_id(12), **when
    )
    refused(world, before, rules.CompromiseTooOldError, "compromised_since", now=later)
    world.accept(_compromise(world, format_time(effective), remove=key_id(12), **when), later)


def test_a_rule_set_1_log_kept_its_old_compromise_reports() -> None:
    old = World.base(rules=None)
    old.accept(_compromise(old, "2020-01-01T00:00:00Z"))
