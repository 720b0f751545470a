"""Group commit (ledger.service.groupcommit): concurrent single appends share one
transaction and one checkpoint; each is judged alone, answered with its own receipt,
and only after the group's commit.

A gate holds the first group's write so that the others queue behind it and form the
next group, whose makeup is then known.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from ledger.entry import SignedEvent
from ledger.errors import LedgerError, SignatureError, StorageError
from ledger.rules.errors import UnitExistsError
from ledger.service.append import BatchReceipt, GroupOutcome
from ledger.service.groupcommit import GroupCommitter
from ledger.service.ledger import Ledger
from tests.factories import GTIN
from tests.integration.world import LedgerWorld, dump


def _commission(world: LedgerWorld, serial: str, **fields: Any) -> SignedEvent:
    unit = {"gtin": GTIN, "serial": serial}
    return world.world.sign("commission", "acme", unit=unit, prev=None, **fields)


def _forged(signed: SignedEvent) -> SignedEvent:
    return replace(signed, sig=bytes([signed.sig[0] ^ 1]) + signed.sig[1:])


class _Gate:
    """Holds the first group's write until released; counts the groups written."""

    def __init__(self, groups: GroupCommitter) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []
        inner = groups._appender.append_each

        def gated(items: Any, *first: Any) -> GroupOutcome:
            self.sizes.append(len(items))
            if len(self.sizes) == 1:
                self.entered.set()
                self.release.wait(30)
            return inner(items, *first)

        groups._appender.append_each = gated  # type: ignore[method-assign]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(16) as executor:
        yield executor


def _grouped(
    ledger: Ledger, pool: ThreadPoolExecutor, first: SignedEvent, rest: list[SignedEvent]
) -> tuple[Future[BatchReceipt], list[Future[BatchReceipt]], _Gate]:
    """Append ``first`` alone (held at the gate), queue ``rest`` behind it, release."""
    gate = _Gate(ledger.groups)
    lead = pool.submit(ledger.append, first)
    assert gate.entered.wait(10)
    others = [pool.submit(ledger.append, s) for s in rest]
    deadline = time.monotonic() + 10
    while ledger.groups.queued() < len(rest) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert ledger.groups.queued() == len(rest)
    gate.release.set()
    return lead, others, gate


def _outcome(future: Future[BatchReceipt]) -> BatchReceipt | BaseException:
    error = future.exception(30)
    return error if error is not None else future.result()


