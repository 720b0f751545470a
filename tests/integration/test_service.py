"""ledger.service.ledger over a real store: appends, idempotency, atomic batches, refusals.

Runs on SQLite and on PostgreSQL (the ``db_url`` fixture). Every refusal must leave
every table of the log byte-for-byte unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ledger import codec, crypto, merkle, note
from ledger.entry import SignedEvent
from ledger.errors import ConflictError, LedgerError, SignatureError, ValidationError
from ledger.events import format_time
from ledger.rules.state import State
from ledger.service import append as append_module
from ledger.service import sigpool
from ledger.service.audit import audit_log
from ledger.service.ledger import Ledger
from ledger.store import ProjectionsBehindError
from tests.factories import GTIN, key, public_b64
from tests.integration.world import LedgerWorld, dump
from tests.rules_factories import CLAIM_CODE, NOW, SERIAL, World


def test_base_world_appends_and_matches_the_rules(world: LedgerWorld) -> None:
    ledger = world.ledger
    head = ledger.head()
    assert head.size == len(world.world.log) == 13
    assert ledger.state().records() == world.world.state.records()
    checkpoint = note.verify_checkpoint(ledger.checkpoint(), ledger.verifier_key)
    assert (checkpoint.size, checkpoint.root) == (head.size, head.root)
    for i in range(head.size):
        stored = ledger.entry(i)
        proof = ledger.inclusion_proof(i, head.size)
        merkle.verify_inclusion(stored.leaf_hash, i, head.size, proof, checkpoint.root)
    for old in range(1, head.size):
        old_root = note.verify_checkpoint(ledger.checkpoint(old), ledger.verifier_key).root
        proof = ledger.consistency_proof(old, head.size)
        merkle.verify_consistency(old, head.size, old_root, checkpoint.root, proof)
    assert audit_log(ledger.store, ledger.log, ledger.verifier_key).ok


def test_receipt_carries_index_leaf_hash_and_a_checkpoint_that_includes_it(
    world: LedgerWorld,
) -> None:
    signed = world.world.on_unit("handoff", "acme", to="ship-co")
    receipt = world.append(signed)
    (only,) = receipt.receipts
    assert only.index == 13 and not only.duplicate
    assert only.leaf_hash == world.ledger.entry(13).leaf_hash
    assert only.event_hash == signed.hash
    checkpoint = note.verify_checkpoint(receipt.checkpoint, world.ledger.verifier_key)
    assert checkpoint.size == receipt.size == 14
    proof = world.ledger.inclusion_proof(13, 14)
    merkle.verify_inclusion(only.leaf_hash, 13, 14, proof, checkpoint.root)


def test_the_same_signed_event_again_is_the_same_entry(world: LedgerWorld) -> None:
    signed = world.world.on_unit("handoff", "acme", to="ship-co")
    first = world.append(signed)
    before = dump(world.ledger)
    again = world.ledger.append(signed, NOW)
    assert again.receipts[0].index == first.receipts[0].index
    assert again.receipts[0].leaf_hash == first.receipts[0].leaf_hash
    assert again.receipts[0].duplicate
    assert again.checkpoint == first.checkpoint
    assert dump(world.ledger) == before
    # ...also inside a batch, and twice within one batch.
    receive = world.world.on_unit("receive", "ship-co")
    batch = world.ledger.append_batch([signed, receive, receive], NOW)
    indices = [r.index for r in batch.receipts]
    assert indices == [13, 14, 14]
    assert [r.duplicate for r in batch.receipts] == [True, False, True]
    assert world.ledger.head().size == 15


def test_a_batch_can_chain_a_units_events_before_sending(world: LedgerWorld) -> None:
    w = world.world
    handoff = w.on_unit("handoff", "acme", to="ship-co")
    unit = {"gtin": GTIN, "serial": SERIAL}
    receive = w.sign("receive", "ship-co", unit=unit, prev=codec.b64url_encode(handoff.hash))
    batch = world.ledger.append_batch([handoff, receive], NOW)
    assert [r.index for r in batch.receipts] == [13, 14]
    stored = world.ledger.state().units[(GTIN, SERIAL)]
    assert stored.custodian == "ship-co" and stored.head == codec.b64url_encode(receive.hash)
    assert note.verify_checkpoint(batch.checkpoint, world.ledger.verifier_key).size == 15


def test_a_refused_event_refuses_its_whole_batch(world: LedgerWorld) -> None:
    w = world.world
    good = w.on_unit("handoff", "acme", to="ship-co")
    bad = w.on_unit("sell", "acme")  # also extends the old head: a fork
    before = dump(world.ledger)
    with pytest.raises(ConflictError) as err:
        world.ledger.append_batch([good, bad], NOW)
    assert err.value.field == "events[1].prev"
    assert dump(world.ledger) == before


def test_a_batch_makes_its_leaves_before_its_signatures_and_reports_a_bad_signature_first(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The leaves come first, so that the map's child writes the last batch's rows on the
    # core they leave idle (docs/PERFORMANCE.md, "order39"); a leaf that cannot be made is
    # still reported after the signatures, as when the signatures came first.
    calls: list[str] = []
    fail_leaves = True  # (read by `leaves` at each call)
    make_leaves, check = append_module._leaves, sigpool.first_bad_signature

    def leaves(items: Any, received: Any) -> Any:
        calls.append("leaves")
        if fail_leaves:
            raise RuntimeError("no leaf")
        return make_leaves(items, received)

    def signatures(jobs: Any) -> Any:
        calls.append("signatures")
        return check(jobs)

    monkeypatch.setattr(append_module, "_leaves", leaves)
    monkeypatch.setattr(sigpool, "first_bad_signature", signatures)
    w = world.world
    good = w.on_unit("handoff", "acme", to="ship-co")
    forged = replace(good, sig=bytes([good.sig[0] ^ 1]) + good.sig[1:])
    before = dump(world.ledger)
    with pytest.raises(SignatureError):
        world.ledger.append_batch([forged], NOW)
    assert calls == ["leaves", "signatures"]
    with pytest.raises(RuntimeError, match="no leaf"):
        world.ledger.append_batch([good], NOW)
    assert dump(world.ledger) == before
    fail_leaves = False
    calls.clear()
    assert world.ledger.append_batch([good], NOW).size == 14
    assert calls == ["leaves", "signatures"]


def test_batch_limits(world: LedgerWorld) -> None:
    with pytest.raises(ValidationError, match="1 to 1000"):
        world.ledger.append_batch([], NOW)


def _forged(w: World) -> SignedEvent:
    signed = w.on_unit("handoff", "acme", to="ship-co")
    return SignedEvent(signed.event, signed.event_bytes, signed.key, bytes(64))


def _signed_by_another_key(w: World) -> SignedEvent:
    """acme's event and key id, but the signature of shop's key over the same bytes."""
    signed = w.on_unit("handoff", "acme", to="ship-co")
    forged_sig = key(w.seeds["shop"]).sign(crypto.DOMAIN_EVENT + signed.event_bytes)
    return SignedEvent(signed.event, signed.event_bytes, signed.key, forged_sig)


def _future(w: World) -> SignedEvent:
    late = format_time(NOW + timedelta(minutes=5, seconds=1))
    return w.sign("product.register", "acme", time=late, gtin="09506000134369", name="Later")


def _sold_twice(w: World) -> SignedEvent:
    w.unit_do("handoff", "acme", to="shop")
    w.unit_do("receive", "shop")
    w.unit_do("sell", "shop")
    return w.on_unit("sell", "shop")


def _after_decommission(w: World) -> SignedEvent:
    w.unit_do("decommission", "acme", reason="destroyed")
    return w.on_unit("inspect", "insp", result="pass")


def _revoked_partner(w: World) -> SignedEvent:
    w.do("actor.revoke", "operator", subject="ship-co", reason="licence lapsed")
    w.unit_do("handoff", "acme", to="shop")
    return w.on_unit("receive", "ship-co")


def _claim_twice(w: World) -> SignedEvent:
    w.unit_do("claim", "operator", code=CLAIM_CODE)
    return w.on_unit("claim", "operator", code=CLAIM_CODE)


#: (name, how to make the refused event from the base world, expected error code)
REFUSALS: list[tuple[str, Callable[[World], SignedEvent], str]] = [
    ("forged signature", _forged, "bad-signature"),
    ("signature by another key", _signed_by_another_key, "bad-signature"),
    (
        "unknown signer",
        lambda w: w.sign("product.register", "nobody", seed=60, gtin=GTIN, name="N"),
        "unknown-actor",
    ),
    (
        "key of another actor",
        lambda w: w.sign("product.register", "acme", seed=5, gtin=GTIN, name="N"),
        "foreign-key",
    ),
    (
        "partner registers an actor",
        lambda w: w.sign(
            "actor.register",
            "acme",
            subject="x1",
            role="courier",
            name="X",
            keys=[codec.b64url_encode(bytes(32))],
        ),
        "not-operator",
    ),
    (
        "GTIN outside the brand's prefixes",
        lambda w: w.sign("product.register", "acme", gtin="04006381333931", name="Other"),
        "not-under-prefix",
    ),
    (
        "another brand commissions",
        lambda w: w.sign(
            "commission", "other-brand", unit={"gtin": GTIN, "serial": "X1"}, prev=None
        ),
        "not-product-owner",
    ),
    (
        "unit commissioned twice",
        lambda w: w.sign("commission", "acme", unit={"gtin": GTIN, "serial": SERIAL}, prev=None),
        "unit-exists",
    ),
    (
        "stale prev (fork)",
        lambda w: w.sign(
            "handoff",
            "acme",
            unit={"gtin": GTIN, "serial": SERIAL},
            prev=codec.b64url_encode(bytes(32)),
            to="ship-co",
        ),
        "head-conflict",
    ),
    (
        "non-custodian hands off",
        lambda w: w.on_unit("handoff", "ship-co", to="shop"),
        "not-custodian",
    ),
    (
        "someone else receives",
        lambda w: (w.unit_do("handoff", "acme", to="ship-co"), w.on_unit("receive", "shop"))[1],
        "not-recipient",
    ),
    ("sold twice", _sold_twice, "already-sold"),
    ("after decommission", _after_decommission, "decommissioned"),
    ("revoked partner", _revoked_partner, "actor-revoked"),
    (
        "wrong claim code",
        lambda w: w.on_unit("claim", "operator", code="ZZZZ-ZZZZ-ZZZZ-ZZZZ-Z"),
        "bad-claim-code",
    ),
    ("claimed twice", _claim_twice, "already-claimed"),
    (
        "courier sells",
        lambda w: (
            w.unit_do("handoff", "acme", to="ship-co"),
            w.unit_do("receive", "ship-co"),
            w.on_unit("sell", "ship-co"),
        )[2],
        "not-authorized",
    ),
    ("event from the future", _future, "future-time"),
]


@pytest.mark.parametrize(("name", "make", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal_leaves_every_table_unchanged(
    world: LedgerWorld, name: str, make: Callable[[World], SignedEvent], code: str
) -> None:
    # Set-up steps inside `make` go through the ledger too, via a mirrored world.
    mirror = _Mirror(world)
    refused = make(mirror)
    before = dump(world.ledger)
    with pytest.raises(LedgerError) as err:
        world.ledger.append(refused, NOW)
    assert err.value.code == code, err.value
    assert dump(world.ledger) == before
    assert audit_log(world.ledger.store, world.ledger.log, world.ledger.verifier_key).ok


class _Mirror(World):
    """A World whose accepted set-up events are appended to the ledger as well."""

    def __init__(self, lw: LedgerWorld) -> None:
        super().__init__(
            lw.world.state, lw.world.log, lw.world.seeds, lw.world.auths, lw.world.origin
        )
        self._ledger = lw.ledger

    def accept(self, signed: SignedEvent, now=NOW):  # type: ignore[no-untyped-def]
        self._ledger.append(signed, now)
        return super().accept(signed, now)


def test_signature_is_checked_for_a_key_registered_in_the_same_batch(world: LedgerWorld) -> None:
    w = world.world
    register = w.sign(
        "actor.register",
        "operator",
        subject="new-co",
        role="courier",
        name="New",
        keys=[public_b64(70)],
    )
    w.seeds["new-co"] = 70
    rotate_forged = w.sign(
        "key.rotate", "new-co", seed=71, subject="new-co", add=[public_b64(72)], remove=[]
    )
    new_key_id = crypto.key_id(key(70).public_key())
    forged = SignedEvent(
        rotate_forged.event, rotate_forged.event_bytes, new_key_id, rotate_forged.sig
    )
    before = dump(world.ledger)
    with pytest.raises(SignatureError) as err:
        world.ledger.append_batch([register, forged], NOW)
    assert err.value.field is not None and err.value.field.startswith("events[1]")
    assert dump(world.ledger) == before
    good = w.sign("key.rotate", "new-co", subject="new-co", add=[public_b64(72)], remove=[])
    assert world.ledger.append_batch([register, good], NOW).size == 15


def test_rebuild_projections_reproduces_the_tables(world: LedgerWorld) -> None:
    w = world.world
    for step in (
        ("handoff", "acme", {"to": "shop"}),
        ("receive", "shop", {}),
        ("sell", "shop", {}),
    ):
        world.append(w.on_unit(step[0], step[1], **step[2]))
    before = dump(world.ledger)
    state = world.ledger.rebuild_projections()
    assert state.records() == w.state.records()
    assert dump(world.ledger) == before


def test_unknown_unit_and_entry_reads(ledger: Ledger) -> None:
    assert ledger.unit_entries(GTIN, "none") == []
    with pytest.raises(LedgerError) as err:
        ledger.entry(99)
    assert err.value.code == "not-found"


def test_unit_view_follows_the_log_and_counts_scans(world: LedgerWorld) -> None:
    from datetime import timedelta

    from ledger.service.ledger import Scan

    ledger = world.ledger
    view = ledger.unit_view(GTIN, SERIAL)
    assert view["verdict"] == "genuine" and view["scans"] == {"count": 0, "first": None}
    assert [e["event"]["kind"] for e in view["entries"]] == ["commission"]
    world.append(world.world.on_unit("handoff", "acme", to="ship-co", place="Shenzhen DC"))
    again = ledger.unit_view(GTIN, SERIAL)  # the cached view must not survive the append
    assert [e["event"]["kind"] for e in again["entries"]] == ["commission", "handoff"]
    assert again["unit"]["pending"]["id"] == "ship-co"
    scans = [
        Scan(GTIN, SERIAL, NOW + timedelta(minutes=i), "CN" if i == 0 else "DE", f"c{i}", "mobile")
        for i in range(3)
    ]
    ledger.record_scans(scans[:1])
    ledger.record_scans(scans[1:])
    counted = ledger.unit_view(GTIN, SERIAL)["scans"]
    first = {"at": "2026-11-28T12:00:00.000Z", "place": "CN", "place_source": "hint"}
    assert counted == {"count": 3, "first": first}  # a bare stored place is a hint
    assert ledger.unit_view(GTIN, "NOPE")["verdict"] == "unknown"


def test_rebuild_projections_loses_no_append_that_lands_meanwhile(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append between the rebuild's replay and its write (another worker's) is
    replayed too: the write is refused under the lock and tried again."""
    w = world.world
    store = world.ledger.store
    replace = store.replace_projections
    calls = []

    def append_first(log: int, state: State, size: int) -> None:
        calls.append(size)
        if len(calls) == 1:  # the replay is done; an append lands before the write
            world.append(w.on_unit("handoff", "acme", to="shop"))
        replace(log, state, size)

    monkeypatch.setattr(store, "replace_projections", append_first)
    state = world.ledger.rebuild_projections()
    assert len(calls) == 2 and calls[1] == calls[0] + 1
    assert state.records() == w.state.records()  # the handoff's unit record included
    before = dump(world.ledger)
    world.ledger.rebuild_projections()  # as stored: nothing to change
    assert dump(world.ledger) == before


def test_replace_projections_refuses_a_replay_the_log_outgrew(world: LedgerWorld) -> None:
    state = world.ledger.replay()
    size = world.ledger.head().size
    world.append(world.world.on_unit("handoff", "acme", to="shop"))
    before = dump(world.ledger)
    with pytest.raises(ProjectionsBehindError):
        world.ledger.store.replace_projections(world.ledger.log, state, size)
    assert dump(world.ledger) == before  # nothing written
