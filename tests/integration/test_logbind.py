"""Events bound to their log, through real ledgers (store + service), SQLite and PostgreSQL.

Two logs in one database with the same operator key (the worst case: a signature of
the operator is valid in both) and different origins: an event signed for log A is
refused by log B, leaving B byte for byte unchanged, and accepted by A. An old log
(format 1, rule set 1: an operator's key.rotate of a brand, an old-rule return) audits
clean after its ``log.upgrade``, and the same entries are refused after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command

from ledger import crypto
from ledger.entry import Leaf, SignedEvent, sign_event
from ledger.errors import LedgerError, SignatureError, WrongLogError
from ledger.events import ActorRegister, event_from_dict
from ledger.service.audit import audit_log
from ledger.service.ledger import Ledger
from ledger.store.database import _alembic_config, migrate
from ledger.verify import unitproof
from ledger.verify.recompute import Switch, recompute
from ledger.verify.unitview import verify_unit_view
from tests.factories import GTIN, LOG_SEED, key, public_b64
from tests.integration.world import clock, config, dump
from tests.rules_factories import NOW, PREFIX, SERIAL, TIME, World

#: these tests migrate every log in the database: a database of their own (conftest)
OWN_DATABASE = True


def _open(db_url: str, event_format: int | None = 2) -> Ledger:
    ledger = Ledger.open(db_url, config(f"t-{uuid.uuid4().hex[:10]}"), clock=clock)
    ledger.init(name="Registry", event_format=event_format)
    return ledger


@pytest.fixture
def two_logs(db_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """Logs A and B in one database: one operator key, two origins, format 2 from genesis."""
    a, b = _open(db_url), _open(db_url)
    yield a, b
    a.close()
    b.close()


def _brand(log: str | None) -> SignedEvent:
    data = {
        "kind": "actor.register",
        "actor": "operator",
        "time": TIME,
        "subject": "acme",
        "role": "brand",
        "name": "Acme",
        "keys": [public_b64(2)],
        "prefixes": [PREFIX],
    }
    return sign_event(event_from_dict(data), key(1), log=log)


def _refused(ledger: Ledger, signed: SignedEvent, error: type[LedgerError], code: str) -> None:
    before = dump(ledger)
    with pytest.raises(error) as info:
        ledger.append(signed, NOW)
    assert info.value.code == code
    assert dump(ledger) == before


def test_an_event_signed_for_log_a_is_refused_by_log_b_and_taken_by_a(
    two_logs: tuple[Ledger, Ledger],
) -> None:
    a, b = two_logs
    assert a.origin != b.origin
    signed = _brand(a.origin)
    _refused(b, signed, WrongLogError, "wrong-log")  # it says which log it was signed for
    travelled = SignedEvent.from_dict(signed.to_dict())  # as JSON: no origin travels
    _refused(b, travelled, SignatureError, "bad-signature")
    _refused(b, _brand(None), LedgerError, "format-retired")  # format 1 names no log
    receipt = a.append(travelled, NOW)
    assert receipt.receipts[0].index == 1
    leaf = Leaf.from_bytes(a.entry(1).leaf, a.origin)
    assert leaf.signed.v == 2 and leaf.signed.hash == signed.hash
    assert audit_log(a.store, a.log, a.verifier_key, workers=1).ok
    assert audit_log(b.store, b.log, b.verifier_key, workers=1).ok


def _old_genesis() -> SignedEvent:
    """The genesis of a log from before: no format, no rules, signed in format 1."""
    data = {
        "kind": "actor.register",
        "actor": "operator",
        "time": TIME,
        "subject": "operator",
        "role": "operator",
        "name": "Registry",
        "keys": [public_b64(1)],
        "log_key": crypto.public_key_to_b64(key(LOG_SEED).public_key()),
    }
    return sign_event(event_from_dict(data), key(1), log=None)


@pytest.fixture
def old_log(db_url: str) -> Iterator[tuple[Ledger, World]]:
    """A format-1, rule-set-1 log holding what rule set 1 allowed: an operator's
    key.rotate of brand acme, and a return of a delivered unit by a retailer that never
    held it; the rules' `World` mirrors it."""
    ledger = Ledger.open(db_url, config(f"t-{uuid.uuid4().hex[:10]}"), clock=clock)
    ledger.append(_old_genesis(), NOW)
    world = World.base(None, rules=None)
    world.register("shop-2", "retailer", 20)
    world.authorize("shop-2", "retailer")
    for kind, actor, fields in (
        ("handoff", "acme", {"to": "shop"}),
        ("receive", "shop", {}),
        ("sell", "shop", {}),
        ("deliver", "shop", {}),
    ):
        world.unit_do(kind, actor, **fields)
    world.do("key.rotate", "operator", subject="acme", add=[public_b64(41)], remove=[])
    world.unit_do("return", "shop-2", to="shop-2")
    for signed in world.log[1:]:
        ledger.append(signed, NOW)
    yield ledger, world
    ledger.close()


def test_an_old_log_audits_clean_across_its_upgrade(old_log: tuple[Ledger, World]) -> None:
    ledger, _ = old_log
    size = ledger.head().size
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key, workers=1).ok
    receipt = ledger.upgrade()
    assert receipt.receipts[0].index == size
    report = audit_log(ledger.store, ledger.log, ledger.verifier_key, workers=1)
    assert report.ok, report.to_dict()
    assert report.entries == size + 1  # the audit also compared the stored projections
    assert ledger.replay().actors["acme"].id == "acme"  # the service's own replay too


