"""The append's prefetch read ahead (`WriteTx.reading_ahead`, session 33): on PostgreSQL
its reads go in one pipeline (one round trip) and are answered from it, giving the state
the reads one by one give; a read after the block goes to the database (it sees what the
block wrote); a failing read ahead fails the transaction, which writes nothing. On SQLite
the reads go one by one, as before."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from ledger.entry import SignedEvent
from ledger.errors import StorageError
from ledger.rules.state import ActorRecord, State, UnitRecord
from ledger.service.prefetch import load_state_for
from ledger.store import driversql, writer
from tests.factories import GTIN
from tests.integration.world import LedgerWorld


def _commission(world: LedgerWorld, serial: str) -> SignedEvent:
    unit = {"gtin": GTIN, "serial": serial}
    return world.world.sign("commission", "acme", unit=unit, prev=None)


def _state(world: LedgerWorld, items: list[SignedEvent]) -> tuple[State, int]:
    """The prefetch's state for ``items`` and how many round trips it made."""
    trips = [0]
    one, many = driversql.fetch, driversql.fetch_many

    def counted_one(*args: Any) -> Any:
        trips[0] += 1
        return one(*args)

    def counted_many(*args: Any) -> Any:
        trips[0] += 1
        return many(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(driversql, "fetch", counted_one)
        patch.setattr(driversql, "fetch_many", counted_many)
        with world.ledger.store.writer(world.ledger.log) as tx:
            tx.lock_head()
            trips[0] = 0
            state = load_state_for(tx, items)
    return state, trips[0]


def _fields(state: State) -> dict[str, Any]:
    return {
        name: getattr(state, name)
        for name in ("actors", "keys", "authorizations", "products", "units")
    }


def test_the_state_read_ahead_is_the_state_read_one_by_one(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        world.append(_commission(world, f"PA-{n}"))
    origin = world.ledger.origin
    items = [_commission(world, f"PA-{n}").for_log(origin) for n in range(7)]  # 4 stored
    ahead, trips_ahead = _state(world, items)

    @contextmanager
    def one_by_one(self: Any, plan: Any) -> Any:
        yield

    monkeypatch.setattr(writer.WriteTx, "reading_ahead", one_by_one)
    alone, trips_alone = _state(world, items)
    assert len(ahead.units) == 4
    assert _fields(ahead) == _fields(alone)
    assert ahead.actors and ahead.keys and ahead.products
    if world.ledger.store.engines.url.startswith("postgresql"):
        assert trips_alone >= 6
        assert trips_ahead == 2  # the pipeline, then the actors (they wait for the units)
    else:
        assert trips_ahead == trips_alone  # SQLite: as before


class _Undo(Exception):  # noqa: N818 - rolls the test's transaction back
    pass


def test_a_read_after_the_block_goes_to_the_database(world: LedgerWorld) -> None:
    with pytest.raises(_Undo), world.ledger.store.writer(world.ledger.log) as tx:
        tx.lock_head()
        mark = "?" if tx._is_sqlite else "%s"
        with tx.reading_ahead(lambda: tx.load_where(ActorRecord, role="operator")):
            (before,) = tx.load_where(ActorRecord, role="operator")
            tx.fetch(
                f"UPDATE actors SET name = {mark} WHERE log = {mark} AND id = {mark}",
                ("Renamed", tx.log, before.id),
            )
        (after,) = tx.load_where(ActorRecord, role="operator")
        assert isinstance(before, ActorRecord) and isinstance(after, ActorRecord)
        assert before.name != "Renamed" and after.name == "Renamed"
        raise _Undo


def test_a_failing_read_ahead_fails_the_transaction_and_writes_nothing(
    world: LedgerWorld,
) -> None:
    ledger = world.ledger
    size = ledger.head().size
    mark = "%s"

    def bad_plan(tx: Any) -> None:
        tx.fetch(f"SELECT no_such_column FROM logs WHERE id = {mark}", (tx.log,))

    if ledger.store.engines.url.startswith("sqlite"):
        pytest.skip("SQLite reads nothing ahead: its plan is never run")
    with pytest.raises(StorageError):
        with ledger.store.writer(ledger.log) as tx:
            tx.lock_head()
            tx.set_head(size + 5, b"\0" * 32, b"\0" * 32)
            with tx.reading_ahead(lambda: bad_plan(tx)):
                pass
    assert ledger.head().size == size
    assert world.append(_commission(world, "PA-after")).receipts[0].index == size


def test_stored_units_read_ahead_are_updated_not_inserted_again(world: LedgerWorld) -> None:
    """A group moving units already stored (read ahead, found): their rows are updated.
    While the plan runs its reads answer nothing; were that taken for "absent", the
    units would be inserted again (PostgreSQL's COPY of new units) and the group fail."""
    serials = [f"PM-{n}" for n in range(3)]
    for serial in serials:
        world.append(_commission(world, serial))
    moves = [world.world.on_unit("handoff", "acme", s, to="ship-co") for s in serials]
    outcome = world.ledger.appender.append_each(moves)
    assert all(not isinstance(o, Exception) for o in outcome.outcomes)
    with world.ledger.store.writer(world.ledger.log) as tx:
        stored = tx.load_records({UnitRecord: [(GTIN, s) for s in serials]})
    assert sorted(u.pending for u in stored if isinstance(u, UnitRecord)) == ["ship-co"] * 3
    assert world.ledger.audit().ok


def test_a_read_after_a_write_in_the_block_sees_the_write(world: LedgerWorld) -> None:
    """review33: rows read ahead answer a read only while the block has written nothing.
    A write in the block (a statement through `fetch`, or one of the transaction's own
    writers: `upsert` here) drops them: the same read asked after it goes to the
    database and sees the write (it was answered the stale rows read before it)."""
    with pytest.raises(_Undo), world.ledger.store.writer(world.ledger.log) as tx:
        tx.lock_head()
        mark = "?" if tx._is_sqlite else "%s"

        def plan() -> None:
            tx.load_where(ActorRecord, role="operator")
            tx.load_where(ActorRecord, role="operator")

        with tx.reading_ahead(plan):
            (before,) = tx.load_where(ActorRecord, role="operator")
            assert isinstance(before, ActorRecord)
            tx.fetch(
                f"UPDATE actors SET name = {mark} WHERE log = {mark} AND id = {mark}",
                ("Renamed", tx.log, before.id),
            )
            (after,) = tx.load_where(ActorRecord, role="operator")
            assert isinstance(after, ActorRecord) and after.name == "Renamed"
        with tx.reading_ahead(plan):
            (before,) = tx.load_where(ActorRecord, role="operator")
            assert isinstance(before, ActorRecord)
            tx.upsert([replace(before, name="Upserted")])
            (after,) = tx.load_where(ActorRecord, role="operator")
            assert isinstance(after, ActorRecord) and after.name == "Upserted"
        raise _Undo
