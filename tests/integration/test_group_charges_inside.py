"""Write-quota charges taken inside the group's own write transaction (`Charge.take_in`,
the database bucket's: api.quota): the same decisions as a take of its own, made after
the log's head is locked and committed or rolled back with the group. On SQLite and
PostgreSQL. Both ways: what lands is paid exactly once, what is refused is not written
and costs nothing, and a rolled-back group neither takes nor gives back anything."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from api.quota import WriteQuota, WriteQuotaError
from ledger.errors import EventFailedError, SignatureError, StorageError
from ledger.service.append import BatchReceipt
from ledger.service.headmap import MapKeeper
from ledger.service.ledger import Ledger
from ledger.store.quotas import QuotaStore
from ledger.store.writer import WriteTx
from tests.integration.test_group_charges import _charged_group
from tests.integration.test_group_commit import _commission, _forged, _outcome, pool
from tests.integration.world import LedgerWorld, dump

__all__ = ["pool"]  # the fixture, shared

NOW = 1_000_000.0


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _quota(burst: int) -> WriteQuota:
    return WriteQuota(None, 1e-6, burst, _Clock())  # (no refill to speak of)


def _tokens(ledger: Ledger, actor: str = "acme") -> float:
    with ledger.store.engines.reader.connect() as conn:
        row = conn.execute(
            text("SELECT tokens FROM write_buckets WHERE log = :log AND actor = :actor"),
            {"log": ledger.log, "actor": actor},
        ).one()
    return float(row.tokens)


@pytest.fixture
def own_takes(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The costs of the takes made in a transaction of their own (`QuotaStore.take`:
    the give-backs), each still made."""
    costs: list[float] = []
    real = QuotaStore.take

    def take(self: QuotaStore, log: int, actor: str, cost: float, *args: Any) -> float:
        costs.append(cost)
        return real(self, log, actor, cost, *args)

    monkeypatch.setattr(QuotaStore, "take", take)
    return costs


def test_a_group_over_the_bucket_admits_in_order_in_its_own_transaction(
    world: LedgerWorld, pool: ThreadPoolExecutor, own_takes: list[float]
) -> None:
    ledger = world.ledger
    start = ledger.head().size
    quota = _quota(3)
    events = [_commission(world, f"IN-{n}") for n in range(5)]
    items = [(s, quota._charge(ledger, "acme", 1)) for s in events]
    lead, others, gate = _charged_group(ledger.groups, pool, items[0], items[1:])
    got = [_outcome(f) for f in [lead, *others]]
    assert [isinstance(g, BatchReceipt) for g in got] == [True, True, True, False, False]
    assert all(isinstance(g, WriteQuotaError) and g.retry_after >= 1 for g in got[3:])
    assert gate.sizes == [1, 4]  # the refused reach the transaction, and are left out
    assert own_takes == []  # every take in the groups' transactions, none given back
    assert _tokens(ledger) == 0
    assert ledger.head().size == start + 3
    assert {e.hash for e in events[:3]} == {
        r.event_hash for g in got[:3] if isinstance(g, BatchReceipt) for r in g.receipts
    }
    assert ledger.audit().ok


def test_what_does_not_land_new_is_given_back_and_a_forged_event_is_never_taken(
    world: LedgerWorld, pool: ThreadPoolExecutor, own_takes: list[float]
) -> None:
    ledger = world.ledger
    quota = _quota(10)
    old = _commission(world, "INB-OLD")
    ledger.append(old)  # in the log already: appended again, a duplicate
    good = _commission(world, "INB-NEW")
    forged = _forged(_commission(world, "INB-FORGED"))
    again = _commission(world, "INB-NEW")  # the same event twice in one group
    lead, others, _ = _charged_group(
        ledger.groups,
        pool,
        (_commission(world, "INB-LEAD"), None),
        [(s, quota._charge(ledger, "acme", 1)) for s in (good, old, forged, again)],
    )
    got = [_outcome(f) for f in others]
    assert isinstance(got[0], BatchReceipt) and not got[0].receipts[0].duplicate
    assert isinstance(got[1], BatchReceipt) and got[1].receipts[0].duplicate
    assert isinstance(got[2], SignatureError)
    assert isinstance(got[3], BatchReceipt) and got[3].receipts[0].duplicate
    # two taken in the transaction (the forged one failed its check before it, the one
    # already logged is free: review33b), the duplicate in the group's given back after
    # the commit: one event paid for
    assert own_takes == [-1]
    assert _tokens(ledger) == 9
    assert isinstance(lead.result(30), BatchReceipt)