def test_after_the_upgrade_the_old_entries_are_refused(old_log: tuple[Ledger, World]) -> None:
    ledger, world = old_log
    ledger.upgrade()
    world.do("log.upgrade", "operator", format=2, rules=2)
    rotate = {"subject": "acme", "add": [public_b64(43)], "remove": []}
    _refused(ledger, world.sign("key.rotate", "operator", **rotate), LedgerError, "format-retired")
    world.origin = ledger.origin
    _refused(
        ledger, world.sign("key.rotate", "operator", **rotate), LedgerError, "operator-not-subject"
    )
    world.unit_do("receive", "shop-2")  # the return of before completes, now signed for the log
    ledger.append(world.log[-1], NOW)
    world.unit_do("sell", "shop-2")
    ledger.append(world.log[-1], NOW)
    world.unit_do("deliver", "shop-2")
    ledger.append(world.log[-1], NOW)
    world.register("shop-3", "retailer", 21)
    ledger.append(world.log[-1], NOW)
    world.authorize("shop-3", "retailer")
    ledger.append(world.log[-1], NOW)
    laundering = world.on_unit("return", "shop-3", to="shop-3")
    _refused(ledger, laundering, LedgerError, "not-retailer-of-record")
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key, workers=1).ok


def test_the_offline_proof_reads_the_switch_from_the_log(old_log: tuple[Ledger, World]) -> None:
    """The proof of the unit returned under rule set 1 carries the log's log.upgrade: the
    client replays its chain with the rules of each entry's index, never a server's word."""
    ledger, world = old_log
    ledger.upgrade()
    world.do("log.upgrade", "operator", format=2, rules=2)
    world.origin = ledger.origin
    world.unit_do("receive", "shop-2")  # after the switch, signed for the log
    ledger.append(world.log[-1], NOW)
    text = ledger.exports.unit_proof(GTIN, SERIAL)
    proof = unitproof.parse(text)
    kinds = {e.index: Leaf.from_bytes(e.leaf).signed.event.kind for e in proof.entries}
    assert kinds[0] == "actor.register" and "log.upgrade" in kinds.values()
    verified = unitproof.verify(text, ledger.verifier_key)
    assert verified.verdict != "invalid", verified.reasons
    assert [leaf.signed.v for leaf in verified.chain][-1] == 2
    # read as if the log had held rule set 2 from entry 0, the old-rule return breaks it
    chain = list(zip(verified.chain_indices, verified.chain, strict=True))
    assert recompute(chain, {}, switch=Switch(None, 0)).verdict == "invalid"
    assert recompute(chain, {}, switch=Switch(None, None)).verdict != "invalid"


def test_migration_0011_refills_the_switch_from_the_entries(old_log: tuple[Ledger, World]) -> None:
    """Down to 0010 (the columns dropped) and up again: the switch is read back from the
    log.upgrade entry, as a replay gives it, so the log still audits clean."""
    ledger, _ = old_log
    ledger.upgrade()
    before = dump(ledger, runs_as_nodes=True)
    with ledger.store.engines.writer.begin() as conn:
        command.downgrade(_alembic_config(conn), "0010_write_buckets")
    migrate(ledger.store.engines)
    assert dump(ledger, runs_as_nodes=True) == before
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key, workers=1).ok


def test_the_unit_view_proves_the_switch_and_the_client_judges_by_it(
    old_log: tuple[Ledger, World],
) -> None:
    """The unit view carries the genesis and the log.upgrade, proven to its checkpoint:
    a client replays the rule-set-1 return before the switch under rule set 1 and the
    entry after it under rule set 2, and refuses a view that moves the switch."""
    ledger, world = old_log
    n = ledger.head().size
    ledger.upgrade()
    world.do("log.upgrade", "operator", format=2, rules=2)
    world.origin = ledger.origin
    world.unit_do("receive", "shop-2")  # after the switch, signed for the log
    ledger.append(world.log[-1], NOW)
    view = ledger.unit_view(GTIN, SERIAL)
    versions = view["versions"]
    assert versions is not None
    assert (versions["format_from"], versions["rules_from"]) == (n + 1, n + 1)
    assert [e["index"] for e in versions["entries"]] == [0, n]
    keys = {k.key_id: k.public_key for k in ledger.state().keys.values()}
    facts = dict(world.state.actors)
    checked = verify_unit_view(dict(view), ledger.verifier_key, keys, facts)
    assert checked.ok and checked.verdict != "invalid", checked.reasons
    assert checked.switch == Switch(n + 1, n + 1)
    rule_sets = [checked.switch.at(e["index"])[1] for e in view["entries"]]
    assert rule_sets == [1] * (len(rule_sets) - 1) + [2]
    moved = {**view, "versions": {**versions, "rules_from": n + 2}}
    refused = verify_unit_view(moved, ledger.verifier_key, keys, facts)
    assert (refused.verdict, refused.switch) == ("invalid", None)
    assert [r["code"] for r in refused.reasons] == ["proof-invalid"]


def test_a_new_log_is_format_2_and_rule_set_2_from_genesis(db_url: str) -> None:
    """What `provenance init` and the service write by default: the genesis names both,
    so a unit view proves the switch with entry 0 alone, and format 1 is refused."""
    ledger = Ledger.open(db_url, config(f"t-{uuid.uuid4().hex[:10]}"), clock=clock)
    try:
        ledger.init(name="Registry")
        genesis = Leaf.from_bytes(ledger.entry(0).leaf, ledger.origin).signed
        assert genesis.v == 2
        assert isinstance(genesis.event, ActorRegister)
        assert (genesis.event.format, genesis.event.rules) == (2, 2)
        _refused(ledger, _brand(None), LedgerError, "format-retired")
        ledger.append(_brand(ledger.origin), NOW)
        assert audit_log(ledger.store, ledger.log, ledger.verifier_key, workers=1).ok
    finally:
        ledger.close()
