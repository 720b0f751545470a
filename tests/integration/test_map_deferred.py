"""A large batch's map rows written by the map's child after the append commits
(ledger.service.mapworker `defer`/`release`/`settle`, ledger.service.headmap), on SQLite
and PostgreSQL:

- until the rows land, the log's row says the stored map is the one of the size before
  the batch (``map_size``), and readers serve every proof at the checkpoint of that size,
  which a client verifies (a unit of the new batch is proven absent there, an older one
  whole); such a view is not cached for the log's size;
- once they land the map is the one the latest checkpoint signs, bucket for bucket the
  map the parent would have written itself;
- a write that never lands (the child killed) leaves the map behind, never wrong: the
  next append, or the next start, catches it up from the entries and checks it against
  the signed root; another writer's catch-up makes the child's late write a no-op;
- a ``map_size`` no writer sets, or a map behind with a changed bucket, is refused with
  ``map-diverged`` (or the bucket's own error), the ledger byte-for-byte unchanged.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ledger.errors import StorageError
from ledger.gs1 import UnitId
from ledger.map import commit as map_commit
from ledger.map import update as map_update
from ledger.note import Checkpoint
from ledger.rules.state import UnitRecord
from ledger.service import appendmemo, dating, exports, mapproofs, mapworker
from ledger.service.headmap import MapDivergedError
from ledger.service.ledger import Ledger
from ledger.service.mapproofs import MapBehindError, checkpoint_and_map_proof
from ledger.service.unitview import build_base
from ledger.store.writer import WriteTx
from ledger.verify import unitproof
from ledger.verify.unitview import verify_unit_view
from tests.factories import GTIN
from tests.integration.test_map_witness import cosign
from tests.integration.test_map_worker import (
    _buckets,
    _child,
    _Counting,
    _same_as_without_child,
    _started,
    _units,
)
from tests.integration.world import LedgerWorld, clock, dump
from tests.rules_factories import NOW, SERIAL


class _Held:
    """Holds back `MapWorker.release` (the child is not told to write the rows an
    append left it) until `let_go`, which releases and waits for the write, or `drop`,
    which never has them written (as a child killed, or a process stopped, between the
    commit and the write); then holds back no more."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._release = mapworker.MapWorker.release
        self._monkeypatch = monkeypatch
        self.held: list[tuple[mapworker.MapWorker, int]] = []

        def hold(worker: mapworker.MapWorker, number: int) -> None:
            self.held.append((worker, number))

        monkeypatch.setattr(mapworker.MapWorker, "release", hold)

    def stop(self) -> None:
        """Hold back nothing more (what is held stays held)."""
        self._monkeypatch.setattr(mapworker.MapWorker, "release", self._release)

    def let_go(self) -> None:
        self.stop()
        for worker, number in self.held:
            worker.release(number)
            worker.settle()
        self.held.clear()

    def drop(self) -> None:
        self.stop()
        for worker, number in self.held:
            worker.abandon(number)  # the commit stands: the map stays behind
        self.held.clear()