def test_a_rolled_back_group_takes_nothing_and_gives_nothing_back(
    world: LedgerWorld,
    pool: ThreadPoolExecutor,
    own_takes: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = world.ledger
    quota = _quota(10)
    first = pool.submit(
        ledger.append, _commission(world, "RB-0"), None, quota._charge(ledger, "acme", 2)
    )
    assert isinstance(_outcome(first), BatchReceipt)
    assert _tokens(ledger) == 8
    before = dump(ledger)

    def broken(self: Any, *_args: Any) -> None:
        raise StorageError("database write failed; nothing was written: test")

    monkeypatch.setattr(WriteTx, "insert_entries", broken)
    charge = quota._charge(ledger, "acme", 1)
    got = _outcome(pool.submit(ledger.append, _commission(world, "RB-1"), None, charge))
    assert isinstance(got, StorageError)
    assert own_takes == []  # the take rolled back with the group: nothing to give back
    assert _tokens(ledger) == 8
    assert dump(ledger) == before


def test_a_group_written_again_without_a_failed_event_pays_once(
    world: LedgerWorld,
    pool: ThreadPoolExecutor,
    own_takes: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected error after an event changed the group's state rolls the group back
    (its takes too) and writes it again without that event: the takes are made again
    in the second transaction, and the failed event's is not."""
    ledger = world.ledger
    quota = _quota(10)
    events = [_commission(world, f"RD-{n}") for n in range(3)]
    bad = events[1]
    real = MapKeeper.add

    def add(self: MapKeeper, index: int, leaf_hash: bytes, event: Any) -> None:
        if event == bad.event:
            raise KeyError("a bug after the state changed")
        real(self, index, leaf_hash, event)

    monkeypatch.setattr(MapKeeper, "add", add)
    items = [(s, quota._charge(ledger, "acme", 1)) for s in events]
    lead, others, _ = _charged_group(
        ledger.groups, pool, (_commission(world, "RD-LEAD"), None), items
    )
    got = [_outcome(f) for f in others]
    assert isinstance(got[0], BatchReceipt) and isinstance(got[2], BatchReceipt)
    assert isinstance(got[1], EventFailedError)
    assert own_takes == []  # taken in the second transaction only for the two that land
    assert _tokens(ledger) == 8
    assert isinstance(lead.result(30), BatchReceipt)
    assert ledger.audit().ok


def test_a_take_inside_another_logs_transaction_is_refused(world: LedgerWorld) -> None:
    ledger = world.ledger
    with ledger.store.writer(ledger.log + 10**6) as tx, pytest.raises(ValueError, match="log"):
        ledger.take_write_tokens("acme", 1, 1.0, 5.0, NOW, within=tx)


def test_a_charge_due_on_its_signature_is_taken_once_the_group_verified_it(
    world: LedgerWorld, pool: ThreadPoolExecutor, own_takes: list[float]
) -> None:
    """`Charge.due` (api.quota's single events: due only for a signature that verifies
    under the actor's key) is asked right before the take in the group's transaction:
    the genuine events pay, in order, up to the bucket; a forged one naming the same
    actor, queued first, takes nothing, so it cannot spend the bucket before them; a
    charge not due is neither taken nor refused (both ways)."""
    ledger = world.ledger
    start = ledger.head().size
    quota = _quota(2)
    forged = _forged(_commission(world, "DUE-FORGED")).for_log(ledger.origin)
    events = [_commission(world, f"DUE-{n}").for_log(ledger.origin) for n in range(3)]
    ledger.key_owners({events[0].key})  # the owners in memory, as the API finds them
    charges = [quota._charge_if_verified(ledger, s) for s in (forged, *events)]
    assert all(c is not None and c.due is not None for c in charges)
    asked: list[bool] = []

    def spied(charge: Any) -> Any:
        def due() -> bool:
            asked.append(charge.due())
            return asked[-1]

        return replace(charge, due=due)

    items = [(s, spied(c)) for s, c in zip((forged, *events), charges, strict=True)]
    lead, others, _ = _charged_group(
        ledger.groups, pool, (_commission(world, "DUE-LEAD"), None), items
    )
    got = [_outcome(f) for f in others]
    assert isinstance(got[0], SignatureError)  # refused by the group's verify, unpaid
    assert [isinstance(g, BatchReceipt) for g in got[1:]] == [True, True, False]
    assert isinstance(got[3], WriteQuotaError)  # the bucket held two: the third waits
    assert asked == [True, True, True]  # the forged one never reached its take
    assert own_takes == [] and _tokens(ledger) == 0
    assert isinstance(lead.result(30), BatchReceipt)
    assert ledger.head().size == start + 3  # the lead and two
    # a charge that is not due is neither taken nor refused: the bucket is empty, yet
    # the event lands, and nothing is given back
    late = _commission(world, "DUE-LATE")
    never = replace(quota._charge(ledger, "acme", 1), due=lambda: False)
    lead, others, _ = _charged_group(
        ledger.groups, pool, (_commission(world, "DUE-LEAD-2"), None), [(late, never)]
    )
    assert isinstance(_outcome(others[0]), BatchReceipt)
    assert own_takes == [] and _tokens(ledger) == 0
    due = replace(quota._charge(ledger, "acme", 1), due=lambda: True)
    lead, others, _ = _charged_group(
        ledger.groups,
        pool,
        (_commission(world, "DUE-LEAD-3"), None),
        [(_commission(world, "DUE-PAYS"), due)],
    )
    assert isinstance(_outcome(others[0]), WriteQuotaError)  # due: taken, and refused
    assert ledger.audit().ok


def test_a_replay_of_an_actors_logged_event_does_not_spend_its_bucket_for_its_group(
    world: LedgerWorld, pool: ThreadPoolExecutor, own_takes: list[float]
) -> None:
    """Anyone may post an actor's public, already logged events again (answered as
    duplicates, and free). Queued ahead of the actor's own new event in one group, such
    a replay must not take the actor's tokens in the group's transaction, where the take
    comes before the duplicate is known, and so refuse the actor's genuine event (429)
    only to give them back after the commit: a stranger denying a partner its writes
    at no cost to himself."""
    ledger = world.ledger
    quota = _quota(1)
    old = _commission(world, "REPLAY-OLD")
    ledger.append(old)  # public: anyone can read it and post it again
    genuine = _commission(world, "REPLAY-NEW")
    lead, others, _ = _charged_group(
        ledger.groups,
        pool,
        (_commission(world, "REPLAY-LEAD"), None),
        [(s, quota._charge(ledger, "acme", 1)) for s in (old, genuine)],
    )
    got = [_outcome(f) for f in others]
    assert isinstance(got[0], BatchReceipt) and got[0].receipts[0].duplicate
    assert isinstance(got[1], BatchReceipt), got[1]  # the actor's own event lands
    assert _tokens(ledger) == 0  # it paid its one token; the replay nothing
    assert isinstance(lead.result(30), BatchReceipt)
