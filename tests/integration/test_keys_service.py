"""Keys through the service and the store, on SQLite and PostgreSQL (issue 17).

What the rules decide (tests/unit/test_rules_keys.py) must survive the store: a scoped,
recovered or compromised key is written and read back with its fields, the append
refuses with nothing written, the audit replays the log to the same records, the actor
view shows pending recoveries, and the unit view marks what a recovered or compromised
key signed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger import crypto, rules
from ledger.entry import Leaf, SignedEvent, sign_event
from ledger.errors import RuleError
from ledger.events import event_from_dict, format_time
from ledger.rules.state import KeyRecord
from ledger.vocab import ReasonCode, Verdict
from tests.factories import GTIN, key, public_b64
from tests.integration.world import LedgerWorld, dump
from tests.rules_factories import NOW

WEEK = timedelta(days=7)


def key_id(seed: int) -> str:
    return crypto.key_id(key(seed).public_key())


def _signed(
    world: LedgerWorld, kind: str, actor: str, seed: int, at: datetime, **fields: Any
) -> SignedEvent:
    data = {"kind": kind, "actor": actor, "time": format_time(at), **fields}
    return sign_event(event_from_dict(data), key(seed), log=world.ledger.origin)


def _append(world: LedgerWorld, signed: SignedEvent, at: datetime = NOW) -> None:
    world.ledger.append(signed, at)
    world.world.accept(signed, at)


def _refused(world: LedgerWorld, signed: SignedEvent, code: str, at: datetime = NOW) -> None:
    before = dump(world.ledger)
    with pytest.raises(RuleError) as info:
        world.ledger.append(signed, at)
    assert info.value.code == code
    assert dump(world.ledger) == before


def _reasons(world: LedgerWorld, serial: str) -> tuple[str, dict[str, Any]]:
    view = world.ledger.unit_view(GTIN, serial)
    return view["verdict"], {r["code"]: r["evidence"] for r in view["reasons"]}


def _mint(world: LedgerWorld, serial: str, seed: int, at: datetime) -> SignedEvent:
    unit = {"gtin": GTIN, "serial": serial}
    return _signed(world, "commission", "acme", seed, at, unit=unit, prev=None)


def test_a_recovery_is_pending_then_marks_what_its_key_signs(world: LedgerWorld) -> None:
    effective = NOW + WEEK
    recover = _signed(
        world,
        "key.recover",
        "operator",
        1,
        NOW,
        subject="acme",
        key=public_b64(30),
        effective=format_time(effective),
    )
    _append(world, recover)
    actor = world.ledger.actor_view("acme")
    assert [r["key_id"] for r in actor["recoveries"]] == [key_id(30)]
    assert actor["recoveries"][0]["effective"] == format_time(effective)
    stored = world.ledger.state().keys[key_id(30)]
    assert stored == world.world.state.keys[key_id(30)]
    assert (stored.recovered_index, stored.effective) == (
        len(world.world.log) - 1,
        format_time(effective),
    )
    # before its time the key signs nothing; at its time (log time) it mints as acme
    early = effective - timedelta(minutes=1)
    _refused(world, _mint(world, "SN-EARLY", 30, early), "key-not-effective", early)
    _append(world, _mint(world, "SN-RECOVERED", 30, effective), effective)
    verdict, reasons = _reasons(world, "SN-RECOVERED")
    assert verdict == Verdict.CAUTION
    assert reasons[ReasonCode.RECOVERED_KEY] == {
        "keys": [key_id(30)],
        "effective": {key_id(30): format_time(effective)},
    }
    # 30 days on, what the key signs is no longer marked; what it signed stays marked
    later = effective + timedelta(days=30)
    _append(world, _mint(world, "SN-LATER", 30, later), later)
    assert _reasons(world, "SN-LATER")[0] == Verdict.GENUINE
    assert ReasonCode.RECOVERED_KEY in _reasons(world, "SN-RECOVERED")[1]
    assert _reasons(world, "SN-0001")[0] == Verdict.GENUINE  # acme's own key: untouched
    assert world.ledger.audit().ok


def test_a_cancelled_recovery_is_gone_and_its_key_dead(world: LedgerWorld) -> None:
    effective = NOW + WEEK
    recover = _signed(
        world,
        "key.recover",
        "operator",
        1,
        NOW,
        subject="acme",
        key=public_b64(31),
        effective=format_time(effective),
    )
    _append(world, recover)
    scoped = _signed(
        world,
        "key.rotate",
        "acme",
        2,
        NOW,
        subject="acme",
        add=[public_b64(32)],
        remove=[],
        scope=["console"],
    )
    _append(world, scoped)
    assert world.ledger.actor_view("acme")["keys"][-1]["scope"] == ["console"]
    by_scoped = _signed(
        world, "key.recover.cancel", "acme", 32, NOW, subject="acme", key=key_id(31)
    )
    _refused(world, by_scoped, "key-out-of-scope")
    by_operator = _signed(
        world, "key.recover.cancel", "operator", 1, NOW, subject="acme", key=key_id(31)
    )
    _refused(world, by_operator, "operator-not-subject")
    _append(
        world, _signed(world, "key.recover.cancel", "acme", 2, NOW, subject="acme", key=key_id(31))
    )
    assert world.ledger.actor_view("acme")["recoveries"] == []
    _refused(world, _mint(world, "SN-X", 31, effective), "key-removed", effective)
    assert world.ledger.audit().ok


def test_what_a_compromised_key_signed_after_the_report_time_is_a_caution(
    world: LedgerWorld,
) -> None:
    t1, t2 = NOW, NOW + timedelta(hours=2)
    _append(
        world,
        _signed(
            world, "key.rotate", "acme", 2, t1, subject="acme", add=[public_b64(33)], remove=[]
        ),
    )
    _append(world, _mint(world, "SN-BEFORE", 33, t1), t1)
    _append(world, _mint(world, "SN-AFTER", 33, t2), t2)
    since = t1 + timedelta(hours=1)
    report = _signed(
        world,
        "key.rotate",
        "acme",
        2,
        t2,
        subject="acme",
        add=[],
        remove=[key_id(33)],
        compromised_since=format_time(since),
    )
    _append(world, report, t2)
    assert world.ledger.state().keys[key_id(33)].compromised_since == format_time(since)
    verdict, reasons = _reasons(world, "SN-AFTER")
    assert verdict == Verdict.CAUTION
    assert reasons[ReasonCode.KEY_COMPROMISED]["keys"] == [key_id(33)]
    assert _reasons(world, "SN-BEFORE")[0] == Verdict.GENUINE
    assert world.ledger.audit().ok


def test_scoped_and_overlapping_prefix_refusals_write_nothing(world: LedgerWorld) -> None:
    _append(
        world,
        _signed(
            world,
            "key.rotate",
            "acme",
            2,
            NOW,
            subject="acme",
            add=[public_b64(34)],
            remove=[],
            scope=["mint"],
        ),
    )
    rotate = _signed(
        world, "key.rotate", "acme", 34, NOW, subject="acme", add=[public_b64(35)], remove=[]
    )
    _refused(world, rotate, "key-out-of-scope")
    for prefix in ("9506000", "95060001", "950600"):
        data = {
            "subject": f"copy-{prefix}",
            "role": "brand",
            "name": "Acme",
            "keys": [public_b64(36)],
        }
        register = _signed(world, "actor.register", "operator", 1, NOW, prefixes=[prefix], **data)
        _refused(world, register, "prefix-taken")
    operator_rotation = _signed(
        world, "key.rotate", "operator", 1, NOW, subject="acme", add=[public_b64(37)], remove=[]
    )
    _refused(world, operator_rotation, rules.OperatorNotSubjectError.code)
    assert isinstance(world.ledger.state().keys[key_id(34)], KeyRecord)
    assert world.ledger.state().keys[key_id(34)].scope == ("mint",)


def test_a_recovered_key_never_signs_a_valid_label(world: LedgerWorld) -> None:
    from ledger import gs1, label

    effective = NOW + WEEK
    recover = _signed(
        world,
        "key.recover",
        "operator",
        1,
        NOW,
        subject="acme",
        key=public_b64(38),
        effective=format_time(effective),
    )
    _append(world, recover)
    unit = gs1.UnitId(gtin=GTIN, serial="SN-0001")
    by_brand = world.ledger.unit_view(GTIN, "SN-0001", label.sign_label(unit, key(2)))
    assert by_brand["unit"]["label"] == "valid"
    by_recovered = world.ledger.unit_view(GTIN, "SN-0001", label.sign_label(unit, key(38)))
    assert by_recovered["verdict"] == Verdict.INVALID
    assert by_recovered["unit"] is None or by_recovered["unit"]["label"] == "invalid"


def test_a_log_signs_its_recovery_wait_into_genesis(db_url: str) -> None:
    import uuid

    from ledger.events import ActorRegister
    from ledger.service.ledger import Ledger
    from tests.integration.world import clock, config

    opened = Ledger.open(db_url, config(f"t-{uuid.uuid4().hex[:10]}"), clock=clock)
    try:
        opened.init(name="Registry", recovery_wait=2 * 86_400)
        genesis = Leaf.from_bytes(opened.entry(0).leaf).signed.event
        assert isinstance(genesis, ActorRegister) and genesis.recovery_wait == 2 * 86_400
        assert rules.recovery_wait(opened.state()) == timedelta(days=2)
        assert opened.audit().ok
    finally:
        opened.close()


def test_a_pending_recovered_key_does_not_sign_requests_as_the_brand(world: LedgerWorld) -> None:
    from ledger import reqsig

    effective = NOW + WEEK
    recover = _signed(
        world,
        "key.recover",
        "operator",
        1,
        NOW,
        subject="acme",
        key=public_b64(39),
        effective=format_time(effective),
    )
    _append(world, recover)
    target = "/v1/brands/acme/alerts"
    by_brand = reqsig.sign_request(key(2), "GET", target, b"", NOW)
    assert world.ledger.reports.authenticate(by_brand, "GET", target, b"").id == "acme"
    pending = reqsig.sign_request(key(39), "GET", target, b"", NOW)
    with pytest.raises(reqsig.AuthenticationError):
        world.ledger.reports.authenticate(pending, "GET", target, b"")


def test_a_key_reported_compromised_signs_no_valid_label(world: LedgerWorld) -> None:
    """A thief holding a brand's label key could print labels for every public serial:
    once the brand reports the key compromised, no label it signed is valid."""
    from ledger import gs1, label

    _append(
        world,
        _signed(
            world, "key.rotate", "acme", 2, NOW, subject="acme", add=[public_b64(34)], remove=[]
        ),
    )
    unit = gs1.UnitId(gtin=GTIN, serial="SN-0001")
    stolen = label.sign_label(unit, key(34))
    assert world.ledger.unit_view(GTIN, "SN-0001", stolen)["unit"]["label"] == "valid"
    report = _signed(
        world,
        "key.rotate",
        "acme",
        2,
        NOW,
        subject="acme",
        add=[],
        remove=[key_id(34)],
        compromised_since=format_time(NOW),
    )
    _append(world, report)
    after = world.ledger.unit_view(GTIN, "SN-0001", stolen)
    assert after["verdict"] == Verdict.INVALID
    assert after["unit"] is None or after["unit"]["label"] == "invalid"
    by_brand = world.ledger.unit_view(GTIN, "SN-0001", label.sign_label(unit, key(2)))
    assert by_brand["unit"]["label"] == "valid"  # the brand's other keys still sign