def _with_child(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> tuple[_Counting, _Held, Ledger]:
    """The ledger's map child started, its updates and answers counted, and its writes
    held back (`_Held`)."""
    counting = _Counting(monkeypatch)
    held = _Held(monkeypatch)
    _started(world.ledger)
    return counting, held, world.ledger


def _map_size(ledger: Ledger) -> int | None:
    return ledger.store.head(ledger.log).map_size


def _signed_root(ledger: Ledger, size: int | None = None) -> bytes | None:
    note_text = ledger.store.checkpoint(ledger.log, size).note
    body = Checkpoint.from_body(note_text[: note_text.index("\n\n") + 1])
    return map_commit.root_of(body.extensions)


def _stored_root(ledger: Ledger) -> bytes | None:
    return ledger.store.map_nodes(ledger.log, [map_update.ROOT])[map_update.ROOT].hash


def _verified(world: LedgerWorld, serial: str) -> tuple[dict[str, Any], Any]:
    """The unit's view as served, and a client's check of it (its map proof required)."""
    ledger = world.ledger
    view = dict(ledger.unit_view(GTIN, serial))
    keys = {k.key_id: k.public_key for k in ledger.state().keys.values()}
    unit = UnitId(gtin=GTIN, serial=serial)
    checked = verify_unit_view(
        view, ledger.verifier_key, keys, dict(world.world.state.actors), unit=unit
    )
    return view, checked


def _checkpoint_size(view: dict[str, Any]) -> int:
    return Checkpoint.from_body(view["checkpoint"].split("\n\n")[0] + "\n").size


def test_the_childs_rows_land_after_the_commit_and_readers_wait_at_the_maps_checkpoint(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting, held, ledger = _with_child(world, monkeypatch)
    before = ledger.head().size
    ledger.append_batch(_units(world, "H1"), NOW)
    after = ledger.head().size
    assert counting.answers == [True] and counting.updates == 0
    # committed, the rows not written: the map is the one of the size before the batch
    assert _map_size(ledger) == before
    assert _stored_root(ledger) == _signed_root(ledger, before) != _signed_root(ledger)
    checkpoint, _ = checkpoint_and_map_proof(ledger.store, ledger.log, b"\x01" * 32)
    assert checkpoint.size == before
    # a unit of the batch: its records show an entry no signed map proves yet
    new_id = UnitId(gtin=GTIN, serial="H1-0")
    with pytest.raises(MapBehindError):
        build_base(ledger.store, ledger.log, ledger.verifier_key, new_id, after)
    old_unit, checked = _verified(world, SERIAL)  # the base world's unit: whole at `before`
    assert checked.ok and checked.verdict != "invalid", checked.reasons
    assert _checkpoint_size(old_unit) == before and old_unit["entries"]
    assert ledger._views.cached_base(UnitId(gtin=GTIN, serial=SERIAL), after) is None
    proof = ledger.exports.unit_proof(GTIN, SERIAL)  # the offline proof too
    assert unitproof.verify(proof, ledger.verifier_key).size == before

    held.let_go()  # the child writes; the map is the latest checkpoint's
    assert _map_size(ledger) is None
    assert _stored_root(ledger) == _signed_root(ledger, after)
    new_unit, checked = _verified(world, "H1-0")
    assert checked.ok and _checkpoint_size(new_unit) == after and len(new_unit["entries"]) == 1
    assert new_unit["verdict"] == "genuine" == checked.verdict
    assert ledger._views.cached_base(new_id, after) is not None
    assert counting.updates == 0  # no reader caught the map up: the child wrote it
    assert ledger.audit().ok
    _same_as_without_child(world, [_units(world, "H2")], monkeypatch)


def test_a_child_killed_before_its_write_leaves_the_map_behind_until_the_next_append(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting, held, ledger = _with_child(world, monkeypatch)
    before = ledger.head().size
    ledger.append_batch(_units(world, "K1"), NOW)
    os.kill(_child(ledger).pid, signal.SIGKILL)
    _child(ledger).wait()
    held.let_go()  # the write cannot be asked: the child is gone
    assert _map_size(ledger) == before  # behind, not wrong: readers serve `before`
    _, checked = _verified(world, SERIAL)
    assert checked.ok
    assert ledger.audit().ok  # every signed root replays, the stored map included
    # the next append (a small one: the parent's own update) catches the map up first
    ledger.append_batch(_units(world, "K2", 3), NOW)
    assert counting.updates == 2  # the catch-up, then the batch
    assert _map_size(ledger) is None
    assert _stored_root(ledger) == _signed_root(ledger)
    _, checked = _verified(world, "K1-5")
    assert checked.ok and checked.verdict != "invalid"
    _same_as_without_child(world, [], monkeypatch)


def test_a_map_behind_at_start_is_caught_up(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, held, ledger = _with_child(world, monkeypatch)
    ledger.append_batch(_units(world, "S1"), NOW)
    behind = _map_size(ledger)
    assert behind is not None
    held.drop()  # never released: as a process stopped between commit and write
    url, config = ledger.store.engines.url, ledger.config
    ledger.close()
    again = Ledger.open(url, config, clock=clock)
    try:
        assert _map_size(again) is None
        assert _stored_root(again) == _signed_root(again)
        assert again.audit().ok
    finally:
        again.close()


def test_another_writers_catch_up_makes_the_childs_late_write_a_no_op(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, held, ledger = _with_child(world, monkeypatch)
    ledger.append_batch(_units(world, "T1"), NOW)
    assert _map_size(ledger) is not None
    outcomes: list[Any] = []
    answer = mapworker._answer

    def seen(fd: int, deadline: float) -> Any:
        got = answer(fd, deadline)
        outcomes.append(None if got is None else got[3])
        return got

    monkeypatch.setattr(mapworker, "_answer", seen)
    other = Ledger.open(ledger.store.engines.url, ledger.config, clock=clock)  # a 2nd worker
    try:  # its start caught the map up (the child's rows not written yet)
        assert _map_size(other) is None
        other.append_batch(_units(world, "T2", 3), NOW)
    finally:
        other.close()
    held.let_go()  # the child's compare-and-set finds the map caught up: nothing written
    assert outcomes == [mapworker.STALE]
    assert _map_size(ledger) is None
    assert _stored_root(ledger) == _signed_root(ledger)
    assert ledger.audit().ok
    # another writer met: this process's large batches write their rows themselves
    worker = ledger._append_memo._map_worker
    assert worker is not None and worker.is_crowded()
    held = _Held(monkeypatch)
    ledger.append_batch(_units(world, "T3"), NOW)
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    worker._crowded_until = 0.0  # alone again (after `CROWDED_FOR`): left to the child
    ledger.append_batch(_units(world, "T4"), NOW)
    assert _map_size(ledger) is not None
    held.let_go()
    assert outcomes[-1] == mapworker.WROTE and _map_size(ledger) is None
    _same_as_without_child(world, [_units(world, "T5")], monkeypatch)


def test_an_append_that_catches_up_another_writers_batch_marks_the_log_crowded(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, held, ledger = _with_child(world, monkeypatch)
    ledger.append_batch(_units(world, "C1"), NOW)
    held.drop()  # as another process's batch whose rows are not written yet
    worker = ledger._append_memo._map_worker
    assert worker is not None and not worker.is_crowded()
    ledger.append_batch(_units(world, "C2"), NOW)  # caught up C1, then its own inline
    assert worker.is_crowded() and _map_size(ledger) is None
    assert _stored_root(ledger) == _signed_root(ledger)
    assert ledger.audit().ok


def test_the_next_append_waits_for_the_childs_write_instead_of_catching_it_up(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`MapWorker.settle` before the write transaction: a child slow to write (held
    stopped here for 0.3 s) is waited for, so the next batch finds the map in step (no
    catch-up of its own, the log not marked crowded) and leaves its rows to the child too."""
    counting = _Counting(monkeypatch)
    held = _Held(monkeypatch)
    ledger = world.ledger
    worker = _started(ledger)
    ledger.append_batch(_units(world, "N1"), NOW)
    first = _map_size(ledger)
    assert first is not None
    child = _child(ledger)
    os.kill(child.pid, signal.SIGSTOP)  # the write is asked for and not yet done
    resume = threading.Timer(0.3, os.kill, (child.pid, signal.SIGCONT))
    resume.start()
    try:
        held.stop()
        ((_, number),) = held.held
        worker.release(number)  # asked; the child is stopped, so it is not done yet
        assert _map_size(ledger) == first
        ledger.append_batch(_units(world, "N2"), NOW)
    finally:
        resume.join()
        os.kill(child.pid, signal.SIGCONT)
    assert counting.updates == 0 and not worker.is_crowded()  # the child's rows, both
    ledger._append_memo.settle_map()
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    assert ledger.audit().ok


def test_single_appends_beside_large_batches_wait_for_the_childs_rows(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single append (the group-commit writer thread) that gets the log's lock right
    after a batch committed finds the map behind while this process's child is about
    to write it: it rolls back, waits for the write and begins again, instead of
    catching the batch up itself (which would make the child's write stale and the log
    look crowded)."""
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    worker = _started(ledger)
    stop = threading.Event()
    singles: list[int] = []

    def single_appends(thread: int) -> None:
        while not stop.is_set():
            unit = {"gtin": GTIN, "serial": f"G{thread}-{len(singles)}"}
            ledger.append(world.world.sign("commission", "acme", unit=unit, prev=None), NOW)
            singles.append(1)

    beside = [threading.Thread(target=single_appends, args=(n,)) for n in range(4)]
    for thread in beside:
        thread.start()
    try:
        for tag in ("P1", "P2", "P3", "P4", "P5", "P6"):
            ledger.append_batch(_units(world, tag), NOW)
    finally:
        stop.set()
        for thread in beside:
            thread.join()
    ledger._append_memo.settle_map()
    assert singles and counting.answers == [True] * 6
    assert not worker.is_crowded()
    assert counting.updates == len(singles)  # each single its own update: no catch-up
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    assert ledger.audit().ok


@pytest.mark.parametrize("passed_settle", [False, True])
def test_an_append_while_this_processs_rows_are_unwritten_waits_for_them(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, passed_settle: bool
) -> None:
    """A single append that comes while a batch's rows are left to the child and not yet
    released waits for the release and the write (`MapWorker.settle`); one that passed
    its settle before the batch left them (``passed_settle``: its first settle skipped)
    finds the map behind in its transaction, rolls back and waits then. Neither
    catches the map up: one update (its own), the log not crowded."""
    counting = _Counting(monkeypatch)
    held = _Held(monkeypatch)
    ledger = world.ledger
    worker = _started(ledger)
    ledger.append_batch(_units(world, "Q1"), NOW)
    assert _map_size(ledger) is not None and held.held
    if passed_settle:
        settle, skipped = appendmemo.AppendMemo.settle_map, []

        def once_skipped(memo: appendmemo.AppendMemo) -> None:
            if not skipped:
                skipped.append(1)
                return
            settle(memo)

        monkeypatch.setattr(appendmemo.AppendMemo, "settle_map", once_skipped)
    unit = {"gtin": GTIN, "serial": "Q-single"}
    single = world.world.sign("commission", "acme", unit=unit, prev=None)
    letting = threading.Timer(0.3, held.let_go)
    letting.start()
    try:
        receipt = ledger.append(single, NOW)  # waits for the release, then the write
    finally:
        letting.join()
    assert not receipt.receipts[0].duplicate
    assert counting.updates == 1 and not worker.is_crowded()
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    assert ledger.audit().ok


def test_a_batch_rolled_back_after_leaving_its_rows_has_nothing_written(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`MapWorker.abandon`: a batch whose transaction fails after it left its rows to
    the child (`MapWorker.defer`) has no write asked for, not even by the next append's
    `release`; the map stays in step, the log is not taken for crowded."""
    ledger = world.ledger
    worker = _started(ledger)
    insert, defer = WriteTx.insert_checkpoint, mapworker.MapWorker.defer
    deferred: list[int] = []

    def deferring(child: mapworker.MapWorker, number: int, size: int) -> None:
        deferred.append(size)
        defer(child, number, size)

    def failing(tx: WriteTx, *args: Any) -> None:
        raise StorageError("the database went away")

    monkeypatch.setattr(WriteTx, "insert_checkpoint", failing)
    monkeypatch.setattr(mapworker.MapWorker, "defer", deferring)
    before = dump(ledger)
    with pytest.raises(StorageError):
        ledger.append_batch(_units(world, "R1"), NOW)
    assert deferred == [ledger.head().size]  # its rows were left to the child
    assert dump(ledger) == before and _map_size(ledger) is None
    monkeypatch.setattr(WriteTx, "insert_checkpoint", insert)
    ledger.append_batch(_units(world, "R2", 3), NOW)  # a small one: nothing to release
    ledger._append_memo.settle_map()
    assert not worker.is_crowded()
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    ledger.append_batch(_units(world, "R1"), NOW)  # the batch again: its rows to the child
    assert len(deferred) == 2  # (written by now, or soon: not asserted on map_size)
    ledger._append_memo.settle_map()
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    assert not worker.is_crowded() and ledger.audit().ok


def test_an_entry_appended_between_the_chain_and_the_records_is_not_served_unproven(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`build_base` reads the unit's records after its chain: an entry of the unit that
    lands in between shows in the records (its head), not in the proven chain, so the
    base is refused (`MapBehindError`) and the view read again, whole."""
    ledger = world.ledger
    unit = UnitId(gtin=GTIN, serial=SERIAL)
    records = ledger.store.records
    raced: list[int] = []

    def racing(log: int, refs: Any) -> Any:
        if UnitRecord in refs and not raced:
            raced.append(ledger.head().size)
            world.append(world.world.on_unit("inspect", "insp", result="pass"))
        return records(log, refs)

    monkeypatch.setattr(ledger.store, "records", racing)
    size = ledger.head().size
    with pytest.raises(MapBehindError):
        build_base(ledger.store, ledger.log, ledger.verifier_key, unit, size)
    assert raced == [size]
    view, checked = _verified(world, SERIAL)  # read again: the new entry proven with it
    assert checked.ok and _checkpoint_size(view) == ledger.head().size
    assert view["entries"][-1]["index"] == raced[0]


def test_an_entry_appended_between_the_chain_and_the_checkpoint_is_in_the_offline_proof(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ExportService.unit_proof` reads the unit's chain, then the checkpoint: an entry of
    the unit that lands in between is proven by the checkpoint's map (the unit's head),
    so the chain is read again under it, and the proof served checks."""
    ledger = world.ledger
    read = exports.checkpoint_and_map_proofs
    raced: list[int] = []

    def racing(store: Any, log: int, keys: list[bytes]) -> Any:
        if not raced:
            raced.append(ledger.head().size)
            world.append(world.world.on_unit("inspect", "insp", result="pass"))
        return read(store, log, keys)

    monkeypatch.setattr(exports, "checkpoint_and_map_proofs", racing)
    proof = unitproof.verify(ledger.exports.unit_proof(GTIN, SERIAL), ledger.verifier_key)
    assert raced and proof.size == ledger.head().size
    assert proof.chain[-1].signed.event.kind == "inspect"  # the entry at raced[0]


def test_a_reader_of_a_unit_in_the_batch_waits_for_the_childs_rows(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting, held, ledger = _with_child(world, monkeypatch)
    ledger.append_batch(_units(world, "W1"), NOW)
    after = ledger.head().size
    letting = threading.Timer(0.1, held.let_go)
    letting.start()
    try:
        view, checked = _verified(world, "W1-7")  # waits, then reads the written map
    finally:
        letting.join()
    assert checked.ok and _checkpoint_size(view) == after and len(view["entries"]) == 1
    assert counting.updates == 0  # the child's rows, not a catch-up
    proof = unitproof.verify(ledger.exports.unit_proof(GTIN, "W1-7"), ledger.verifier_key)
    assert proof.size == after and len(proof.chain) == 1


def test_a_writer_catches_a_map_left_behind_up_when_a_reader_needs_it(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    held = _Held(monkeypatch)
    monkeypatch.setattr(mapproofs, "MAP_BEHIND_WAIT", 0.05)
    ledger = world.ledger
    _started(ledger)
    ledger.append_batch(_units(world, "L1"), NOW)
    held.drop()  # the child never writes (killed, say); no append follows
    after = ledger.head().size
    assert _map_size(ledger) is not None
    proof = unitproof.verify(ledger.exports.unit_proof(GTIN, "L1-3"), ledger.verifier_key)
    assert proof.size == after and counting.updates == 1  # caught up by the reader's wait
    assert _map_size(ledger) is None
    view, checked = _verified(world, "L1-3")
    assert checked.ok and _checkpoint_size(view) == after
    assert ledger.audit().ok


def test_a_witness_cosigns_the_batch_while_its_rows_are_not_written(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update proof undoes from the stored map, which is the one of the size before
    the batch: the keys the batch moved are put back as they were (absent), and the
    undone root is the old checkpoint's, as with the map in step."""
    _, held, ledger = _with_child(world, monkeypatch)
    first = cosign(ledger, None)
    ledger.append_batch(_units(world, "U1"), NOW)
    assert _map_size(ledger) == first.seen.checkpoint.size
    state = cosign(ledger, first)
    assert state.seen.checkpoint.size == ledger.head().size
    held.let_go()
    ledger.append_batch(_units(world, "U2"), NOW)
    ledger._append_memo.settle_map()
    assert cosign(ledger, state).seen.checkpoint.size == ledger.head().size


def _set_map_size(ledger: Ledger, size: int | None) -> None:
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE logs SET map_size = :size WHERE id = :log"),
            {"size": size, "log": ledger.log},
        )


def test_a_map_size_no_writer_sets_is_refused_and_nothing_is_written(
    world: LedgerWorld,
) -> None:
    ledger = world.ledger
    _set_map_size(ledger, ledger.head().size + 5)  # a map "ahead" of its log
    before = dump(ledger)
    with pytest.raises(MapDivergedError):
        ledger.append_batch(_units(world, "A1", 3), NOW)
    assert dump(ledger) == before
    _set_map_size(ledger, None)
    ledger.append_batch(_units(world, "A1", 3), NOW)
    assert ledger.audit().ok


def test_a_map_behind_with_a_changed_bucket_is_not_caught_up(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, held, ledger = _with_child(world, monkeypatch)
    ledger.append_batch(_units(world, "B1"), NOW)
    held.drop()
    assert _map_size(ledger) is not None
    # a database administrator's edit of the map behind: a bucket below the root goes
    buckets = _buckets(ledger)
    victim = max(pos for pos in buckets if pos != map_update.ROOT)
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text("DELETE FROM map_buckets WHERE log = :log AND pos = :pos"),
            {"log": ledger.log, "pos": victim},
        )
    before = dump(ledger)
    with pytest.raises(StorageError) as refused:  # map-diverged or map-bucket-corrupt
        ledger.append_batch(_units(world, "B2", 3), NOW)
    assert refused.value.code in ("map-diverged", "map-bucket-corrupt")
    assert dump(ledger) == before


def test_a_map_left_behind_on_a_quiet_log_is_caught_up_by_the_re_dating(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers of a quiet log whose map stayed behind are served the checkpoint at the
    map's size, which the housekeeping does not re-date: its round catches the map up
    once the batch's checkpoint is `MAP_LOST_AFTER` seconds old (not before: the child's
    write is due within moments)."""
    _, held, ledger = _with_child(world, monkeypatch)
    ledger.append_batch(_units(world, "Z1"), NOW)
    held.drop()
    assert _map_size(ledger) is not None
    signed = ledger.dating._clock()
    ledger.dating.redate()  # at the batch's own time: not yet
    assert _map_size(ledger) is not None
    later = signed + timedelta(seconds=dating.MAP_LOST_AFTER)
    monkeypatch.setattr(ledger.dating, "_clock", lambda: later)
    ledger.dating.redate()
    assert _map_size(ledger) is None and _stored_root(ledger) == _signed_root(ledger)
    assert ledger.audit().ok