def test_concurrent_single_appends_share_one_commit_and_checkpoint(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    start = ledger.head().size
    events = [_commission(world, f"GC-{n}") for n in range(9)]
    lead, others, gate = _grouped(ledger, pool, events[0], events[1:])
    first = lead.result(30)
    answers = [f.result(30) for f in others]
    assert gate.sizes == [1, 8]  # the eight that queued went as one group
    assert first.size == start + 1
    # the group: one checkpoint (the same note) for all, each with its own new index
    assert {a.checkpoint for a in answers} == {answers[0].checkpoint}
    assert {a.size for a in answers} == {start + 9}
    indexes = [a.receipts[0].index for a in answers]
    assert sorted(indexes) == list(range(start + 1, start + 9))
    assert indexes == sorted(indexes)  # queue order is log order
    for signed, answer in zip(events[1:], answers, strict=True):
        (receipt,) = answer.receipts
        assert receipt.event_hash == signed.hash and not receipt.duplicate
        assert ledger.entry(receipt.index).leaf_hash == receipt.leaf_hash
    assert ledger.checkpoint(start + 9) == answers[0].checkpoint
    assert ledger.head().size == start + 9
    assert ledger.audit().ok


def test_a_bad_event_fails_alone_and_the_group_lands(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    start = ledger.head().size
    good = [_commission(world, f"OK-{n}") for n in range(4)]
    forged = _forged(_commission(world, "FORGED"))
    # the unit good[1] commissions earlier in the same group, again (another event): the
    # rules judge it against the group's own state, so it conflicts
    twin = _commission(world, "OK-1", time="2026-11-28T12:00:01Z")
    queue = [good[1], forged, good[2], twin, good[3]]
    lead, others, gate = _grouped(ledger, pool, good[0], queue)
    lead.result(30)
    got = [_outcome(f) for f in others]
    assert gate.sizes == [1, 5]
    assert isinstance(got[1], SignatureError)
    assert isinstance(got[3], UnitExistsError)
    assert got[3].field == "unit"  # a single append's error: no events[i] in its field
    assert isinstance(got[1], LedgerError) and "events[" not in (got[1].field or "")
    landed = [got[0], got[2], got[4]]
    assert all(isinstance(a, BatchReceipt) for a in landed)
    indexes = [a.receipts[0].index for a in landed if isinstance(a, BatchReceipt)]
    assert indexes == [start + 1, start + 2, start + 3]
    assert ledger.head().size == start + 4
    hashes = {e.leaf_hash for e in ledger.entries(start, start + 4)}
    assert {a.receipts[0].leaf_hash for a in landed if isinstance(a, BatchReceipt)} <= hashes
    assert ledger.audit().ok


def test_the_same_event_twice_in_a_group_is_one_entry(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    start = ledger.head().size
    signed = _commission(world, "TWICE")
    lead, others, _ = _grouped(ledger, pool, _commission(world, "LEAD"), [signed, signed])
    lead.result(30)
    one, two = (f.result(30).receipts[0] for f in others)
    assert not one.duplicate and two.duplicate
    assert one.index == two.index == start + 1
    assert ledger.head().size == start + 2
    again = ledger.append(signed)  # and later: answered from the log, not written
    assert again.receipts[0].duplicate and again.receipts[0].index == start + 1
    assert ledger.head().size == start + 2


def test_no_caller_hears_before_the_commit_and_on_commit(db_url: str) -> None:
    """Every receipt leaves after its group's commit and the ``on_commit`` hook (the
    high-water state file): the hook sees the entries committed (read on a connection
    of its own), and no caller has been answered yet when it runs."""
    from tests.integration.world import clock, config

    answered: list[int] = []
    seen: list[tuple[int, int]] = []
    holder: dict[str, Ledger] = {}

    def on_commit(receipt: BatchReceipt) -> None:
        committed = holder["ledger"].primary_size()
        seen.append((receipt.size, committed))
        time.sleep(0.05)  # a slow fsync: callers must still be waiting
        assert not answered or max(answered) < receipt.size - len(receipt.receipts)

    ledger = Ledger.open(db_url, config("gc-ack"), clock=clock, on_commit=on_commit)
    holder["ledger"] = ledger
    try:
        ledger.init(name="Registry")
        world = LedgerWorld.base(ledger)
        events = [_commission(world, f"ACK-{n}") for n in range(12)]
        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(_answer, ledger, s, answered) for s in events]
            sizes = [f.result(30) for f in futures]
        assert all(size == committed for size, committed in seen)  # hook after commit
        assert len(sizes) == 12 and max(sizes) == ledger.head().size
        # the 50 ms hook held the first group: the rest queued and went together
        assert ledger.groups.events == 12 and ledger.groups.groups < 12
    finally:
        ledger.close()


def _answer(ledger: Ledger, signed: SignedEvent, answered: list[int]) -> int:
    receipt = ledger.append(signed)
    answered.append(receipt.receipts[0].index)
    return receipt.size


def test_a_failed_group_fails_every_caller_and_writes_nothing(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    ledger = world.ledger
    before = dump(ledger)
    gate = _Gate(ledger.groups)
    gated = ledger.groups._appender.append_each
    calls: list[int] = []

    def second_fails(items: Any) -> GroupOutcome:
        calls.append(len(items))
        if len(calls) == 2:  # the group that queued behind the gate
            raise StorageError("database write failed; nothing was written: test")
        return gated(items)

    ledger.groups._appender.append_each = second_fails  # type: ignore[method-assign]
    events = [_commission(world, f"FAIL-{n}") for n in range(4)]
    lead = pool.submit(ledger.append, events[0])
    assert gate.entered.wait(10)
    others = [pool.submit(ledger.append, s) for s in events[1:]]
    while ledger.groups.queued() < 3:
        time.sleep(0.005)
    gate.release.set()
    outcomes = [_outcome(f) for f in [lead, *others]]
    assert calls[:2] == [1, 3]
    assert isinstance(outcomes[0], BatchReceipt)
    assert all(isinstance(o, StorageError) for o in outcomes[1:])
    after = dump(ledger)
    assert len(after["entries"]) == len(before["entries"]) + 1
    # retried, they land (nothing of the failed group was written)
    retried = [ledger.append(s) for s in events[1:]]
    assert not any(r.receipts[0].duplicate for r in retried)
    assert ledger.audit().ok


def test_concurrent_posts_get_their_own_answers(world: LedgerWorld) -> None:
    """``POST /v1/entries`` at once: each good event 201 with its own index and a
    checkpoint including it; a forged one its own problem; of a unit commissioned twice
    at once exactly one lands; the log holds exactly the acknowledged events."""
    import asyncio

    import httpx

    from api.app import create_app
    from ledger.service.settings import Settings

    ledger = world.ledger
    env = {"PROVENANCE_RATE": "1000", "PROVENANCE_BAD_SIGNATURES": "1000"}
    app = create_app(Settings.from_env(env), ledger=ledger)
    start = ledger.head().size
    good = [_commission(world, f"HTTP-{n}") for n in range(12)]
    forged = _forged(_commission(world, "HTTP-FORGED"))
    twin = _commission(world, "HTTP-0", time="2026-11-28T12:00:01Z")
    posted = [*good, forged, twin]

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return list(
                await asyncio.gather(
                    *(client.post("/v1/entries", json=s.to_dict()) for s in posted)
                )
            )

    answers = asyncio.run(main())
    by_event = dict(zip(posted, answers, strict=True))
    refused = by_event[forged]
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "bad-signature"
    # good[0] and its twin race for one unit: one lands, the other is refused alone
    pair = sorted(
        (r.status_code, r.headers["content-type"]) for r in (by_event[good[0]], by_event[twin])
    )
    assert pair[0][0] == 201 and pair[1][0] == 422  # unit-exists
    assert pair[1][1].startswith("application/problem+json")
    landed = [r.json() for r in answers if r.status_code == 201]
    assert len(landed) == 12
    indexes = [a["receipts"][0]["index"] for a in landed]
    assert sorted(indexes) == list(range(start, start + 12))
    for a in landed:
        assert int(a["checkpoint"].split("\n")[1]) == a["size"] > a["receipts"][0]["index"]
    assert ledger.head().size == start + 12
    assert ledger.audit().ok


def test_a_long_queue_goes_in_groups_of_at_most_max_group(
    world: LedgerWorld, pool: ThreadPoolExecutor
) -> None:
    groups = GroupCommitter(world.ledger.appender, max_group=2)
    gate = _Gate(groups)
    events = [_commission(world, f"CAP-{n}") for n in range(6)]
    lead = pool.submit(groups.append, events[0])
    assert gate.entered.wait(10)
    others = [pool.submit(groups.append, s) for s in events[1:]]
    deadline = time.monotonic() + 10
    while groups.queued() < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    gate.release.set()
    receipts = [f.result(30).receipts[0] for f in [lead, *others]]
    assert gate.sizes == [1, 2, 2, 1]  # each next leader takes at most two
    assert len({r.index for r in receipts}) == 6 and not any(r.duplicate for r in receipts)
    assert groups.groups == 4 and groups.events == 6
