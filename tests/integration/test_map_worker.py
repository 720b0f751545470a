"""The map's child process (ledger.service.mapworker) on SQLite and PostgreSQL: a batch of
`EARLY_FROM`+ new units has its map updated by the child while the append runs, and
the result is the map the append would have made itself:

- the root the checkpoint signs is the stored root, the audit's replay gives every
  signed root, and the stored buckets equal those of the same appends made with no
  child (the parent's own update);
- the child's answer is taken only when the entries moved exactly the predicted heads:
  a wrong prediction, a dead child, a child that never answers, or one whose update
  failed leave the parent to update the map itself, correctly;
- an answer nobody collected (a refused batch) is skipped, and the child's cached map,
  moved by it, is not used for the next batch;
- the database's URL is not on the child's command line; closing the ledger stops it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import pytest
from sqlalchemy import text

from ledger import codec
from ledger.entry import SignedEvent
from ledger.errors import LedgerError
from ledger.map import heads as map_heads
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import decode
from ledger.map.trie import unit_key
from ledger.map.update import ROOT
from ledger.service import headmap, mapworker
from ledger.service.ledger import Ledger
from ledger.store.mapnodes import read_buckets
from tests.factories import GTIN
from tests.integration.world import LedgerWorld
from tests.rules_factories import NOW

BATCH = mapworker.EARLY_FROM + 44
LATER = "2026-11-28T12:00:01Z"
#: a child that says it is ready (with the code id given), reads its first request, then
#: answers ``sys.argv[2]``: "never", "garbage" (not a pickle), "other" (another request's)
_FAKE = """
import hashlib, pickle, struct, sys, time
out, inp = sys.stdout.buffer, sys.stdin.buffer
def say(data):
    out.write(struct.pack('>Q', len(data)) + data); out.flush()
def read():
    n = struct.unpack('>Q', inp.read(8))[0]; return inp.read(n)
read()
say(pickle.dumps((0, bytes.fromhex(sys.argv[1]), None, 'ready')))
number = pickle.loads(read())[0]
if sys.argv[2] == 'garbage':
    say(b'not a pickle')
elif sys.argv[2] == 'other':
    say(pickle.dumps((number, hashlib.sha256(b'another request').digest(), b'r' * 32, [])))
time.sleep(30)
"""


def _fake(kind: str, code: bytes = mapworker.CODE_ID) -> list[str]:
    return [sys.executable, "-c", _FAKE, code.hex(), kind]


def _units(world: LedgerWorld, tag: str, count: int = BATCH) -> list[SignedEvent]:
    return [
        world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": f"{tag}-{i}"}, prev=None
        )
        for i in range(count)
    ]


def _buckets(ledger: Ledger) -> dict[bytes, dict[int, bytes]]:
    """The log's stored map buckets, decoded (a row's entries may come in any order)."""
    with ledger.store.engines.reader.connect() as conn:
        rows = conn.execute(
            text("SELECT pos, data FROM map_buckets WHERE log = :log"), {"log": ledger.log}
        )
        return {bytes(pos): decode(bytes(data)) for pos, data in rows}


class _Counting:
    """Counts the parent's own `BucketMap.update` calls and the child's answers taken."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.updates = 0
        self.answers: list[bool] = []
        update, result = BucketMap.update, mapworker.MapWorker.result

        def counted_update(bucket_map: BucketMap, changes: Any) -> bytes:
            self.updates += 1
            return update(bucket_map, changes)

        def counted_result(worker: mapworker.MapWorker, number: int, wait: float = 30.0) -> Any:
            got = result(worker, number, wait)
            self.answers.append(got is not None)
            return got

        monkeypatch.setattr(BucketMap, "update", counted_update)
        monkeypatch.setattr(mapworker.MapWorker, "result", counted_result)


def _started(ledger: Ledger) -> mapworker.MapWorker:
    """The ledger's map child, started and ready (an append does not wait for it)."""
    worker = ledger._append_memo.ready_map_worker(ledger.store.engines.url, ledger.log, 30)
    assert worker is not None
    return worker


def _child(ledger: Ledger) -> Any:
    worker = ledger._append_memo._map_worker
    assert worker is not None
    return worker._proc


