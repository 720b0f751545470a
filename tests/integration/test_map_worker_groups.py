"""The map's child process for a group of single events (group commit,
`Appender.append_each`), on SQLite and PostgreSQL: a group of `GROUP_EARLY_FROM`+ new
units has its map updated by the child, predicted without the events its ``first``
left out; a group whose rules refuse one of the predicted events is not what was
predicted, and the append updates the map itself. Either way the audit's replay gives
every signed root, and each unit's stored head is its entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import inspect, text

from ledger.errors import EventFailedError, LedgerError, RuleError
from ledger.map.bucketmap import BucketMap
from ledger.map.buckets import decode
from ledger.map.trie import unit_key
from ledger.map.update import ROOT
from ledger.rules.state import State
from ledger.service.append import GroupOutcome, Receipt
from ledger.service.ledger import Ledger
from ledger.service.mapworker import GROUP_EARLY_FROM
from ledger.store.mapnodes import read_buckets
from tests.factories import GTIN
from tests.integration.test_map_worker import _Counting, _started, _units
from tests.integration.world import LedgerWorld

LATER = "2026-11-28T12:00:01Z"


def _heads_are_the_entries(ledger: Ledger, serials: Mapping[str, Receipt]) -> None:
    """The committed map maps each unit to the entry its receipt names."""
    ledger._append_memo.settle_map()  # the child's rows, written after the commit
    assert ledger.audit().ok  # the replay's map root agrees with every signed one
    with ledger.store.engines.reader.connect() as conn:
        root = read_buckets(conn, ledger.log, [ROOT])[ROOT]
        stored = BucketMap(lambda ps: read_buckets(conn, ledger.log, ps), decode(root))
        for serial, receipt in serials.items():
            head = stored.lookup(unit_key(GTIN, serial))
            assert head is not None
            assert (head.index, head.entry_hash) == (receipt.index, receipt.leaf_hash)


def _landed(outcome: GroupOutcome, tag: str, count: int) -> dict[str, Receipt]:
    return {
        f"{tag}-{i}": r
        for i, r in enumerate(outcome.outcomes[:count])
        if isinstance(r, Receipt) and not r.duplicate
    }


def test_a_group_takes_the_childs_update(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    _started(ledger)
    outcome = ledger.appender.append_each(_units(world, "G", GROUP_EARLY_FROM))
    assert all(isinstance(r, Receipt) for r in outcome.outcomes)
    assert counting.answers == [True] and counting.updates == 0  # the child's, not ours
    _heads_are_the_entries(ledger, _landed(outcome, "G", GROUP_EARLY_FROM))


def test_a_smaller_group_updates_the_map_itself(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    _started(ledger)
    outcome = ledger.appender.append_each(_units(world, "s", GROUP_EARLY_FROM - 1))
    assert counting.answers == [] and counting.updates == 1
    _heads_are_the_entries(ledger, _landed(outcome, "s", GROUP_EARLY_FROM - 1))


def test_a_group_whose_rules_refuse_one_is_updated_by_the_append(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = world.ledger
    _started(ledger)
    ledger.appender.append_each(_units(world, "F", 1))
    counting = _Counting(monkeypatch)
    group = _units(world, "R", GROUP_EARLY_FROM + 2)
    # a unit commissioned again (another event: a later time): its rules refuse it alone
    group[5] = world.world.sign(
        "commission", "acme", unit={"gtin": GTIN, "serial": "F-0"}, prev=None, time=LATER
    )
    outcome = ledger.appender.append_each(group)
    assert isinstance(outcome.outcomes[5], RuleError)
    assert sum(isinstance(r, Receipt) for r in outcome.outcomes) == len(group) - 1
    # the child was asked for all of them: its answer is not the log's, and is neither
    # waited for nor taken (the append's own entries say so first)
    assert counting.answers == [] and counting.updates == 1
    landed = _landed(outcome, "R", len(group))
    assert "R-5" not in landed
    _heads_are_the_entries(ledger, landed)
    # the answer left in the pipe is read before the next request: the next group
    # takes the child's update
    after = ledger.appender.append_each(_units(world, "N", GROUP_EARLY_FROM))
    assert counting.answers == [True] and counting.updates == 1
    _heads_are_the_entries(ledger, {**landed, **_landed(after, "N", GROUP_EARLY_FROM)})


def test_a_group_is_predicted_without_the_events_first_left_out(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = _Counting(monkeypatch)
    ledger = world.ledger
    _started(ledger)
    group = _units(world, "Q", GROUP_EARLY_FROM + 3)

    def first(tx: Any, positions: Sequence[int]) -> dict[int, LedgerError]:
        return {3: LedgerError("left out"), 7: LedgerError("left out")}

    outcome = ledger.appender.append_each(group, first)
    assert [i for i, r in enumerate(outcome.outcomes) if not isinstance(r, Receipt)] == [3, 7]
    assert counting.answers == [True] and counting.updates == 0  # predicted right: taken
    landed = _landed(outcome, "Q", len(group))
    assert len(landed) == len(group) - 2
    _heads_are_the_entries(ledger, landed)


def test_a_group_written_again_without_a_failing_event_keeps_a_true_map(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error in one event's state change rolls the group back, and it is
    written again without it (`_Redo`): the map is still the log's, then and after."""
    ledger = world.ledger
    _started(ledger)
    group = _units(world, "X", GROUP_EARLY_FROM + 4)
    bad = group[6].event.unit.serial  # type: ignore[attr-defined]
    apply = State.apply

    def flaky(self: State, records: Any) -> Any:
        if any(getattr(r, "serial", None) == bad for r in records):
            raise RuntimeError("a bug in one event's state change")
        return apply(self, records)

    monkeypatch.setattr(State, "apply", flaky)
    outcome = ledger.appender.append_each(group)
    assert isinstance(outcome.outcomes[6], EventFailedError)
    landed = _landed(outcome, "X", len(group))
    assert len(landed) == len(group) - 1
    _heads_are_the_entries(ledger, landed)
    more = ledger.appender.append_each(_units(world, "Y", GROUP_EARLY_FROM))
    _heads_are_the_entries(ledger, {**landed, **_landed(more, "Y", GROUP_EARLY_FROM)})


def test_a_group_holding_an_event_twice_takes_the_childs_update(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = world.ledger
    _started(ledger)
    units = _units(world, "D", GROUP_EARLY_FROM)
    counting = _Counting(monkeypatch)
    outcome = ledger.appender.append_each([*units, units[3], units[0]])
    assert [r.duplicate for r in outcome.outcomes[-2:]] == [True, True]  # type: ignore[union-attr]
    assert counting.answers == [True] and counting.updates == 0
    _heads_are_the_entries(ledger, _landed(outcome, "D", GROUP_EARLY_FROM))


def test_a_group_the_rules_refuse_whole_writes_nothing_even_with_the_map_behind(
    world: LedgerWorld,
) -> None:
    """A group's keeper is opened before its entries land only where it would write
    nothing itself: with the stored map flagged behind (a child's write lost), a group
    whose every event the rules refuse leaves every table as it was."""
    ledger = world.ledger
    _started(ledger)
    ledger.appender.append_each(_units(world, "K", GROUP_EARLY_FROM))
    ledger._append_memo.settle_map()
    size = ledger.store.head(ledger.log).size  # type: ignore[union-attr]
    with ledger.store.engines.writer.begin() as conn:
        conn.execute(
            text("UPDATE logs SET map_size = :s WHERE id = :log"), {"s": size, "log": ledger.log}
        )
    again = [
        world.world.sign(
            "commission", "acme", unit={"gtin": GTIN, "serial": f"K-{i}"}, prev=None, time=LATER
        )
        for i in range(GROUP_EARLY_FROM)
    ]
    before = _tables(ledger)
    outcome = ledger.appender.append_each(again)
    assert all(isinstance(r, RuleError) for r in outcome.outcomes)
    assert _tables(ledger) == before


def _tables(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the log's database, sorted."""
    with ledger.store.engines.reader.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        return {
            name: sorted(
                tuple(map(repr, row)) for row in conn.execute(text(f'SELECT * FROM "{name}"'))
            )
            for name in names
        }