def _same_as_without_child(
    world: LedgerWorld, batches: list[list[SignedEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Append ``batches`` to ``world`` and check the result against the parent's own
    update: the audit, the signed root, and the stored buckets rebuilt without a child."""
    ledger = world.ledger
    for batch in batches:
        ledger.append_batch(batch, NOW)
    ledger._append_memo.settle_map()  # the child's rows of the last batch written
    assert ledger.audit().ok  # the replay's map root agrees with every signed one
    with_child = _buckets(ledger)
    # the same map rebuilt by the parent alone: rows deleted, the next append rebuilds
    # (docs/FORMAT.md 14.2's recovery)
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(text("DELETE FROM map_buckets WHERE log = :log"), {"log": ledger.log})
        conn.execute(text("UPDATE logs SET map_size = NULL WHERE id = :log"), {"log": ledger.log})
    monkeypatch.setattr(ledger._append_memo, "map_worker", lambda *_a: None)
    one = world.world.sign("commission", "acme", unit={"gtin": GTIN, "serial": "ONE"}, prev=None)
    ledger.append(one, NOW)
    assert ledger.audit().ok
    rebuilt = _buckets(ledger)
    # the rebuilt map holds one key more; every bucket off its path is the same
    same = sum(1 for pos, bucket in with_child.items() if rebuilt.get(pos) == bucket)
    assert len(with_child) > 100 and same >= len(with_child) - 8


def test_a_large_batch_takes_the_childs_update(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    batches = [_units(world, "A"), _units(world, "B")]
    _started(world.ledger)
    world.ledger.append_batch(batches[0], NOW)
    assert counting.answers == [True] and counting.updates == 0  # the child's, not ours
    child = _child(world.ledger)
    assert world.ledger.store.engines.url not in " ".join(map(str, child.args))
    _same_as_without_child(world, batches[1:], monkeypatch)
    assert counting.answers == [True, True]


def test_a_large_batch_that_moves_units_twice_maps_each_to_its_last_entry(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    _started(world.ledger)
    units = _units(world, "T")
    again = [  # an inspection of every third unit, in the same batch as its commission
        world.world.sign(
            "inspect",
            "insp",
            unit={"gtin": GTIN, "serial": f"T-{i}"},
            prev=codec.b64url_encode(units[i].hash),
            result="pass",
        )
        for i in range(0, len(units), 3)
    ]
    receipt = world.ledger.append_batch(units + again, NOW)
    assert counting.answers == [True] and counting.updates == 0  # the child's update
    world.ledger._append_memo.settle_map()
    assert world.ledger.audit().ok  # the signed root is the replay's
    ledger = world.ledger
    with ledger.store.engines.reader.connect() as conn:
        root_row = read_buckets(conn, ledger.log, [ROOT])[ROOT]
        stored = BucketMap(lambda ps: read_buckets(conn, ledger.log, ps), decode(root_row))
        for i in range(len(units)):
            head = stored.lookup(unit_key(GTIN, f"T-{i}"))
            last = receipt.receipts[len(units) + i // 3] if i % 3 == 0 else receipt.receipts[i]
            assert head is not None and (head.index, head.entry_hash) == (
                last.index,
                last.leaf_hash,
            )


def test_small_batches_and_actor_events_stay_in_the_append(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    world.ledger.append_batch(_units(world, "S", mapworker.EARLY_FROM - 1), NOW)
    assert counting.answers == [] and counting.updates == 1
    assert world.ledger._append_memo._map_worker is None  # never started
    # one large batch starts no child either (a command-line import of one batch)
    world.ledger.append_batch(_units(world, "T"), NOW)
    assert counting.answers == [] and counting.updates == 2
    assert world.ledger._append_memo._map_worker is None
    assert (
        map_heads.unit_entries(
            [
                (
                    b"h",
                    world.world.sign(
                        "actor.revoke", "operator", subject="ship-co", reason="compromised"
                    ).event,
                    b"l",
                )
            ],
            0,
            (),
        )
        is None
    )


def test_a_wrong_prediction_is_not_taken(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    predict = map_heads.unit_entries

    def off_by_one(events: Any, size: int, skip: Any) -> Any:
        return predict(events, size + 1, skip)

    monkeypatch.setattr(headmap, "unit_entries", off_by_one)
    _started(world.ledger)
    _same_as_without_child(world, [_units(world, "W")], monkeypatch)
    # the append's own entries are not the predicted ones: the child's answer is not
    # waited for, nor taken; the parent updated the map
    assert counting.answers == []
    assert counting.updates >= 1


def test_a_batch_with_an_entry_that_moves_no_head_is_taken(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``product.register`` in a large batch moves no head: the unit entries noted
    around it are still the predicted ones, and the child's answer is taken."""
    counting = _Counting(monkeypatch)
    _started(world.ledger)
    units = _units(world, "P")
    product = world.world.sign("product.register", "acme", gtin="09506000134369", name="Other")
    batch = [*units[:100], product, *units[100:]]
    _same_as_without_child(world, [batch], monkeypatch)
    assert counting.answers == [True]
    assert counting.updates == 2  # the recovery append's, in `_same_as_without_child`


def test_a_batch_with_events_already_in_the_log_is_predicted_and_taken(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child is asked once the log has said which of the batch's events it holds: a
    batch sent again in part is predicted right (its known events move no head) and the
    answer taken; a batch sent again whole asks the child nothing (anyone can re-post
    public entries: they must not buy a map update each)."""
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    _started(ledger)
    first = _units(world, "E1")
    ledger.append_batch(first, NOW)
    assert counting.answers == [True] and counting.updates == 0
    mixed = first[: BATCH // 2] + _units(world, "E2")
    receipt = ledger.append_batch(mixed, NOW)
    assert sum(r.duplicate for r in receipt.receipts) == BATCH // 2
    assert counting.answers == [True, True] and counting.updates == 0  # taken
    child = ledger._append_memo._map_worker
    assert child is not None
    asked = child._number
    again = ledger.append_batch(mixed, NOW)
    assert all(r.duplicate for r in again.receipts) and again.size == receipt.size
    assert counting.answers == [True, True] and counting.updates == 0  # not asked
    assert child._number == asked
    _same_as_without_child(world, [_units(world, "E3")], monkeypatch)
    assert counting.answers == [True, True, True] and counting.updates == 2  # (the rebuild)


def test_a_dead_silent_or_failing_child_leaves_the_update_to_the_append(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    worker = _started(ledger)
    ledger.append_batch(_units(world, "D1"), NOW)
    assert counting.answers == [True] and counting.updates == 0
    ledger._append_memo.settle_map()  # its rows written (killed before: test_map_deferred)
    os.kill(_child(ledger).pid, signal.SIGKILL)
    _child(ledger).wait()
    ledger.append_batch(_units(world, "D2"), NOW)  # a dead child: the parent updates
    assert counting.updates == 1
    assert ledger.audit().ok
    monkeypatch.setattr(mapworker, "RESTART_AFTER", 0.0)
    # a child whose update fails (it cannot open the database): answered, not taken
    good_url = worker._url
    worker._url = "sqlite:////nonexistent-folder/none.db"
    assert worker.started(30)
    ledger.append_batch(_units(world, "D3"), NOW)
    assert counting.answers[-1] is False and counting.updates == 2
    worker._url = good_url
    # a child that never answers: the append waits ``wait`` seconds, then updates itself
    worker._fail()  # the failing child stopped: the next one starts at once
    worker._command = _fake("never")
    assert worker.started(30)
    result = mapworker.MapWorker.result
    monkeypatch.setattr(mapworker.MapWorker, "result", lambda w, n, wait=30.0: result(w, n, 0.5))
    started = time.monotonic()
    ledger.append_batch(_units(world, "D4"), NOW)
    assert time.monotonic() - started < 20 and counting.updates == 3
    assert ledger.audit().ok


def test_a_refused_batch_leaves_no_answer_behind(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    _started(ledger)
    ledger.append_batch(_units(world, "R1"), NOW)
    bad = _units(world, "R2")
    # the same unit commissioned again (another event: a later time): the rules refuse
    again = {"gtin": GTIN, "serial": "R1-0"}
    bad.append(world.world.sign("commission", "acme", unit=again, prev=None, time=LATER))
    ledger._append_memo.settle_map()  # the first batch's rows written (after its commit)
    before = _buckets(ledger)
    with pytest.raises(LedgerError):
        ledger.append_batch(bad, NOW)
    assert _buckets(ledger) == before  # nothing of the refused batch written
    # the next batch: the refused one's answer read and dropped, this one's taken
    _same_as_without_child(world, [_units(world, "R3")], monkeypatch)
    assert counting.answers == [True, True] and counting.updates == 2  # (2: the rebuild)


def test_closing_the_ledger_stops_the_child(ledger: Ledger) -> None:
    world = LedgerWorld.base(ledger)
    _started(ledger)
    ledger.append_batch(_units(world, "C"), NOW)
    child = _child(ledger)
    ledger.close()
    assert child.poll() is not None


@pytest.mark.parametrize("kind", ["garbage", "other"])
def test_an_answer_that_is_not_this_requests_is_not_taken(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    worker = _started(ledger)
    worker._fail()
    monkeypatch.setattr(mapworker, "RESTART_AFTER", 0.0)
    worker._command = _fake(kind)
    assert worker.started(30)
    ledger.append_batch(_units(world, "G"), NOW)  # no exception: the append updated
    assert counting.answers == [False] and counting.updates == 1
    assert ledger.audit().ok


def test_a_child_of_other_code_is_not_used(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = world.ledger
    worker = _started(ledger)
    worker._fail()
    monkeypatch.setattr(mapworker, "RESTART_AFTER", 0.0)
    worker._command = _fake("never", code=b"\x00" * 32)  # code installed since we began
    assert not worker.started(30)


def test_a_forked_copy_leaves_the_childs_pipes_alone(world: LedgerWorld) -> None:
    ledger = world.ledger
    worker = _started(ledger)
    first = worker._proc
    assert first is not None
    worker._pid = -1  # as a forked copy of the process that started the child sees it
    assert worker.result(1) is None  # not this copy's answers to read
    assert worker.submit(None, []) is None  # its own child is starting
    assert worker._proc is not first  # neither stopped nor read here (only its pipes'
    # copies closed; in this test one process plays both sides, so the child may end)
    first.kill()
    first.wait(10)
